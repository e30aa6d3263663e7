package notify

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// stores runs fn against SQLite and (when reachable) PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, st *store.SQL)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.Postgres(t)) })
}

var fixedNow = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

func newNotifier(t *testing.T, st *store.SQL, yaml string) *Notifier {
	t.Helper()
	cfg, err := Parse(strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(context.Background(), *cfg, Options{
		DB: st.DB(), Dialect: st.Dialect(), Account: "123456789012", Region: "eu-west-1",
		Getenv: func(k string) string { return "secret-of-" + k },
		Now:    func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

const twoHooks = `
sinks:
  - {id: all, type: webhook, url: 'http://127.0.0.1:1/all', secretEnv: A}
  - id: prod-high
    type: webhook
    url: http://127.0.0.1:1/prod
    secretEnv: B
    rules: [{repositoryFilters: ['prod*'], minSeverity: HIGH}]
`

// queued returns the outbox's events by sink id, ids and times blanked.
func queued(t *testing.T, st *store.SQL) map[string][]events.Event {
	t.Helper()
	rows, err := st.DB().QueryContext(context.Background(), `SELECT sink_id, payload FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]events.Event{}
	for rows.Next() {
		var sink, payload string
		if err := rows.Scan(&sink, &payload); err != nil {
			t.Fatal(err)
		}
		var ev events.Event
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.ID == "" {
			t.Errorf("event without id: %s", payload)
		}
		ev.ID = "ID"
		var detail any
		if err := json.Unmarshal(ev.Detail, &detail); err != nil {
			t.Fatal(err)
		}
		ev.Detail, _ = json.Marshal(detail)
		out[sink] = append(out[sink], ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func compactJSON(s string) json.RawMessage {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	b, _ := json.Marshal(v)
	return b
}

// claimJob pushes repo@digest with tags and claims its scan job.
func claimJob(t *testing.T, st *store.SQL, repo, digest string, enhanced bool, tags ...string) *store.Job {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: fixedNow}); err != nil {
		t.Fatal(err)
	}
	img := store.Image{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactMediaType: "application/vnd.oci.image.config.v1+json", Size: 10, PushedAt: fixedNow}
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, tag := range tags {
		if _, err := st.PutImage(ctx, img, tag); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.StartScan(ctx, repo, digest, enhanced, fixedNow, 0); err != nil {
		t.Fatal(err)
	}
	j, err := st.ClaimJob(ctx, "w", fixedNow, time.Minute, 3)
	if err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	return j
}

func TestScanEventCommittedWithResult(t *testing.T) {
	stores(t, func(t *testing.T, st *store.SQL) {
		ctx := context.Background()
		n := newNotifier(t, st, twoHooks)

		// A basic scan of prod/api with a HIGH finding, under
		// BASIC_SCAN_TYPE_VERSION CLAIR: both sinks.
		j := claimJob(t, st, "prod/api", "sha256:aaa", false, "v1", "latest")
		res := &scanning.Result{Status: scanning.StatusComplete, SeverityCounts: map[severity.Severity]int{"HIGH": 2, "LOW": 1, "MEDIUM": 0}, BasicScanTypeVersion: "CLAIR"}
		out := store.JobOutcome{Status: "COMPLETE", Result: []byte(`{}`)}
		if err := n.Prepare(ctx, j, res, &out); err != nil {
			t.Fatal(err)
		}
		if len(queued(t, st)) != 0 {
			t.Fatal("Prepare enqueued outside the completing transaction")
		}
		if err := st.CompleteJob(ctx, j, out, fixedNow); err != nil {
			t.Fatal(err)
		}
		basic := events.Event{
			Version: "0", ID: "ID", DetailType: "ECR Image Scan", Source: "aws.ecr", Account: "123456789012",
			Time: "2026-11-23T09:30:00Z", Region: "eu-west-1",
			Resources: []string{"arn:aws:ecr:eu-west-1:123456789012:repository/prod/api"},
			Detail: compactJSON(`{"scan-status":"COMPLETE","repository-name":"prod/api","finding-severity-counts":{"HIGH":2,"LOW":1},
				"image-digest":"sha256:aaa","image-tags":["latest","v1"],"basic-scan-type-version":"CLAIR"}`),
		}
		want := map[string][]events.Event{"all": {basic}, "prod-high": {basic}}
		if diff := cmp.Diff(want, queued(t, st)); diff != "" {
			t.Fatalf("outbox after a basic scan (-want +got):\n%s", diff)
		}

		// An enhanced scan that failed for good (res nil), untagged: the
		// Inspector2 event, for "all" only (no HIGH finding).
		j = claimJob(t, st, "prod/api", "sha256:bbb", true)
		out = store.JobOutcome{Status: "FAILED", Description: "boom"}
		if err := n.Prepare(ctx, j, nil, &out); err != nil {
			t.Fatal(err)
		}
		if err := st.CompleteJob(ctx, j, out, fixedNow); err != nil {
			t.Fatal(err)
		}
		want["all"] = append(want["all"], events.Event{
			Version: "0", ID: "ID", DetailType: "Inspector2 Scan", Source: "aws.inspector2", Account: "123456789012",
			Time: "2026-11-23T09:30:00Z", Region: "eu-west-1",
			Resources: []string{"arn:aws:ecr:eu-west-1:123456789012:repository/prod/api/sha256:bbb"},
			Detail: compactJSON(`{"scan-status":"FAILED","repository-name":"arn:aws:ecr:eu-west-1:123456789012:repository/prod/api",
				"finding-severity-counts":{"TOTAL":0},"image-digest":"sha256:bbb","image-tags":[]}`),
		})
		if diff := cmp.Diff(want, queued(t, st)); diff != "" {
			t.Fatalf("outbox after an enhanced failure (-want +got):\n%s", diff)
		}

		// A completion that loses its lease commits nothing: no event.
		j = claimJob(t, st, "prod/api", "sha256:ccc", false)
		out = store.JobOutcome{Status: "COMPLETE", Result: []byte(`{}`)}
		if err := n.Prepare(ctx, j, &scanning.Result{SeverityCounts: map[severity.Severity]int{"CRITICAL": 1}}, &out); err != nil {
			t.Fatal(err)
		}
		stale := *j
		stale.Attempt++
		if err := st.CompleteJob(ctx, &stale, out, fixedNow); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("complete with a stale attempt: %v, want ErrLeaseLost", err)
		}
		// A later hook failing rolls the event back too.
		out.InTx = append(out.InTx, func(context.Context, *store.Tx) error { return errors.New("later hook fails") })
		if err := st.CompleteJob(ctx, j, out, fixedNow); err == nil {
			t.Fatal("CompleteJob succeeded despite a failing hook")
		}
		if diff := cmp.Diff(want, queued(t, st)); diff != "" {
			t.Fatalf("rolled-back completions left events (-want +got):\n%s", diff)
		}
	})
}

func TestFindingsChanged(t *testing.T) {
	stores(t, func(t *testing.T, st *store.SQL) {
		ctx := context.Background()
		n := newNotifier(t, st, twoHooks)
		finding := func(name string, sev severity.Severity, pkg, ver string) scanning.Finding {
			return scanning.Finding{Name: name, Severity: sev, Attributes: []scanning.Attribute{
				{Key: "package_name", Value: pkg}, {Key: "package_version", Value: ver}, {Key: "CVSS3_SCORE", Value: "9.8"}}}
		}
		change := scanning.FindingsChange{
			Repository: "prod/web", Digest: "sha256:ddd", Tags: []string{"v2"},
			Added:    []scanning.Finding{finding("CVE-2026-1", "CRITICAL", "openssl", "3.0.11")},
			Resolved: []scanning.Finding{finding("CVE-2025-9", "LOW", "zlib", "1.2.13")},
			Counts:   map[severity.Severity]int{"CRITICAL": 1, "MEDIUM": 0},
			At:       time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
		}
		// Rolled back with the rescan's transaction: nothing queued.
		err := st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			if err := n.FindingsChanged(ctx, tx, change); err != nil {
				return err
			}
			return errors.New("rescan fails later")
		})
		if err == nil || len(queued(t, st)) != 0 {
			t.Fatalf("rolled-back rescan: err %v, outbox %v", err, queued(t, st))
		}
		onlyResolvedDev := change
		onlyResolvedDev.Repository, onlyResolvedDev.Added = "dev/web", nil
		nothing := change
		nothing.Added, nothing.Resolved = nil, nil
		err = st.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
			for _, c := range []scanning.FindingsChange{change, onlyResolvedDev, nothing} {
				if err := n.FindingsChanged(ctx, tx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ev := func(repo, detail string) events.Event {
			return events.Event{
				Version: "0", ID: "ID", DetailType: "ECR Image Scan Findings Change", Source: "aws.ecr", Account: "123456789012",
				Time: "2026-11-24T00:00:00Z", Region: "eu-west-1",
				Resources: []string{"arn:aws:ecr:eu-west-1:123456789012:repository/" + repo},
				Detail:    compactJSON(detail),
			}
		}
		prod := ev("prod/web", `{"repository-name":"prod/web","image-digest":"sha256:ddd","image-tags":["v2"],
			"new-findings":[{"name":"CVE-2026-1","severity":"CRITICAL","package-name":"openssl","package-version":"3.0.11"}],
			"resolved-findings":[{"name":"CVE-2025-9","severity":"LOW","package-name":"zlib","package-version":"1.2.13"}],
			"finding-severity-counts":{"CRITICAL":1}}`)
		dev := ev("dev/web", `{"repository-name":"dev/web","image-digest":"sha256:ddd","image-tags":["v2"],
			"new-findings":[],
			"resolved-findings":[{"name":"CVE-2025-9","severity":"LOW","package-name":"zlib","package-version":"1.2.13"}],
			"finding-severity-counts":{"CRITICAL":1}}`)
		want := map[string][]events.Event{"all": {prod, dev}, "prod-high": {prod}}
		if diff := cmp.Diff(want, queued(t, st)); diff != "" {
			t.Errorf("outbox (-want +got):\n%s", diff)
		}
	})
}

// TestRoutingRules: which sink gets which event, per rule.
func TestRoutingRules(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := newNotifier(t, st, `
sinks:
  - {id: everything, type: webhook, url: 'http://h/1', secretEnv: A}
  - id: prod-critical
    type: webhook
    url: http://h/2
    secretEnv: A
    rules: [{repositoryFilters: ['prod*'], minSeverity: CRITICAL}]
  - id: payments-or-changes
    type: webhook
    url: http://h/3
    secretEnv: A
    rules:
      - {repositoryFilters: [payments]}
      - {detailTypes: ['ECR Image Scan Findings Change'], minSeverity: MEDIUM}
  - id: enhanced-only
    type: webhook
    url: http://h/4
    secretEnv: A
    rules: [{detailTypes: ['Inspector2 Scan']}]
`)
	img := func(repo string) events.Image {
		return events.Image{Account: "1", Region: "r", Repository: repo, Digest: "sha256:x"}
	}
	scan := func(repo string, counts map[severity.Severity]int) events.Event {
		ev, err := events.ScanCompleted(events.Meta{}, img(repo), "COMPLETE", counts)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	inspector := func(repo string, counts map[severity.Severity]int) events.Event {
		ev, err := events.InspectorScan(events.Meta{}, img(repo), "COMPLETE", counts)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	change := func(repo string, sev severity.Severity) events.Event {
		ev, err := events.NewFindings(events.Meta{}, img(repo), []events.Finding{{Name: "CVE-1", Severity: sev}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	tests := []struct {
		name string
		ev   events.Event
		want []string
	}{
		{"prod critical", scan("prod/api", map[severity.Severity]int{"CRITICAL": 1}), []string{"everything", "prod-critical"}},
		{"prod high only", scan("prod/api", map[severity.Severity]int{"HIGH": 4}), []string{"everything"}},
		{"staging critical", scan("staging/prod", map[severity.Severity]int{"CRITICAL": 1}), []string{"everything"}},
		{"payments substring", scan("team/payments-api", nil), []string{"everything", "payments-or-changes"}},
		{"change medium", change("dev/x", "MEDIUM"), []string{"everything", "payments-or-changes"}},
		{"change low", change("dev/x", "LOW"), []string{"everything"}},
		{"change critical in prod", change("prod/x", "CRITICAL"), []string{"everything", "prod-critical", "payments-or-changes"}},
		{"enhanced prod critical", inspector("prod/api", map[severity.Severity]int{"CRITICAL": 2}), []string{"everything", "prod-critical", "enhanced-only"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := n.Route(tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("sinks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewSecrets(t *testing.T) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		files      map[string]string
		env        map[string]string
		want       string // error substring; "" = success
	}{
		{"env", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: HOOK}]", nil, map[string]string{"HOOK": "k"}, ""},
		{"env unset", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: HOOK}]", nil, nil, "environment variable HOOK is unset or empty"},
		{"file", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretFile: " + dir + "/k}]", map[string]string{dir + "/k": "key\n"}, nil, ""},
		{"file empty", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretFile: " + dir + "/k}]", map[string]string{dir + "/k": "\n"}, nil, "is empty"},
		{"file missing", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretFile: " + dir + "/none}]", nil, nil, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(strings.NewReader(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			n, err := New(context.Background(), *cfg, Options{
				DB: st.DB(), Dialect: st.Dialect(),
				Getenv: func(k string) string { return tc.env[k] },
				ReadFile: func(p string) ([]byte, error) {
					if s, ok := tc.files[p]; ok {
						return []byte(s), nil
					}
					return nil, &fsError{p}
				},
			})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				n.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "key") && tc.name != "file missing" {
				t.Errorf("error %q may echo the secret", err)
			}
		})
	}
}

type fsError struct{ path string }

func (e *fsError) Error() string { return "open " + e.path + ": no such file or directory" }
