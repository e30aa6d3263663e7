package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// testFindingsBatch: RecordFindingsBatch over several images leaves the
// same finding history, diffs and findings hashes as RecordFindings image
// by image, through new, re-rated, resolved and reopened findings and
// through images whose hash says nothing changed; the batched reads
// (GetInventories, ScanStatusesTx, OpenFindingsBatchTx) and
// SetInventoriesBuilt agree with their per-image counterparts.
func testFindingsBatch(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	// Images 0..5 in "one" are recorded one by one, the same in "batch"
	// all at once.
	const n = 6
	ref := func(repo string, i int) store.ImageRef {
		return store.ImageRef{Repository: repo, Digest: fmt.Sprintf("sha256:%02d", i)}
	}
	for i := range n {
		for _, repo := range []string{"one", "batch"} {
			pushImage(t, s, repo, ref(repo, i).Digest, t0)
		}
	}
	a, b, c := rec("CVE-1", "openssl", "3.0", severity.High), rec("CVE-2", "zlib", "1.2", severity.Low), rec("CVE-3", "curl", "7", severity.Medium)
	a2 := a
	a2.Severity = severity.Critical
	// rounds[r][i] are image i's findings at round r.
	rounds := [][][]store.FindingRecord{
		{{a, b}, {a}, {}, {b, c}, {a, b, c}, {c}},
		{{a2, c}, {a}, {b}, {b, c}, {}, {c, c}},       // re-rated+resolved+new, same, new, same, all resolved, duplicate
		{{a2, b, c}, {}, {b}, {c}, {a, b, c}, {a2}},   // reopened, resolved, same, resolved, reopened, swapped
		{{a2, b, c}, {a}, {a, b}, {c}, {a, b, c}, {}}, // same, reopened, new, same, same, resolved
	}
	hashes := func(repo string) []string {
		t.Helper()
		refs := make([]store.ImageRef, n)
		for i := range refs {
			refs[i] = ref(repo, i)
		}
		invs, err := s.GetInventories(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, n)
		for i, r := range refs {
			out[i] = invs[r].FindingsHash
		}
		return out
	}
	for round, cur := range rounds {
		now := t0.Add(time.Duration(round+1) * time.Hour)
		var want []store.FindingsDiff
		for i := range n {
			inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
				d, err := s.RecordFindings(ctx, tx, "one", ref("one", i).Digest, cur[i], now)
				want = append(want, d)
				return err
			})
		}
		known := hashes("batch")
		var updates []store.FindingsUpdate
		for i := range n {
			updates = append(updates, store.FindingsUpdate{Image: ref("batch", i), Current: cur[i], Hash: store.FindingsHash(cur[i]), KnownHash: known[i], Now: now})
		}
		var got []store.FindingsDiff
		inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			var err error
			got, err = s.RecordFindingsBatch(ctx, tx, updates)
			return err
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round %d: diffs (-one by one +batched):\n%s", round, diff)
		}
		for i := range n {
			h1, err := s.FindingHistory(ctx, "one", ref("one", i).Digest)
			if err != nil {
				t.Fatal(err)
			}
			h2, err := s.FindingHistory(ctx, "batch", ref("batch", i).Digest)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(h1, h2); diff != "" {
				t.Errorf("round %d image %d: history (-one by one +batched):\n%s", round, i, diff)
			}
		}
		if diff := cmp.Diff(hashes("one"), hashes("batch")); diff != "" {
			t.Errorf("round %d: findings hashes (-one by one +batched):\n%s", round, diff)
		}
		for i, h := range hashes("batch") {
			if h != store.FindingsHash(cur[i]) {
				t.Errorf("round %d image %d: stored hash %q, want the hash of its findings", round, i, h)
			}
		}
	}
	// A stale hash (as a newer build's pass would leave it, or none) makes
	// the batch read the history: the history decides, not the hash.
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		d, err := s.RecordFindingsBatch(ctx, tx, []store.FindingsUpdate{{Image: ref("batch", 0), Current: []store.FindingRecord{a2}, Hash: store.FindingsHash([]store.FindingRecord{a2}), KnownHash: "", Now: t0.Add(9 * time.Hour)}})
		if err == nil && (len(d[0].Resolved) != 2 || !d[0].Changed()) {
			t.Errorf("unknown hash: diff %+v, want b and c resolved", d[0])
		}
		return err
	})

	refs := []store.ImageRef{ref("batch", 0), ref("batch", 2), {Repository: "batch", Digest: "sha256:none"}}
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		open, err := s.OpenFindingsBatchTx(ctx, tx, refs, []string{"zlib"})
		if err != nil {
			return err
		}
		for _, r := range refs {
			one, err := s.OpenFindingsTx(ctx, tx, r.Repository, r.Digest, "zlib")
			if err != nil {
				return err
			}
			if diff := cmp.Diff(one, open[r]); diff != "" {
				t.Errorf("%s: open zlib findings (-one +batched):\n%s", r.Digest, diff)
			}
		}
		per, err := s.OpenFindingsOfPackagesTx(ctx, tx, map[store.ImageRef][]string{refs[0]: {"zlib", "curl", "zlib"}, refs[1]: {"openssl"}, refs[2]: {"zlib"}})
		if err != nil {
			return err
		}
		for r, names := range map[store.ImageRef][]string{refs[0]: {"zlib", "curl"}, refs[1]: {"openssl"}, refs[2]: {"zlib"}} {
			one, err := s.OpenFindingsTx(ctx, tx, r.Repository, r.Digest, names...)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(one, per[r]); diff != "" {
				t.Errorf("%s: open findings of %v (-one +per image):\n%s", r.Digest, names, diff)
			}
		}
		all, err := s.OpenFindingsBatchTx(ctx, tx, refs, nil)
		if err != nil {
			return err
		}
		for _, r := range refs {
			one, err := s.OpenFindingsTx(ctx, tx, r.Repository, r.Digest)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(one, all[r]); diff != "" {
				t.Errorf("%s: open findings (-one +batched):\n%s", r.Digest, diff)
			}
		}
		st, err := s.ScanStatusesTx(ctx, tx, refs)
		if err != nil {
			return err
		}
		if len(st) != 0 {
			t.Errorf("statuses of images without scans = %v, want none", st)
		}
		return s.SetInventoriesBuilt(ctx, tx, refs[:2], t0.Add(24*time.Hour))
	})
	for i := range n {
		inv, err := s.GetInventory(ctx, "batch", ref("batch", i).Digest)
		if err != nil {
			t.Fatal(err)
		}
		want := t0
		if i == 0 || i == 2 {
			want = t0.Add(24 * time.Hour)
		}
		if !inv.DBBuiltAt.Equal(want) {
			t.Errorf("image %d: db_built_at %v, want %v", i, inv.DBBuiltAt, want)
		}
	}
}
