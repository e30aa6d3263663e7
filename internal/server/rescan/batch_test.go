package rescan

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// runBatchedSameAsPerImage: the same fleet through the same DB changes
// (an advisory added, one withdrawn and a fix moved, a full re-match)
// ends with the same scan rows, finding history and announcements whether
// each image is written in its own transaction (Batch 1) or several per
// transaction (Batch 4, so that batches mix changed, unchanged, skipped
// and shortcut images).
func runBatchedSameAsPerImage(t *testing.T, open func(t *testing.T) *store.SQL) {
	ctx := context.Background()
	type world struct {
		f *fixture
		r *Rescanner
	}
	var worlds []world
	for _, batch := range []int{1, 4} {
		f := newFixture(t, open(t))
		recent := f.clk.Now().Add(-24 * time.Hour)
		for i := range 13 {
			pkgs := []string{"openssl=3.1.4-r0"}
			switch i % 4 {
			case 0:
				pkgs = append(pkgs, "busybox=1.36.1-r5")
			case 1:
				pkgs = append(pkgs, "zlib=1.3-r0", "busybox=1.36.1-r20")
			case 2:
				pkgs = []string{"zlib=1.3-r0"}
			}
			repo := "prod-batch"
			if i%5 == 4 {
				repo = "manual-batch"
			}
			f.scanImage(t, repo, recent, alpineInv(fmt.Sprintf("sha256:b%02d", i), pkgs...))
		}
		r, err := New(Options{Store: f.st, Matcher: ScanMatcher{Now: f.clk.Now}, DBDir: f.dbDir, Announcer: f.ann, Holder: "r", Now: f.clk.Now, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		worlds = append(worlds, world{f, r})
	}
	steps := []struct {
		name string
		feed map[string][2]string
	}{
		{"first pass", nil},
		{"busybox advisory added", feed2},
		{"openssl withdrawn, zlib fixed later", map[string][2]string{"zlib": {"1.3-r9", "CVE-2023-45853"}, "busybox": feed2["busybox"]}},
		{"full re-match", nil},
	}
	for si, step := range steps {
		var sums []Summary
		for _, w := range worlds {
			w.f.clk.Set(day0.Add(45*24*time.Hour + time.Duration(si)*time.Hour))
			if step.feed != nil {
				buildDB(t, w.f.dbDir, secdb(step.feed), day0.Add(time.Duration(si)*time.Hour))
			}
			var s Summary
			var err error
			if step.name == "full re-match" {
				s, err = w.r.RematchPairs(ctx, nil)
			} else {
				s, err = w.r.Tick(ctx)
			}
			if err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			// Two workers may both miss the memo on one package: the
			// counts are not results.
			s.Duration, s.Build, s.Base, s.MemoHits, s.MemoMisses = 0, "", "", 0, 0
			sums = append(sums, s)
		}
		if diff := cmp.Diff(sums[0], sums[1]); diff != "" {
			t.Errorf("%s: summary (-per image +batched):\n%s", step.name, diff)
		}
		if sums[1].Errors != 0 {
			t.Errorf("%s: %d errors", step.name, sums[1].Errors)
		}
		for i := range 13 {
			repo := "prod-batch"
			if i%5 == 4 {
				repo = "manual-batch"
			}
			d := fmt.Sprintf("sha256:b%02d", i)
			var rows []store.Scan
			var hists [][]store.FindingRecord
			var invs []store.StoredInventory
			for _, w := range worlds {
				rows = append(rows, w.f.scanRow(t, repo, d))
				h, err := w.f.st.FindingHistory(ctx, repo, d)
				if err != nil {
					t.Fatal(err)
				}
				hists = append(hists, h)
				inv, err := w.f.st.GetInventory(ctx, repo, d)
				if err != nil {
					t.Fatal(err)
				}
				inv.Data = nil
				invs = append(invs, inv)
			}
			if diff := cmp.Diff(rows[0], rows[1]); diff != "" {
				t.Errorf("%s: %s scan row (-per image +batched):\n%s", step.name, d, diff)
			}
			if diff := cmp.Diff(hists[0], hists[1]); diff != "" {
				t.Errorf("%s: %s history (-per image +batched):\n%s", step.name, d, diff)
			}
			if diff := cmp.Diff(invs[0], invs[1]); diff != "" {
				t.Errorf("%s: %s inventory row (-per image +batched):\n%s", step.name, d, diff)
			}
		}
	}
	a0, a1 := worlds[0].f.ann.got, worlds[1].f.ann.got
	if len(a0) == 0 {
		t.Fatal("no announcements: the steps changed nothing")
	}
	if diff := cmp.Diff(len(a0), len(a1)); diff != "" {
		t.Errorf("announcements (-per image +batched):\n%s", diff)
	}
	byImage := func(cs []scanning.FindingsChange) map[string]scanning.FindingsChange {
		m := map[string]scanning.FindingsChange{}
		for _, c := range cs {
			m[fmt.Sprintf("%s@%s@%v", c.Repository, c.Digest, c.At)] = c
		}
		return m
	}
	if diff := cmp.Diff(byImage(a0), byImage(a1)); diff != "" {
		t.Errorf("announcements (-per image +batched):\n%s", diff)
	}
}

func TestBatchedSameAsPerImageSQLite(t *testing.T) {
	runBatchedSameAsPerImage(t, func(t *testing.T) *store.SQL { return openSQLite(t) })
}

func TestBatchedSameAsPerImagePostgres(t *testing.T) {
	runBatchedSameAsPerImage(t, storetest.Postgres)
}

// cancelling announces, then cancels the pass after its first
// announcement: the pass stops between batches.
type cancelling struct {
	announcements
	cancel func()
}

func (c *cancelling) FindingsChanged(ctx context.Context, tx *store.Tx, ch scanning.FindingsChange) error {
	if err := c.announcements.FindingsChanged(ctx, tx, ch); err != nil {
		return err
	}
	c.cancel()
	return nil
}

// TestKilledPassFinishedByNext: a pass stopped after its first batch
// leaves every image either done or as it was, and the next pass
// finishes the job: the same scan rows, history and announcements as one
// uninterrupted pass.
func TestKilledPassFinishedByNext(t *testing.T) {
	ctx := context.Background()
	fleet := func() *fixture {
		f := newFixture(t, openSQLite(t))
		recent := f.clk.Now().Add(-24 * time.Hour)
		for i := range 9 {
			f.scanImage(t, "prod-kill", recent, alpineInv(fmt.Sprintf("sha256:k%02d", i), "busybox=1.36.1-r5", "openssl=3.1.4-r0"))
		}
		return f
	}
	clean, killed := fleet(), fleet()
	cctx, cancel := context.WithCancel(ctx)
	ann := &cancelling{cancel: cancel}
	rc, err := New(Options{Store: clean.st, Matcher: ScanMatcher{Now: clean.clk.Now}, DBDir: clean.dbDir, Announcer: clean.ann, Holder: "r", Now: clean.clk.Now, Batch: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := New(Options{Store: killed.st, Matcher: ScanMatcher{Now: killed.clk.Now}, DBDir: killed.dbDir, Announcer: ann, Holder: "r", Now: killed.clk.Now, Batch: 2, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		f *fixture
		r *Rescanner
	}{{clean, rc}, {killed, rk}} {
		if _, err := w.r.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		w.f.clk.Set(w.f.clk.Now().Add(time.Hour))
		buildDB(t, w.f.dbDir, secdb(feed2), day0.Add(time.Hour))
	}
	if s, err := rc.Tick(ctx); err != nil || s.Changed != 10 {
		t.Fatalf("uninterrupted pass: %+v, %v; want 10 images changed", s, err)
	}
	s, err := rk.Tick(cctx)
	if err == nil || s.Changed >= 10 {
		t.Fatalf("killed pass: %+v, %v; want it stopped early with an error", s, err)
	}
	ann.cancel = func() {}
	s2, err := rk.Tick(ctx)
	if err != nil || s.Changed+s2.Changed != 10 || s2.Mode != "changes" {
		t.Fatalf("next pass: %+v, %v; want the other %d images changed", s2, err, 10-s.Changed)
	}
	// The announcement made in the transaction the cancellation rolled
	// back is made again (an outbox row would have been rolled back
	// with it): every image is announced, by one pass or the other.
	digests := func(cs []scanning.FindingsChange) map[string]bool {
		m := map[string]bool{}
		for _, c := range cs {
			m[c.Digest] = true
		}
		return m
	}
	if diff := cmp.Diff(digests(clean.ann.got), digests(ann.got)); diff != "" {
		t.Errorf("announced images (-uninterrupted +killed and finished):\n%s", diff)
	}
	for i := range 9 {
		d := fmt.Sprintf("sha256:k%02d", i)
		if diff := cmp.Diff(findingNames(t, clean.scanRow(t, "prod-kill", d)), findingNames(t, killed.scanRow(t, "prod-kill", d))); diff != "" {
			t.Errorf("%s findings (-uninterrupted +killed and finished):\n%s", d, diff)
		}
		h1, _ := clean.st.FindingHistory(ctx, "prod-kill", d)
		h2, _ := killed.st.FindingHistory(ctx, "prod-kill", d)
		if diff := cmp.Diff(h1, h2); diff != "" {
			t.Errorf("%s history (-uninterrupted +killed and finished):\n%s", d, diff)
		}
	}
}
