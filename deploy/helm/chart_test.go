// Package helm_test checks the Helm chart in ./stowaway against the binary
// it deploys: `helm template` with the default values and with
// ci/all-options-values.yaml, then every flag the chart renders for serve
// and db must exist in `stowaway serve --help` (`db update`, `db pull`)
// with a value exactly when it takes one, every file a flag names must be
// on a mounted volume, and the webhook configuration must point at the
// admission Service and path. It needs helm ($STOWAWAY_HELM, else helm on
// PATH; .ci/run installs it) and skips without it.
package helm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/stowaway-scanner/stowaway/internal/cli"
	"github.com/stowaway-scanner/stowaway/internal/server/admission"
)

func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("STOWAWAY_HELM"); h != "" {
		return h
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		t.Skip("helm is not installed (set $STOWAWAY_HELM or put helm on PATH; .ci/run installs helm.sh/helm/v4/cmd/helm)")
	}
	return h
}

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), errors.New(strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// flagSet is a command's flags: name -> takes a value.
type flagSet map[string]bool

var flagLine = regexp.MustCompile(`^  -(\S+)(?: (\S+))?`)

// helpFlags reads the flags of `stowaway CMD... --help`.
func helpFlags(t *testing.T, cmd ...string) flagSet {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := cli.Main(context.Background(), append(cmd, "--help"), &stdout, &stderr); code != 0 {
		t.Fatalf("stowaway %s --help: exit %d\n%s", strings.Join(cmd, " "), code, stderr.String())
	}
	fs := flagSet{}
	for _, l := range strings.Split(stderr.String()+stdout.String(), "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			fs[m[1]] = m[2] != ""
		}
	}
	if len(fs) == 0 {
		t.Fatalf("stowaway %s --help listed no flags:\n%s", strings.Join(cmd, " "), stderr.String())
	}
	return fs
}

// Kubernetes objects, as far as the checks read them.
type (
	object struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Template struct {
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
			Ports []struct {
				Name string `yaml:"name"`
				Port int    `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"spec"`
		Webhooks []struct {
			ClientConfig struct {
				Service struct {
					Name string `yaml:"name"`
					Path string `yaml:"path"`
					Port int    `yaml:"port"`
				} `yaml:"service"`
				CABundle string `yaml:"caBundle"`
			} `yaml:"clientConfig"`
			FailurePolicy string `yaml:"failurePolicy"`
		} `yaml:"webhooks"`
	}
	podSpec struct {
		InitContainers []container `yaml:"initContainers"`
		Containers     []container `yaml:"containers"`
		Volumes        []struct {
			Name string `yaml:"name"`
		} `yaml:"volumes"`
	}
	container struct {
		Name string   `yaml:"name"`
		Args []string `yaml:"args"`
		Env  []struct {
			Name string `yaml:"name"`
		} `yaml:"env"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
		LivenessProbe  probe `yaml:"livenessProbe"`
		ReadinessProbe probe `yaml:"readinessProbe"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
		} `yaml:"httpGet"`
	}
)

func decode(t *testing.T, manifest string) []object {
	t.Helper()
	var objs []object
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("rendered manifest: %v", err)
		}
		if o.Kind != "" {
			objs = append(objs, o)
		}
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Z0-9_]+)\)`)

// checkContainer checks c's stowaway command line against the binary's
// flags; extra are args the values file passes verbatim (serve.extraArgs),
// exempt from the duplicate check.
func checkContainer(t *testing.T, c container, volumes []string, flags map[string]flagSet, extra []string) {
	t.Helper()
	var cmd []string
	args := c.Args
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") && len(cmd) < 2 {
		cmd = append(cmd, args[0])
		args = args[1:]
		if cmd[0] == "serve" {
			break
		}
	}
	key := strings.Join(cmd, " ")
	fs, ok := flags[key]
	if !ok {
		t.Errorf("container %s runs stowaway %q, which the test does not know", c.Name, key)
		return
	}
	envs := map[string]bool{}
	for _, e := range c.Env {
		envs[e.Name] = true
	}
	seen := map[string]bool{}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			if key == "db pull" && a != "" {
				continue // the DB reference
			}
			t.Errorf("%s: stray argument %q", c.Name, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takes, ok := fs[name]
		switch {
		case !ok:
			t.Errorf("%s: stowaway %s has no flag %q (rendered %q)", c.Name, key, name, a)
			continue
		case takes && !hasVal:
			t.Errorf("%s: %q needs =VALUE", c.Name, a)
		case !takes && hasVal:
			t.Errorf("%s: %q is a boolean flag, rendered with a value", c.Name, a)
		case takes && val == "":
			t.Errorf("%s: %q is empty", c.Name, a)
		}
		if seen[name] && !slices.Contains(extra, a) {
			t.Errorf("%s: --%s given twice", c.Name, name)
		}
		seen[name] = true
		for _, m := range envRef.FindAllStringSubmatch(val, -1) {
			if !envs[m[1]] {
				t.Errorf("%s: %q uses $(%s), which is not in the container's env", c.Name, a, m[1])
			}
		}
		// A file or directory a flag names lies on a volume the container
		// mounts (the image's root is read-only and holds none of them).
		if strings.HasPrefix(val, "/") {
			mounted := false
			for _, m := range c.VolumeMounts {
				if val == m.MountPath || strings.HasPrefix(val, strings.TrimSuffix(m.MountPath, "/")+"/") {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("%s: %q names a path on no mounted volume", c.Name, a)
			}
		}
	}
	for _, m := range c.VolumeMounts {
		if !slices.Contains(volumes, m.Name) {
			t.Errorf("%s: mounts volume %q, which the pod does not define", c.Name, m.Name)
		}
	}
}

func TestChartFlags(t *testing.T) {
	helmBin(t)
	flags := map[string]flagSet{
		"serve":     helpFlags(t, "serve"),
		"db update": helpFlags(t, "db", "update"),
		"db pull":   helpFlags(t, "db", "pull"),
	}
	for _, tc := range []struct {
		name       string
		args       []string
		extra      []string
		containers []string
		admission  bool
		// want: serve arguments that must be rendered; unwanted: flag
		// names that must not be.
		want, unwanted []string
	}{
		{name: "default values", containers: []string{"vulndb", "stowaway"}, unwanted: []string{"job-lease", "storage", "storage-config"}},
		{
			name: "every option", args: []string{"-f", "stowaway/ci/all-options-values.yaml"},
			extra: []string{"--auth-config-poll=10s"}, containers: []string{"vulndb", "stowaway"}, admission: true,
			want: []string{"--job-lease=5m", "--storage=s3://stowaway-blobs?region=eu-west-1&forcepathstyle=true"}, unwanted: []string{"storage-config"},
		},
		{
			// --storage-config from a Secret instead of storage.s3.
			name: "storage config", args: []string{"-f", "stowaway/ci/all-options-values.yaml", "--set", "storage.s3=", "--set", "storage.configSecret=stowaway-storage", "--set", "storage.configKey=s3.yaml"},
			extra: []string{"--auth-config-poll=10s"}, containers: []string{"vulndb", "stowaway"}, admission: true,
			want: []string{"--job-lease=5m", "--storage-config=/etc/stowaway/storage/s3.yaml"}, unwanted: []string{"storage"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := helm(t, append([]string{"lint", "--strict", "stowaway"}, tc.args...)...); err != nil {
				t.Fatalf("helm lint: %v", err)
			}
			out, err := helm(t, append([]string{"template", "rel", "stowaway", "--namespace", "stowaway"}, tc.args...)...)
			if err != nil {
				t.Fatalf("helm template: %v", err)
			}
			objs := decode(t, out)
			var dep *object
			services := map[string]int{}
			for i, o := range objs {
				switch o.Kind {
				case "Deployment":
					dep = &objs[i]
				case "Service":
					for _, p := range o.Spec.Ports {
						services[o.Metadata.Name+"/"+p.Name] = p.Port
					}
				}
			}
			if dep == nil {
				t.Fatal("no Deployment rendered")
			}
			pod := dep.Spec.Template.Spec
			var volumes, names []string
			for _, v := range pod.Volumes {
				volumes = append(volumes, v.Name)
			}
			for _, c := range append(pod.InitContainers, pod.Containers...) {
				names = append(names, c.Name)
				checkContainer(t, c, volumes, flags, tc.extra)
			}
			if diff := cmp.Diff(tc.containers, names); diff != "" {
				t.Errorf("containers (-want +got):\n%s", diff)
			}
			main := pod.Containers[0]
			rendered := map[string]bool{}
			for _, a := range main.Args {
				rendered[a] = true
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if slices.Contains(tc.unwanted, name) {
					t.Errorf("serve is given %q", a)
				}
			}
			for _, a := range tc.want {
				if !rendered[a] {
					t.Errorf("serve is not given %q; its arguments: %q", a, main.Args)
				}
			}
			if main.LivenessProbe.HTTPGet.Path != "/healthz" || main.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("probes %q and %q, want /healthz and /readyz (internal/server/routes.go)", main.LivenessProbe.HTTPGet.Path, main.ReadinessProbe.HTTPGet.Path)
			}
			var hooks int
			for _, o := range objs {
				if o.Kind != "ValidatingWebhookConfiguration" {
					continue
				}
				for _, w := range o.Webhooks {
					hooks++
					s := w.ClientConfig.Service
					if s.Path != admission.Path {
						t.Errorf("webhook path %q, want %q", s.Path, admission.Path)
					}
					if got, ok := services[s.Name+"/admission"]; !ok || got != s.Port {
						t.Errorf("webhook calls service %s port %d; the rendered Services are %v", s.Name, s.Port, services)
					}
					if w.ClientConfig.CABundle != "Q0FfQlVORExFCg==" || w.FailurePolicy != "Fail" {
						t.Errorf("webhook caBundle %q, failurePolicy %q: not the values'", w.ClientConfig.CABundle, w.FailurePolicy)
					}
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tc.admission]; hooks != want {
				t.Errorf("%d webhooks rendered, want %d", hooks, want)
			}
		})
	}
}

// TestChartRefusals: combinations that cannot work fail at render time,
// naming the value to change.
func TestChartRefusals(t *testing.T) {
	helmBin(t)
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"replicaCount=2"}, "replicaCount > 1 needs postgresql.existingSecret or postgresql.dsn"},
		{[]string{"replicaCount=2", "postgresql.existingSecret=pg"}, "replicaCount > 1 needs storage.s3, or persistence.accessModes [ReadWriteMany]"},
		{[]string{"replicaCount=2", "postgresql.existingSecret=pg", "storage.s3=s3://b"}, "replicaCount > 1 needs vulndb.volume=emptyDir"},
		{[]string{"postgresql.existingSecret=pg", "postgresql.dsn=postgres://x"}, "postgresql: set existingSecret or dsn, not both"},
		{[]string{"vulndb.init=pull"}, "vulndb.init=pull needs vulndb.pullRef"},
		{[]string{"vulndb.init=download"}, `vulndb.init "download"`},
		{[]string{"vulndb.volume=hostPath"}, `vulndb.volume "hostPath"`},
		{[]string{"admission.enabled=true"}, "admission.enabled needs admission.tlsSecret"},
		{[]string{"admission.enabled=true", "admission.tlsSecret=t"}, "admission.enabled needs admission.clientCASecret"},
		{[]string{"admission.enabled=true", "admission.tlsSecret=t", "admission.insecure=true", "admission.failurePolicy=Open"}, `admission.failurePolicy "Open"`},
		{[]string{"auth.existingSecret=a", "auth.quickStartSecret=q"}, "auth: set existingSecret"},
		{[]string{"storage.s3=s3://b", "storage.configSecret=s"}, "storage: set s3 (--storage) or configSecret (--storage-config), not both"},
		{[]string{"storage.configSecret=s", "storage.configKey="}, "storage.configSecret needs storage.configKey"},
		{[]string{"replicaCount=2", "postgresql.existingSecret=pg", "storage.configSecret=s", "persistence.enabled=false"}, "replicaCount > 1 needs vulndb.volume=emptyDir"},
	} {
		args := []string{"template", "rel", "stowaway"}
		for _, s := range tc.set {
			args = append(args, "--set", s)
		}
		_, err := helm(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("helm template --set %v: %v, want an error containing %q", tc.set, err, tc.want)
		}
	}
}
