package admission

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

func TestDecodeConfig(t *testing.T) {
	yes := true
	full, err := os.ReadFile(filepath.Join("testdata", "policy", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    Config
		wantErr string
	}{
		{name: "full", in: string(full), want: Config{
			RegistryHosts:     []string{"registry.example.com", "127.0.0.1:5000"},
			AllowedRegistries: []string{"registry.example.com", "127.0.0.1:5000", "docker.io/library"},
			Mirrors:           map[string]string{"docker.io": "dockerhub"},
			Severity:          "HIGH", FixableOnly: true, RequireScan: &yes, FailurePolicy: "closed",
			Timeout: 5 * time.Second, ExpiryWarning: 168 * time.Hour,
			Exemptions: Exemptions{
				Namespaces: NamespaceExemptions{Names: []string{"kube-system"}, MatchLabels: map[string]string{"stowaway.io/admission": "exempt"}},
				Images: []ImageExemption{{Digest: "sha256:7ebec6360aaf49c80d90ab7543f4686ddeaf0f8732e98a8777f3dbff08ecaa6d",
					Expires: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), Reason: "JIRA-123, patched build due"}},
			},
			NamespaceLabels: NamespaceLookup{Lookup: true, APIServer: "https://kubernetes.default.svc", CacheTTL: 30 * time.Second},
		}},
		{name: "defaults", in: "allowedRegistries: [Registry.Example.com/team/]\nseverity: critical\n", want: Config{
			AllowedRegistries: []string{"registry.example.com/team"}, Mirrors: map[string]string{},
			Severity: "CRITICAL", RequireScan: &yes, FailurePolicy: "closed", Timeout: 5 * time.Second, ExpiryWarning: 168 * time.Hour,
			NamespaceLabels: NamespaceLookup{CacheTTL: 30 * time.Second},
		}},
		{name: "date-only expiry", in: "allowedRegistries: [r.io]\nexemptions:\n  images:\n  - digest: sha256:" + strings.Repeat("a", 64) + "\n    expires: 2027-01-31\n", want: Config{
			AllowedRegistries: []string{"r.io"}, Mirrors: map[string]string{},
			Severity: "HIGH", RequireScan: &yes, FailurePolicy: "closed", Timeout: 5 * time.Second, ExpiryWarning: 168 * time.Hour,
			Exemptions:      Exemptions{Images: []ImageExemption{{Digest: "sha256:" + strings.Repeat("a", 64), Expires: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)}}},
			NamespaceLabels: NamespaceLookup{CacheTTL: 30 * time.Second},
		}},
		{name: "unknown field", in: "allowedRegistries: [r.io]\nseverty: HIGH\n", wantErr: "field severty not found"},
		{name: "empty", in: "", wantErr: "empty document"},
		{name: "two documents", in: "allowedRegistries: [r.io]\n---\nallowedRegistries: [s.io]\n", wantErr: "more than one YAML document"},
		{name: "no registries", in: "severity: HIGH\n", wantErr: "allowedRegistries is empty"},
		{name: "bad severity", in: "allowedRegistries: [r.io]\nseverity: UNDEFINED\n", wantErr: `severity "UNDEFINED": want one of INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL`},
		{name: "bad failure policy", in: "allowedRegistries: [r.io]\nfailurePolicy: Ignore\n", wantErr: `failurePolicy "Ignore": want closed or open`},
		{name: "bad registry", in: "allowedRegistries: [\"r.io:port/x\"]\n", wantErr: `allowedRegistries[0] "r.io:port/x": bad port "port"`},
		{name: "bad path", in: "allowedRegistries: [\"r.io/a//b\"]\n", wantErr: "bad path prefix"},
		{name: "bad registry host", in: "allowedRegistries: [r.io]\nregistryHosts: [\"https://r.io\"]\n", wantErr: `registryHosts[0] "https://r.io"`},
		{name: "bad mirror prefix", in: "allowedRegistries: [r.io]\nmirrors: {docker.io: \"Hub\"}\n", wantErr: `mirrors["docker.io"]: bad repository prefix "Hub"`},
		{name: "bad digest", in: "allowedRegistries: [r.io]\nexemptions: {images: [{digest: sha256:abc, expires: 2027-01-01}]}\n", wantErr: `exemptions.images[0]: digest "sha256:abc": want sha256:<64 hex digits>`},
		{name: "no expiry", in: "allowedRegistries: [r.io]\nexemptions: {images: [{digest: sha256:" + strings.Repeat("b", 64) + "}]}\n", wantErr: "expires is required"},
		{name: "bad duration", in: "allowedRegistries: [r.io]\ntimeout: soon\n", wantErr: "cannot unmarshal !!str `soon` into time.Duration"},
		{name: "negative duration", in: "allowedRegistries: [r.io]\ntimeout: -1s\n", wantErr: "must not be negative"},
		{name: "wrong type", in: "allowedRegistries: r.io\n", wantErr: "cannot unmarshal !!str `r.io` into []string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeConfig(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseImageRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ImageRef
	}{
		{"nginx", ImageRef{Host: "docker.io", Path: "library/nginx", Tag: "latest"}},
		{"nginx:1.25", ImageRef{Host: "docker.io", Path: "library/nginx", Tag: "1.25"}},
		{"bitnami/redis:7", ImageRef{Host: "docker.io", Path: "bitnami/redis", Tag: "7"}},
		{"index.docker.io/library/nginx:1", ImageRef{Host: "docker.io", Path: "library/nginx", Tag: "1"}},
		{"busybox@sha256:" + strings.Repeat("a", 64), ImageRef{Host: "docker.io", Path: "library/busybox", Digest: "sha256:" + strings.Repeat("a", 64)}},
		{"127.0.0.1:5000/shop/api:1.4.2", ImageRef{Host: "127.0.0.1:5000", Path: "shop/api", Tag: "1.4.2"}},
		{"localhost/app", ImageRef{Host: "localhost", Path: "app", Tag: "latest"}},
		{"Registry.Example.com/a/b:2@sha256:" + strings.Repeat("c", 64), ImageRef{Host: "registry.example.com", Path: "a/b", Tag: "2", Digest: "sha256:" + strings.Repeat("c", 64)}},
	} {
		got, err := ParseImageRef(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		tc.want.Original = tc.in
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, bad := range []string{"", "nginx:", "a@sha256:1", "no spaces/x", "-x"} {
		if _, err := ParseImageRef(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// TestContainers reads every container list of every testdata review.
func TestContainers(t *testing.T) {
	want := map[string][]Container{
		"pod.json": {
			{Field: "spec.initContainers[0]", Name: "migrate", Image: "127.0.0.1:5000/shop/migrate@" + digestOf("shop/migrate")},
			{Field: "spec.containers[0]", Name: "api", Image: "127.0.0.1:5000/shop/api:1.4.2"},
			{Field: "spec.containers[1]", Name: "proxy", Image: "nginx:1.25"},
		},
		"pod-ephemeral.json": {
			{Field: "spec.initContainers[0]", Name: "migrate", Image: "127.0.0.1:5000/shop/migrate@" + digestOf("shop/migrate")},
			{Field: "spec.containers[0]", Name: "api", Image: "127.0.0.1:5000/shop/api:1.4.2"},
			{Field: "spec.containers[1]", Name: "proxy", Image: "nginx:1.25"},
			{Field: "spec.ephemeralContainers[0]", Name: "debugger-x7k2q", Image: "127.0.0.1:5000/tools/debug"},
		},
		"deployment.json": {
			{Field: "spec.template.spec.initContainers[0]", Name: "wait-for-db", Image: "busybox@" + digestOf("dockerhub/library/busybox")},
			{Field: "spec.template.spec.containers[0]", Name: "web", Image: "127.0.0.1:5000/shop/web"},
			{Field: "spec.template.spec.containers[1]", Name: "cache", Image: "docker.io/library/redis:7.2"},
		},
		"statefulset.json": {
			{Field: "spec.template.spec.containers[0]", Name: "worker", Image: "127.0.0.1:5000/shop/worker:2.0@" + digestOf("shop/worker")},
		},
		"daemonset.json": {
			{Field: "spec.template.spec.initContainers[0]", Name: "config", Image: "127.0.0.1:5000/shop/api:1.4.2"},
			{Field: "spec.template.spec.containers[0]", Name: "nginx", Image: "nginx:1.25"},
		},
		"job.json": {
			{Field: "spec.template.spec.initContainers[0]", Name: "wait-for-db", Image: "busybox@" + digestOf("dockerhub/library/busybox")},
			{Field: "spec.template.spec.containers[0]", Name: "migrate", Image: "127.0.0.1:5000/shop/migrate@" + digestOf("shop/migrate")},
		},
		"cronjob.json": {
			{Field: "spec.jobTemplate.spec.template.spec.containers[0]", Name: "report", Image: "127.0.0.1:5000/shop/report:3"},
		},
	}
	for doc, w := range want {
		b, err := os.ReadFile(filepath.Join("testdata", "reviews", doc))
		if err != nil {
			t.Fatal(err)
		}
		rv, err := DecodeReview(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		got, known, err := Containers(rv.Request.Kind, rv.Request.Object)
		if err != nil || !known {
			t.Fatalf("%s: known=%v err=%v", doc, known, err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", doc, diff)
		}
	}
}

func TestCountFindings(t *testing.T) {
	for _, enhanced := range []bool{false, true} {
		im := poolImage{Repo: "r", Digest: digestOf("r"), Enhanced: enhanced}
		for _, tc := range []struct {
			fs        []string // ids, from the finding sets
			threshold severity.Severity
			fixable   bool
			count     int
			top       string
		}{
			{nil, "HIGH", false, 3, "CVE-2024-45491 CRITICAL in libexpat1 2.5.0-1"},
			{nil, "CRITICAL", true, 2, "CVE-2024-45491 CRITICAL in libexpat1 2.5.0-1"},
			{nil, "INFORMATIONAL", false, 4, "CVE-2024-45491 CRITICAL in libexpat1 2.5.0-1"},
		} {
			res := resultJSON(t, im, severeFindings)
			got, err := countFindings(res, tc.threshold, tc.fixable)
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != tc.count || got.Top == nil || got.Top.String() != tc.top {
				t.Errorf("enhanced=%v %s fixable=%v: got %d %v, want %d %s", enhanced, tc.threshold, tc.fixable, got.Count, got.Top, tc.count, tc.top)
			}
		}
		// Equal severity and score: the lower id wins.
		tie := append(mkFindingsTie(), severeFindings[3])
		got, err := countFindings(resultJSON(t, im, tie), "HIGH", false)
		if err != nil || got.Count != 2 || got.Top.ID != "CVE-2024-0002" {
			t.Errorf("enhanced=%v tie: %+v %v", enhanced, got, err)
		}
		got, err = countFindings(resultJSON(t, im, unfixedCritical), "HIGH", true)
		if err != nil || got.Count != 1 || got.Top.ID != "CVE-2024-2511" {
			t.Errorf("enhanced=%v fixable only: %+v %v", enhanced, got, err)
		}
	}
	if _, err := countFindings([]byte(`{"enhancedFindings":[1]}`), "HIGH", false); err == nil {
		t.Error("a corrupt enhanced finding was accepted")
	}
	// UNDEFINED never counts.
	raw, _ := json.Marshal(map[string]any{"status": "COMPLETE", "findings": []map[string]any{{"name": "CVE-1", "severity": "UNDEFINED"}}})
	if got, err := countFindings(raw, "INFORMATIONAL", false); err != nil || got.Count != 0 {
		t.Errorf("UNDEFINED: %+v %v", got, err)
	}
}

func mkFindingsTie() []match.Finding {
	return []match.Finding{
		mkFinding("CVE-2024-0009", libssl, "HIGH", 7.5, "3.0.14-1~deb12u1"),
		mkFinding("CVE-2024-0002", zlib, "HIGH", 7.5, ""),
	}
}
