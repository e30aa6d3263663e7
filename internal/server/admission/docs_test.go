package admission

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestExampleWebhookConfiguration keeps docs/examples/validating-webhook.yaml
// true: it sends every kind Containers judges (and the ephemeral containers
// subresource) to Path, fails closed like the default policy, and waits
// longer than the policy's default timeout.
func TestExampleWebhookConfiguration(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "..", "docs", "examples", "validating-webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type rule struct {
		APIGroups   []string `yaml:"apiGroups"`
		APIVersions []string `yaml:"apiVersions"`
		Operations  []string `yaml:"operations"`
		Resources   []string `yaml:"resources"`
	}
	var found bool
	dec := yaml.NewDecoder(f)
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Webhooks []struct {
				AdmissionReviewVersions []string `yaml:"admissionReviewVersions"`
				FailurePolicy           string   `yaml:"failurePolicy"`
				TimeoutSeconds          int      `yaml:"timeoutSeconds"`
				ClientConfig            struct {
					Service struct {
						Path string `yaml:"path"`
						Port int    `yaml:"port"`
					} `yaml:"service"`
				} `yaml:"clientConfig"`
				Rules []rule `yaml:"rules"`
			} `yaml:"webhooks"`
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc.Kind != "ValidatingWebhookConfiguration" {
			continue
		}
		found = true
		for _, w := range doc.Webhooks {
			if !slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
				t.Errorf("admissionReviewVersions %v, want [v1]", w.AdmissionReviewVersions)
			}
			var def Config
			def.AllowedRegistries = []string{"r.io"}
			if err := def.Validate(); err != nil {
				t.Fatal(err)
			}
			if w.FailurePolicy != "Fail" || def.FailurePolicy != FailClosed {
				t.Errorf("failurePolicy %s does not match the default policy's %s", w.FailurePolicy, def.FailurePolicy)
			}
			if time.Duration(w.TimeoutSeconds)*time.Second <= def.Timeout {
				t.Errorf("timeoutSeconds %d is not above the policy's default timeout %v", w.TimeoutSeconds, def.Timeout)
			}
			if w.ClientConfig.Service.Path != Path || w.ClientConfig.Service.Port != 8443 {
				t.Errorf("service path %q port %d, want %s 8443", w.ClientConfig.Service.Path, w.ClientConfig.Service.Port, Path)
			}
			covered := map[string]bool{}
			for _, r := range w.Rules {
				if !slices.Contains(r.Operations, "CREATE") || !slices.Contains(r.Operations, "UPDATE") {
					t.Errorf("rule %v does not cover CREATE and UPDATE", r)
				}
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						covered[g+"/"+res] = true
					}
				}
			}
			for _, want := range []struct{ group, kind, resource string }{
				{"", "Pod", "pods"}, {"", "Pod", "pods/ephemeralcontainers"}, {"", "ReplicationController", "replicationcontrollers"}, {"", "PodTemplate", "podtemplates"},
				{"apps", "Deployment", "deployments"}, {"apps", "StatefulSet", "statefulsets"}, {"apps", "DaemonSet", "daemonsets"}, {"apps", "ReplicaSet", "replicasets"},
				{"batch", "Job", "jobs"}, {"batch", "CronJob", "cronjobs"},
			} {
				if _, known, _ := Containers(GroupVersionKind{Group: want.group, Version: "v1", Kind: want.kind}, []byte(`{}`)); !known {
					t.Errorf("%s/%s is not judged", want.group, want.kind)
				}
				if !covered[want.group+"/"+want.resource] {
					t.Errorf("the example does not send %s/%s", want.group, want.resource)
				}
			}
		}
	}
	if !found {
		t.Fatal("no ValidatingWebhookConfiguration in the example")
	}
}
