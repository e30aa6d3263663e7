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

// RunRescan runs the conformance suite of the continuous-rescan tables:
// inventories and their keys, finding history, image pulls, leases and
// settings.
func RunRescan(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"Inventories", testInventories},
		{"TargetsByKeys", testTargetsByKeys},
		{"FindingHistory", testFindingHistory},
		{"FindingsBatch", testFindingsBatch},
		{"UpdateScanResult", testUpdateScanResult},
		{"Pulls", testPulls},
		{"Lease", testLease},
		{"DeleteRemovesRescanRows", testDeleteRescanRows},
	})
}

func inTx(t *testing.T, s *store.SQL, fn store.TxFunc) {
	t.Helper()
	if err := s.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// pushImage stores an image with a completed scan and an inventory with keys.
func pushImage(t *testing.T, s *store.SQL, repo, digest string, pushed time.Time, keys ...store.InventoryKey) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: pushed}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutImage(ctx, store.Image{Repository: repo, Digest: digest, MediaType: "m", ArtifactMediaType: "a", PushedAt: pushed}, ""); err != nil {
		t.Fatal(err)
	}
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		return s.PutInventory(ctx, tx, store.StoredInventory{Repository: repo, Digest: digest, Data: []byte("inv:" + digest), StoredAt: pushed, DBBuiltAt: t0}, keys)
	})
}

func testInventories(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	keys := []store.InventoryKey{{Namespace: "debian:12", Package: "openssl"}, {Namespace: "debian:12", Package: "zlib"}, {Namespace: "osv:npm", Package: "lodash"}, {Namespace: "debian:12", Package: "zlib"}}
	pushImage(t, s, "app", "sha256:a", t0, keys...)
	got, err := s.GetInventory(ctx, "app", "sha256:a")
	if err != nil {
		t.Fatal(err)
	}
	want := store.StoredInventory{Repository: "app", Digest: "sha256:a", Data: []byte("inv:sha256:a"), StoredAt: t0, DBBuiltAt: t0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetInventory (-want +got):\n%s", diff)
	}
	gotKeys, err := s.InventoryKeys(ctx, "app", "sha256:a")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.InventoryKey{{Namespace: "debian:12", Package: "openssl"}, {Namespace: "debian:12", Package: "zlib"}, {Namespace: "osv:npm", Package: "lodash"}}, gotKeys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	// A second put replaces data and keys (binary data survives).
	bin := []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 1, 2, 0xff}
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		return s.PutInventory(ctx, tx, store.StoredInventory{Repository: "app", Digest: "sha256:a", Enhanced: true, Data: bin, StoredAt: t0.Add(time.Hour)},
			[]store.InventoryKey{{Namespace: "debian:12", Package: "curl"}})
	})
	got, err = s.GetInventory(ctx, "app", "sha256:a")
	if err != nil {
		t.Fatal(err)
	}
	want = store.StoredInventory{Repository: "app", Digest: "sha256:a", Enhanced: true, Data: bin, StoredAt: t0.Add(time.Hour)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetInventory after replace (-want +got):\n%s", diff)
	}
	gotKeys, _ = s.InventoryKeys(ctx, "app", "sha256:a")
	if diff := cmp.Diff([]store.InventoryKey{{Namespace: "debian:12", Package: "curl"}}, gotKeys); diff != "" {
		t.Errorf("keys after replace (-want +got):\n%s", diff)
	}
	// Many keys: more than one INSERT chunk.
	var many []store.InventoryKey
	for i := range 450 {
		many = append(many, store.InventoryKey{Namespace: "debian:12", Package: fmt.Sprintf("pkg%04d", i)})
	}
	pushImage(t, s, "app", "sha256:b", t0, many...)
	gotKeys, _ = s.InventoryKeys(ctx, "app", "sha256:b")
	if len(gotKeys) != 450 {
		t.Errorf("stored %d keys, want 450", len(gotKeys))
	}
	if _, err := s.GetInventory(ctx, "app", "sha256:none"); !isNotFound(err) {
		t.Errorf("GetInventory(missing) = %v, want ErrNotFound", err)
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func testTargetsByKeys(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	pushImage(t, s, "a", "sha256:1", t0, store.InventoryKey{Namespace: "debian:12", Package: "openssl"}, store.InventoryKey{Namespace: "debian:12", Package: "zlib"})
	pushImage(t, s, "a", "sha256:2", t0.Add(time.Minute), store.InventoryKey{Namespace: "debian:12", Package: "zlib"})
	pushImage(t, s, "b", "sha256:3", t0, store.InventoryKey{Namespace: "ubuntu:22.04", Package: "openssl"})
	if err := s.StartScan(ctx, "a", "sha256:1", false, t0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordPull(ctx, "a", "sha256:2", t0.Add(time.Hour), time.Minute); err != nil {
		t.Fatal(err)
	}
	var many []store.InventoryKey
	for i := range 1200 { // several IN chunks
		many = append(many, store.InventoryKey{Namespace: "debian:12", Package: fmt.Sprintf("x%d", i)})
	}
	got, err := s.InventoryTargetsByKeys(ctx, append(many, store.InventoryKey{Namespace: "debian:12", Package: "openssl"}, store.InventoryKey{Namespace: "debian:12", Package: "zlib"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.InventoryTarget{
		{Repository: "a", Digest: "sha256:1", PushedAt: t0, DBBuiltAt: t0, ScanStatus: "IN_PROGRESS"},
		{Repository: "a", Digest: "sha256:2", PushedAt: t0.Add(time.Minute), LastPulledAt: t0.Add(time.Hour), DBBuiltAt: t0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	got, _ = s.InventoryTargetsByKeys(ctx, []store.InventoryKey{{Namespace: "ubuntu:22.04", Package: "openssl"}})
	if len(got) != 1 || got[0].Digest != "sha256:3" {
		t.Errorf("ubuntu openssl targets = %+v", got)
	}
	got, _ = s.InventoryTargetsByKeys(ctx, nil)
	if len(got) != 0 {
		t.Errorf("no keys gave %d targets", len(got))
	}
	all, err := s.AllInventoryTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Errorf("AllInventoryTargets = %d, want 3", len(all))
	}
	// Advance moves only rows of the old build.
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		return s.SetInventoryBuilt(ctx, tx, "b", "sha256:3", t0.Add(-time.Hour))
	})
	var n int64
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		var err error
		n, err = s.AdvanceInventoriesBuilt(ctx, tx, t0, t0.Add(24*time.Hour))
		return err
	})
	if n != 2 {
		t.Errorf("advanced %d inventories, want 2", n)
	}
	all, _ = s.AllInventoryTargets(ctx)
	for _, tg := range all {
		want := t0.Add(24 * time.Hour)
		if tg.Repository == "b" {
			want = t0.Add(-time.Hour)
		}
		if !tg.DBBuiltAt.Equal(want) {
			t.Errorf("%s@%s built %v, want %v", tg.Repository, tg.Digest, tg.DBBuiltAt, want)
		}
	}
}

func rec(name, pkg, ver string, sev severity.Severity) store.FindingRecord {
	return store.FindingRecord{Name: name, PackageName: pkg, PackageVersion: ver, Severity: sev}
}

func testFindingHistory(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	t1, t2, t3 := t0, t0.Add(time.Hour), t0.Add(2*time.Hour)
	record := func(now time.Time, cur ...store.FindingRecord) store.FindingsDiff {
		t.Helper()
		var d store.FindingsDiff
		inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			var err error
			d, err = s.RecordFindings(ctx, tx, "app", "sha256:a", cur, now)
			return err
		})
		return d
	}
	a, b, c := rec("CVE-1", "openssl", "3.0", severity.High), rec("CVE-2", "zlib", "1.2", severity.Low), rec("CVE-3", "curl", "7", severity.Medium)
	d := record(t1, a, b)
	with := func(r store.FindingRecord, first, resolved time.Time) store.FindingRecord {
		r.FirstSeen, r.ResolvedAt = first, resolved
		return r
	}
	if diff := cmp.Diff(store.FindingsDiff{Added: []store.FindingRecord{with(a, t1, time.Time{}), with(b, t1, time.Time{})}}, d); diff != "" {
		t.Errorf("first scan diff (-want +got):\n%s", diff)
	}
	// b resolved, c new, a re-rated.
	a2 := a
	a2.Severity = severity.Critical
	d = record(t2, a2, c)
	if diff := cmp.Diff(store.FindingsDiff{Added: []store.FindingRecord{with(c, t2, time.Time{})}, Resolved: []store.FindingRecord{with(b, t1, t2)}, Rerated: 1}, d); diff != "" {
		t.Errorf("second diff (-want +got):\n%s", diff)
	}
	// Same again: nothing changes.
	if d = record(t2, a2, c); d.Changed() {
		t.Errorf("repeat diff = %+v, want empty", d)
	}
	// b reappears: reopened with a new first_seen.
	d = record(t3, a2, b, c)
	if diff := cmp.Diff(store.FindingsDiff{Added: []store.FindingRecord{with(b, t3, time.Time{})}}, d); diff != "" {
		t.Errorf("reopen diff (-want +got):\n%s", diff)
	}
	h, err := s.FindingHistory(ctx, "app", "sha256:a")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.FindingRecord{with(a2, t1, time.Time{}), with(b, t3, time.Time{}), with(c, t2, time.Time{})}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// Resolve c: the open findings leave it out.
	record(t3.Add(time.Hour), a2, b)
	var open []store.FindingRecord
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		var err error
		open, err = s.OpenFindingsTx(ctx, tx, "app", "sha256:a")
		return err
	})
	if diff := cmp.Diff([]store.FindingRecord{with(a2, t1, time.Time{}), with(b, t3, time.Time{})}, open); diff != "" {
		t.Errorf("open findings (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		pkgs []string
		want []store.FindingRecord
	}{
		{[]string{"zlib"}, []store.FindingRecord{with(b, t3, time.Time{})}},
		{[]string{"zlib", "openssl"}, []store.FindingRecord{with(a2, t1, time.Time{}), with(b, t3, time.Time{})}},
		{[]string{"curl"}, nil}, // c is resolved
		{[]string{"nothing"}, nil},
	} {
		inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			var err error
			open, err = s.OpenFindingsTx(ctx, tx, "app", "sha256:a", tc.pkgs...)
			return err
		})
		if diff := cmp.Diff(tc.want, open); diff != "" {
			t.Errorf("open findings of %v (-want +got):\n%s", tc.pkgs, diff)
		}
	}
	if k := store.FindingKey("CVE-1", "openssl", "3.0"); k != "CVE-1\x1fopenssl\x1f3.0" {
		t.Errorf("FindingKey = %q", k)
	}
}

func testUpdateScanResult(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	pushImage(t, s, "app", "sha256:a", t0)
	if err := s.StartScan(ctx, "app", "sha256:a", false, t0, 0); err != nil {
		t.Fatal(err)
	}
	update := func(status string, result json.RawMessage) bool {
		t.Helper()
		var ok bool
		inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			var err error
			ok, err = s.UpdateScanResult(ctx, tx, "app", "sha256:a", status, "d", result, "COMPLETE", "SCAN_ELIGIBILITY_EXPIRED")
			return err
		})
		return ok
	}
	if update("COMPLETE", json.RawMessage(`{"x":1}`)) {
		t.Error("UpdateScanResult overwrote an IN_PROGRESS scan")
	}
	// Complete it through the job path.
	j, err := s.ClaimJob(ctx, "w", t0, time.Minute, 3)
	if err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	if err := s.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Result: json.RawMessage(`{"v":1}`)}, t0); err != nil {
		t.Fatal(err)
	}
	if !update("SCAN_ELIGIBILITY_EXPIRED", nil) {
		t.Fatal("UpdateScanResult did not update a COMPLETE scan")
	}
	sc, _ := s.GetScan(ctx, "app", "sha256:a")
	if sc.Status != "SCAN_ELIGIBILITY_EXPIRED" || string(sc.Result) != `{"v":1}` {
		t.Errorf("after expiry: %s %s (result must be kept)", sc.Status, sc.Result)
	}
	if !update("COMPLETE", json.RawMessage(`{"v":2}`)) {
		t.Fatal("UpdateScanResult did not revive an expired scan")
	}
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
		sc, err = s.ScanTx(ctx, tx, "app", "sha256:a")
		return err
	})
	if sc.Status != "COMPLETE" || string(sc.Result) != `{"v":2}` {
		t.Errorf("after revive: %s %s", sc.Status, sc.Result)
	}
}

func testPulls(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	if got, _ := s.LastPull(ctx, "app", "sha256:a"); !got.IsZero() {
		t.Errorf("LastPull of a never-pulled image = %v", got)
	}
	steps := []struct {
		at    time.Time
		wrote bool
		last  time.Time
	}{
		{t0, true, t0},
		{t0.Add(30 * time.Second), false, t0}, // throttled
		{t0.Add(time.Minute), true, t0.Add(time.Minute)},
		{t0.Add(-time.Hour), false, t0.Add(time.Minute)}, // an older pull never moves it back
	}
	for i, st := range steps {
		wrote, err := s.RecordPull(ctx, "app", "sha256:a", st.at, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		last, _ := s.LastPull(ctx, "app", "sha256:a")
		if wrote != st.wrote || !last.Equal(st.last) {
			t.Errorf("step %d: wrote %v last %v, want %v %v", i, wrote, last, st.wrote, st.last)
		}
	}
}

func testLease(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	acquire := func(holder string, now time.Time) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, "rescan", holder, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !acquire("r1", t0) {
		t.Fatal("r1 could not take a free lease")
	}
	if acquire("r2", t0.Add(30*time.Second)) {
		t.Fatal("r2 took r1's unexpired lease")
	}
	if !acquire("r1", t0.Add(50*time.Second)) {
		t.Fatal("r1 could not renew its lease")
	}
	if acquire("r2", t0.Add(100*time.Second)) {
		t.Fatal("r2 took r1's renewed lease")
	}
	if !acquire("r2", t0.Add(111*time.Second)) {
		t.Fatal("r2 could not take an expired lease")
	}
	if err := s.ReleaseLease(ctx, "rescan", "r1"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if acquire("r1", t0.Add(112*time.Second)) {
		t.Fatal("a release by a non-holder freed the lease")
	}
	if err := s.ReleaseLease(ctx, "rescan", "r2"); err != nil {
		t.Fatal(err)
	}
	if !acquire("r1", t0.Add(113*time.Second)) {
		t.Fatal("released lease not free")
	}
	if v, ok, err := s.RescanSetting(ctx, "rescan:x"); err != nil || ok || v != "" {
		t.Fatalf("missing setting = %q %v %v", v, ok, err)
	}
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error { return s.PutRescanSetting(ctx, tx, "rescan:x", "b1") })
	inTx(t, s, func(ctx context.Context, tx *store.Tx) error { return s.PutRescanSetting(ctx, tx, "rescan:x", "b2") })
	if v, ok, err := s.RescanSetting(ctx, "rescan:x"); err != nil || !ok || v != "b2" {
		t.Fatalf("setting = %q %v %v, want b2", v, ok, err)
	}
}

func testDeleteRescanRows(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	for _, d := range []string{"sha256:a", "sha256:b"} {
		pushImage(t, s, "app", d, t0, store.InventoryKey{Namespace: "debian:12", Package: "zlib"})
		if _, err := s.RecordPull(ctx, "app", d, t0, 0); err != nil {
			t.Fatal(err)
		}
		inTx(t, s, func(ctx context.Context, tx *store.Tx) error {
			_, err := s.RecordFindings(ctx, tx, "app", d, []store.FindingRecord{rec("CVE-1", "zlib", "1", severity.Low)}, t0)
			return err
		})
	}
	pushImage(t, s, "other", "sha256:a", t0, store.InventoryKey{Namespace: "debian:12", Package: "zlib"})
	if err := s.DeleteImage(ctx, "app", "sha256:a"); err != nil {
		t.Fatal(err)
	}
	gone := func(repo, digest string) {
		t.Helper()
		if _, err := s.GetInventory(ctx, repo, digest); !isNotFound(err) {
			t.Errorf("%s@%s: inventory left: %v", repo, digest, err)
		}
		if k, _ := s.InventoryKeys(ctx, repo, digest); len(k) != 0 {
			t.Errorf("%s@%s: keys left: %v", repo, digest, k)
		}
		if h, _ := s.FindingHistory(ctx, repo, digest); len(h) != 0 {
			t.Errorf("%s@%s: history left: %v", repo, digest, h)
		}
		if p, _ := s.LastPull(ctx, repo, digest); !p.IsZero() {
			t.Errorf("%s@%s: pull left: %v", repo, digest, p)
		}
	}
	gone("app", "sha256:a")
	if h, _ := s.FindingHistory(ctx, "app", "sha256:b"); len(h) != 1 {
		t.Errorf("deleting one image removed another's history: %v", h)
	}
	if err := s.DeleteRepository(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	gone("app", "sha256:b")
	if _, err := s.GetInventory(ctx, "other", "sha256:a"); err != nil {
		t.Errorf("deleting repository app removed other's inventory: %v", err)
	}
}
