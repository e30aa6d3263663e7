package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// RunScanResults runs the conformance suite of stored scan results: a page
// of findings (ScanFindingsPage) is exactly its slice of the whole result,
// and no write leaves a previous scan's findings behind.
func RunScanResults(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"PagesEqualWholeResult", testPagesEqualWhole},
		{"NeverStale", testResultNeverStale},
		{"WholeResultWithoutFindings", testResultWithoutFindings},
		{"ResultStoredBeforeSplit", testLegacyResult},
		{"DeleteRemovesFindings", testDeleteRemovesFindings},
	})
}

// FakeResult is a scan result JSON with n findings and m enhanced
// findings, their names tagged by tag (so two results never share one).
func FakeResult(tag string, n, m int) json.RawMessage {
	res := map[string]any{
		"status":                       "COMPLETE",
		"findingSeverityCounts":        map[severity.Severity]int{severity.High: n + m},
		"completedAt":                  t0,
		"vulnerabilitySourceUpdatedAt": t0.Add(-time.Hour),
	}
	var fs, es []any
	for i := range n {
		fs = append(fs, map[string]any{"name": fmt.Sprintf("CVE-%s-%05d", tag, i), "severity": severity.High,
			"attributes": []any{map[string]string{"key": "package_name", "value": "p,\"]"}}}) // commas and brackets inside strings
	}
	for i := range m {
		es = append(es, map[string]any{"title": fmt.Sprintf("E-%s-%05d", tag, i), "packageVulnerabilityDetails": map[string]any{"cvss": []any{}}})
	}
	if fs != nil {
		res["findings"] = fs
	}
	if es != nil {
		res["enhancedFindings"] = es
	}
	b, _ := json.Marshal(res) // maps of strings, numbers and times always encode
	return b
}

// complete stores raw as the completed scan of repo@digest through the job
// path.
func complete(t *testing.T, s *store.SQL, repo, digest string, raw json.RawMessage) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutImage(ctx, store.Image{Repository: repo, Digest: digest, MediaType: "m", ArtifactMediaType: "a", PushedAt: t0}, ""); err != nil {
		t.Fatal(err)
	}
	must(t, s.StartScan(ctx, repo, digest, false, t0, 0))
	j, err := s.ClaimJob(ctx, "w", t0, time.Minute, 3)
	must(t, err)
	if j == nil {
		t.Fatal("no job to claim")
	}
	must(t, s.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Result: raw}, t0))
}

// sequence is a result's findings followed by its enhanced findings,
// compacted, and its remaining members.
func sequence(t *testing.T, raw []byte) (items []string, nf int, rest map[string]any) {
	t.Helper()
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(raw, &whole); err != nil {
		t.Fatalf("result %.80q: %v", raw, err)
	}
	for _, key := range []string{"findings", "enhancedFindings"} {
		var xs []json.RawMessage
		if v, ok := whole[key]; ok {
			if err := json.Unmarshal(v, &xs); err != nil {
				t.Fatal(err)
			}
		}
		for _, x := range xs {
			items = append(items, compact(t, x))
		}
		if key == "findings" {
			nf = len(xs)
		}
		delete(whole, key)
	}
	rest = map[string]any{}
	for k, v := range whole {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatal(err)
		}
		rest[k] = x
	}
	return items, nf, rest
}

func compact(t *testing.T, x json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(x, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// readAllPages pages through an image's findings with page size limit.
func readAllPages(t *testing.T, s *store.SQL, repo, digest string, limit int) (items []string, nf int, head map[string]any) {
	t.Helper()
	ctx := context.Background()
	for start, pages := 0, 0; ; pages++ {
		pg, err := s.ScanFindingsPage(ctx, repo, digest, start, limit)
		must(t, err)
		if pages > 100000 {
			t.Fatal("paging does not end")
		}
		if start == 0 {
			var h []string
			h, _, head = sequence(t, pg.Result)
			if len(h) != 0 {
				t.Errorf("the page's result carries %d findings, want none (its head)", len(h))
			}
		}
		nf = pg.Findings
		want := min(limit, max(pg.Total()-start, 0))
		if got := len(pg.Basic) + len(pg.Enhanced); got != want {
			t.Fatalf("page [%d,+%d) of %d: %d items, want %d", start, limit, pg.Total(), got, want)
		}
		if len(pg.Enhanced) > 0 && start+len(pg.Basic) < pg.Findings {
			t.Errorf("page [%d,+%d): enhanced findings before the last finding", start, limit)
		}
		for _, x := range pg.Basic {
			items = append(items, compact(t, x))
		}
		for _, x := range pg.Enhanced {
			items = append(items, compact(t, x))
		}
		start += limit
		if start >= pg.Total() {
			return items, nf, head
		}
	}
}

func testPagesEqualWhole(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	for _, size := range []struct{ n, m int }{{0, 0}, {1, 0}, {0, 3}, {99, 1}, {100, 0}, {250, 0}, {205, 37}, {0, 201}} {
		digest := fmt.Sprintf("sha256:%d-%d", size.n, size.m)
		raw := FakeResult("a", size.n, size.m)
		complete(t, s, "app", digest, raw)
		want, wantNF, wantHead := sequence(t, raw)

		sc, err := s.GetScan(ctx, "app", digest)
		must(t, err)
		got, gotNF, gotHead := sequence(t, sc.Result)
		if diff := cmp.Diff(want, got); diff != "" || gotNF != wantNF {
			t.Errorf("%d+%d: GetScan findings (nf %d, want %d) (-want +got):\n%s", size.n, size.m, gotNF, wantNF, diff)
		}
		if diff := cmp.Diff(wantHead, gotHead); diff != "" {
			t.Errorf("%d+%d: GetScan result members (-want +got):\n%s", size.n, size.m, diff)
		}
		for _, limit := range []int{1, 3, 99, 100, 101, 1000} {
			got, gotNF, head := readAllPages(t, s, "app", digest, limit)
			if diff := cmp.Diff(want, got); diff != "" || gotNF != wantNF {
				t.Errorf("%d+%d by %d: paged findings (nf %d, want %d) (-want +got):\n%s", size.n, size.m, limit, gotNF, wantNF, diff)
			}
			if diff := cmp.Diff(wantHead, head); diff != "" {
				t.Errorf("%d+%d by %d: page head (-want +got):\n%s", size.n, size.m, limit, diff)
			}
		}
		// A window past the end, and the summary alone.
		for _, w := range [][2]int{{size.n + size.m, 10}, {size.n + size.m + 500, 1000}, {0, 0}} {
			pg, err := s.ScanFindingsPage(ctx, "app", digest, w[0], w[1])
			must(t, err)
			if len(pg.Basic)+len(pg.Enhanced) != 0 || pg.Findings != size.n || pg.EnhancedFindings != size.m {
				t.Errorf("%d+%d window %v: %d+%d items, totals %d+%d", size.n, size.m, w, len(pg.Basic), len(pg.Enhanced), pg.Findings, pg.EnhancedFindings)
			}
		}
	}
	if _, err := s.ScanFindingsPage(ctx, "app", "sha256:none", 0, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("page of a missing scan: %v, want ErrNotFound", err)
	}
}

// testResultNeverStale: a rescan (UpdateScanResult) and a new scan of the
// same digest replace every page, including pages the new result no
// longer has.
func testResultNeverStale(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	d := "sha256:stale"
	complete(t, s, "app", d, FakeResult("first", 250, 20))
	check := func(stage string, raw json.RawMessage) {
		t.Helper()
		want, _, _ := sequence(t, raw)
		for _, limit := range []int{7, 100, 1000} {
			got, _, _ := readAllPages(t, s, "app", d, limit)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s, by %d (-want +got):\n%s", stage, limit, diff)
			}
		}
		pg, err := s.ScanFindingsPage(ctx, "app", d, 200, 100)
		must(t, err)
		if n := len(want); n <= 200 && len(pg.Basic)+len(pg.Enhanced) != 0 {
			t.Errorf("%s: a window past the %d findings returned %d (left over from an earlier result)", stage, n, len(pg.Basic)+len(pg.Enhanced))
		}
	}
	check("first scan", FakeResult("first", 250, 20))

	second := FakeResult("rescan", 120, 0)
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		ok, err := s.UpdateScanResult(ctx, tx, "app", d, "COMPLETE", "", second, "COMPLETE")
		if err == nil && !ok {
			err = fmt.Errorf("UpdateScanResult wrote nothing")
		}
		return err
	})
	check("after a rescan", second)
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		sc, err := s.ScanTx(ctx, tx, "app", d)
		if err != nil {
			return err
		}
		got, _, _ := sequence(t, sc.Result)
		want, _, _ := sequence(t, second)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ScanTx after a rescan (-want +got):\n%s", diff)
		}
		return nil
	})

	// A new scan: IN_PROGRESS shows no findings at all, then the new result.
	must(t, s.StartScan(ctx, "app", d, false, t0.Add(48*time.Hour), 24*time.Hour))
	pg, err := s.ScanFindingsPage(ctx, "app", d, 0, 1000)
	must(t, err)
	if pg.Status != "IN_PROGRESS" || len(pg.Result) != 0 || pg.Total() != 0 || len(pg.Basic)+len(pg.Enhanced) != 0 {
		t.Errorf("page of a scan in progress: status %s, result %.60q, %d findings", pg.Status, pg.Result, pg.Total())
	}
	j, err := s.ClaimJob(ctx, "w", t0.Add(48*time.Hour), time.Minute, 3)
	must(t, err)
	third := FakeResult("third", 3, 1)
	must(t, s.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Result: third}, t0.Add(48*time.Hour)))
	check("after a new scan", third)
}

func testResultWithoutFindings(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	raw := json.RawMessage(`{"status":"COMPLETE","findings":[],"findingSeverityCounts":{}}`)
	complete(t, s, "app", "sha256:empty", raw)
	sc, err := s.GetScan(ctx, "app", "sha256:empty")
	must(t, err)
	if string(sc.Result) != string(raw) {
		t.Errorf("result without findings = %s, want it unchanged: %s", sc.Result, raw)
	}
	pg, err := s.ScanFindingsPage(ctx, "app", "sha256:empty", 0, 100)
	must(t, err)
	if pg.Total() != 0 || len(pg.Basic) != 0 {
		t.Errorf("page of a result without findings: %+v", pg)
	}
}

// testLegacyResult: a whole result in scans.result (written before the
// split) is paged the same way, and split at its next write.
func testLegacyResult(t *testing.T, s *store.SQL) {
	d := "sha256:legacy"
	complete(t, s, "app", d, json.RawMessage(`{"status":"COMPLETE"}`))
	raw := FakeResult("legacy", 130, 4)
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE scans SET result = ? WHERE repo = ? AND digest = ?`, string(raw), "app", d)
		return err
	})
	want, wantNF, wantHead := sequence(t, raw)
	for _, limit := range []int{1, 100, 1000} {
		got, nf, head := readAllPages(t, s, "app", d, limit)
		if diff := cmp.Diff(want, got); diff != "" || nf != wantNF {
			t.Errorf("legacy by %d (-want +got):\n%s", limit, diff)
		}
		if diff := cmp.Diff(wantHead, head); diff != "" {
			t.Errorf("legacy head by %d (-want +got):\n%s", limit, diff)
		}
	}
	sc, err := s.GetScan(context.Background(), "app", d)
	must(t, err)
	if string(sc.Result) != string(raw) {
		t.Error("GetScan changed a legacy result")
	}
}

func testDeleteRemovesFindings(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	complete(t, s, "app", "sha256:a", FakeResult("a", 150, 2))
	complete(t, s, "other", "sha256:b", FakeResult("b", 150, 2))
	must(t, s.DeleteImage(ctx, "app", "sha256:a"))
	must(t, s.DeleteRepository(ctx, "other"))
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		for _, table := range []string{"scan_result_split", "scan_result_chunks"} {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("%s: %d rows left after deleting every image", table, n)
			}
		}
		return nil
	})
}
