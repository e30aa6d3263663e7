package admission

import (
	"encoding/json"
	"encoding/pem"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden admission responses")

// kindCase is one testdata review and the image of it each outcome acts on.
type kindCase struct {
	doc    string
	target string
}

var kindCases = []kindCase{
	{"pod.json", "127.0.0.1:5000/shop/api:1.4.2"},
	{"pod-ephemeral.json", "127.0.0.1:5000/tools/debug"},
	{"deployment.json", "busybox@" + digestOf("dockerhub/library/busybox")},
	{"statefulset.json", "127.0.0.1:5000/shop/worker:2.0@" + digestOf("shop/worker")},
	{"daemonset.json", "nginx:1.25"},
	{"job.json", "127.0.0.1:5000/shop/migrate@" + digestOf("shop/migrate")},
	{"cronjob.json", "127.0.0.1:5000/shop/report:3"},
}

// outcome prepares the store and the policy for one expected decision on
// the target image; every other image is scanned and clean.
type outcome struct {
	name string
	// scan sets up the target: "severe", "unfixed-critical", "unscanned".
	scan string
	// config adjusts the policy.
	config func(c *Config, target poolImage)
	// labels is the namespace's labels served by the fake API server.
	labels map[string]string
}

func baseConfig() Config {
	return Config{
		RegistryHosts:     []string{"127.0.0.1:5000"},
		Mirrors:           map[string]string{"docker.io": "dockerhub"},
		AllowedRegistries: []string{"127.0.0.1:5000", "docker.io/library"},
		Severity:          "HIGH",
	}
}

var outcomes = []outcome{
	{name: "allowed", scan: "clean"},
	{name: "denied-unscanned", scan: "unscanned"},
	{name: "denied-severity", scan: "severe"},
	{name: "denied-registry", scan: "clean", config: func(c *Config, target poolImage) {
		// Allow every image of the pool by its exact repository, except
		// the target.
		c.AllowedRegistries = nil
		for ref, im := range pool() {
			if ref == target.Ref {
				continue
			}
			r, _ := ParseImageRef(ref)
			c.AllowedRegistries = append(c.AllowedRegistries, r.Name())
			_ = im
		}
	}},
	{name: "exempt-digest", scan: "severe", config: func(c *Config, target poolImage) {
		c.Exemptions.Images = []ImageExemption{{Digest: target.Digest, Expires: testNow.Add(72 * time.Hour), Reason: "JIRA-123 patched build pending"}}
	}},
	{name: "exempt-expired", scan: "severe", config: func(c *Config, target poolImage) {
		c.Exemptions.Images = []ImageExemption{{Digest: target.Digest, Expires: testNow.Add(-time.Hour), Reason: "JIRA-99"}}
	}},
	{name: "exempt-namespace-label", scan: "severe", labels: map[string]string{"stowaway.io/admission": "exempt", "kubernetes.io/metadata.name": "x"}, config: func(c *Config, target poolImage) {
		c.Exemptions.Namespaces.MatchLabels = map[string]string{"stowaway.io/admission": "exempt"}
	}},
	{name: "not-exempt-namespace-label", scan: "severe", labels: map[string]string{"stowaway.io/admission": "enforce"}, config: func(c *Config, target poolImage) {
		c.Exemptions.Namespaces.MatchLabels = map[string]string{"stowaway.io/admission": "exempt"}
	}},
	{name: "fixable-only", scan: "unfixed-critical", config: func(c *Config, target poolImage) { c.FixableOnly = true }},
	{name: "not-fixable-only", scan: "unfixed-critical"},
}

// fakeKube is a TLS Kubernetes API server serving namespaces.
type fakeKube struct {
	srv    *httptest.Server
	labels atomic.Pointer[map[string]string]
	gets   atomic.Int32
	token  string
}

func newFakeKube(t testing.TB) (*fakeKube, NamespaceLookup) {
	t.Helper()
	k := &fakeKube{token: "eyJhbGciOiJSUzI1NiJ9.test-token"}
	empty := map[string]string{}
	k.labels.Store(&empty)
	k.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+k.token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/")
		if r.Method != http.MethodGet || !ok || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		k.gets.Add(1)
		if name == "missing" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"namespaces \"missing\" not found","reason":"NotFound","code":404}`))
			return
		}
		labels := map[string]string{"kubernetes.io/metadata.name": name}
		for k, v := range *k.labels.Load() {
			labels[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"kind": "Namespace", "apiVersion": "v1",
			"metadata": map[string]any{"name": name, "uid": "9d5e3c1b-0a7f-4e2d-b6c8-1f3a5e7d9b0c", "resourceVersion": "17", "labels": labels},
			"spec":     map[string]any{"finalizers": []string{"kubernetes"}},
			"status":   map[string]any{"phase": "Active"},
		})
	}))
	t.Cleanup(k.srv.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte(k.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return k, NamespaceLookup{Lookup: true, APIServer: k.srv.URL, CAFile: ca, TokenFile: tok, CacheTTL: time.Minute}
}

// seed stores every pool image, clean, except the target which gets the
// outcome's scan.
func seed(t testing.TB, st *store.SQL, target poolImage, scan string) {
	t.Helper()
	for _, im := range pool() {
		pushImage(t, st, im)
		if im.Ref != target.Ref {
			scanImage(t, st, im, "COMPLETE", "The scan was completed successfully.", cleanFindings)
			continue
		}
		switch scan {
		case "clean":
			scanImage(t, st, im, "COMPLETE", "The scan was completed successfully.", cleanFindings)
		case "severe":
			scanImage(t, st, im, "COMPLETE", "The scan was completed successfully.", severeFindings)
		case "unfixed-critical":
			scanImage(t, st, im, "COMPLETE", "The scan was completed successfully.", unfixedCritical)
		case "unscanned":
		default:
			t.Fatalf("unknown scan %q", scan)
		}
	}
}

// TestKindsByOutcome posts each testdata review over TLS for every outcome
// and compares the whole AdmissionReview answer with its golden file
// (testdata/golden/<kind>.<outcome>.json; -update rewrites them).
func TestKindsByOutcome(t *testing.T) {
	p := newPKI(t, t.TempDir())
	kube, lookup := newFakeKube(t)
	for _, kc := range kindCases {
		doc, err := os.ReadFile(filepath.Join("testdata", "reviews", kc.doc))
		if err != nil {
			t.Fatal(err)
		}
		target, ok := pool()[kc.target]
		if !ok {
			t.Fatalf("%s: target %s not in the pool", kc.doc, kc.target)
		}
		for _, oc := range outcomes {
			t.Run(strings.TrimSuffix(kc.doc, ".json")+"/"+oc.name, func(t *testing.T) {
				st := openSQLite(t)
				seed(t, st, target, oc.scan)
				cfg := baseConfig()
				if oc.config != nil {
					oc.config(&cfg, target)
				}
				if oc.labels != nil {
					l := oc.labels
					kube.labels.Store(&l)
					cfg.NamespaceLabels = lookup
				}
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				pol, err := New(cfg, Options{Store: st, Now: func() time.Time { return testNow }})
				if err != nil {
					t.Fatal(err)
				}
				url, client := serveTLS(t, p, pol.Handler())
				got := post(t, client, url, doc)
				golden := filepath.Join("testdata", "golden", strings.TrimSuffix(kc.doc, ".json")+"."+oc.name+".json")
				compareGolden(t, golden, got)
			})
		}
	}
}

// TestPostgresStore runs one denial against PostgreSQL.
func TestPostgresStore(t *testing.T) {
	st := storetest.Postgres(t)
	kc := kindCases[0]
	target := pool()[kc.target]
	seed(t, st, target, "severe")
	cfg := baseConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pol, err := New(cfg, Options{Store: st, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	url, client := serveTLS(t, newPKI(t, t.TempDir()), pol.Handler())
	doc, err := os.ReadFile(filepath.Join("testdata", "reviews", kc.doc))
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, filepath.Join("testdata", "golden", "pod.denied-severity.json"), post(t, client, url, doc))
}

func compareGolden(t *testing.T, golden string, got Review) {
	t.Helper()
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want Review
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", golden, diff)
	}
}
