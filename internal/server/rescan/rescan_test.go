package rescan

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/alpine"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// secdb is an Alpine secdb file for v3.19 main fixing each package at the
// given version for the given CVE.
func secdb(fixes map[string][2]string) string { return feedtest.AlpineSecDB("v3.19", fixes) }

// buildDB builds (or rebuilds) the DB in dir from the alpine updater over
// an in-memory mirror holding file.
func buildDB(t testing.TB, dir, file string, at time.Time) {
	t.Helper()
	src := &feedtest.Source{Files: map[string]string{"v3.19/main.json": file}, CanList: true}
	_, err := vulndb.Update(context.Background(), dir, []feed.Updater{alpine.New("v3.19")}, func(feed.Updater) feed.Source { return src },
		vulndb.UpdateOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("build DB: %v", err)
	}
}

func alpineInv(digest string, pkgs ...string) *inventory.Inventory {
	inv := &inventory.Inventory{
		Source: inventory.Source{Kind: "registry", Digest: digest},
		Distro: &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported},
	}
	for _, p := range pkgs {
		name, ver, _ := strings.Cut(p, "=")
		inv.Packages = append(inv.Packages, inventory.Package{Name: name, Version: ver, Type: inventory.TypeAPK, SourceName: name, SourceVersion: ver,
			PURL: "pkg:apk/alpine/" + name + "@" + ver, Path: "lib/apk/db/installed", Cataloger: "apk"})
	}
	return inv
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type announcements struct {
	mu  sync.Mutex
	got []scanning.FindingsChange
}

func (a *announcements) FindingsChanged(ctx context.Context, tx *store.Tx, c scanning.FindingsChange) error {
	// Prove the call runs inside the recording transaction.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM finding_history WHERE repo = ? AND digest = ? AND first_seen = ?`, c.Repository, c.Digest, c.At.UnixMilli()).Scan(&n); err != nil {
		return err
	}
	if n == 0 && len(c.Added) > 0 {
		return errNoHistory
	}
	a.mu.Lock()
	a.got = append(a.got, c)
	a.mu.Unlock()
	return nil
}

var errNoHistory = &json.UnsupportedValueError{Str: "announcement before its history rows"}

type fixture struct {
	st    *store.SQL
	dbDir string
	clk   *clock
	ann   *announcements
}

var day0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// scanImage pushes an image and completes its scan the way the job pool
// does: matched against the current DB, recorded by the Recorder inside
// CompleteJob.
func (f *fixture) scanImage(t testing.TB, repo string, pushed time.Time, inv *inventory.Inventory) {
	t.Helper()
	ctx := context.Background()
	digest := inv.Source.Digest
	if _, err := f.st.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: pushed}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.PutImage(ctx, store.Image{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactMediaType: "application/vnd.oci.image.config.v1+json", PushedAt: pushed}, "tag-"+strings.TrimPrefix(digest, "sha256:")); err != nil {
		t.Fatal(err)
	}
	if err := f.st.StartScan(ctx, repo, digest, true, pushed, 0); err != nil {
		t.Fatal(err)
	}
	j, err := f.st.ClaimJob(ctx, "w", pushed, time.Minute, 3)
	if err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	db, err := vulndb.Open(ctx, f.dbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rm, err := ScanMatcher{Now: f.clk.Now}.Pass(db).Rematch(ctx, inv, j.Enhanced)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rm.Result(pushed, db.BuiltAt())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(records(mustIdentities(t, res)), rm.Records); d != "" {
		t.Fatalf("Rematched.Records differ from the identities of its result (-result +records):\n%s", d)
	}
	res.Inventory = inv
	body, _ := json.Marshal(res)
	out := store.JobOutcome{Status: string(res.Status), Description: res.Description, Result: body}
	codec, _ := NewCodec()
	if err := (&Recorder{Store: f.st, Codec: codec}).Prepare(ctx, j, res, &out); err != nil {
		t.Fatal(err)
	}
	if err := f.st.CompleteJob(ctx, j, out, pushed); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) rescanner(t testing.TB, holder string) *Rescanner {
	t.Helper()
	r, err := New(Options{Store: f.st, Matcher: ScanMatcher{Now: f.clk.Now}, DBDir: f.dbDir, Announcer: f.ann, Holder: holder, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) tick(t *testing.T, r *Rescanner) Summary {
	t.Helper()
	s, err := r.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Duration = 0
	return s
}

func (f *fixture) scanRow(t *testing.T, repo, digest string) store.Scan {
	t.Helper()
	sc, err := f.st.GetScan(context.Background(), repo, digest)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func mustIdentities(t testing.TB, res *scanning.Result) map[string]identified {
	t.Helper()
	ids, err := identities(res)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func findingNames(t *testing.T, sc store.Scan) []string {
	t.Helper()
	var res scanning.Result
	if err := json.Unmarshal(sc.Result, &res); err != nil {
		t.Fatal(err)
	}
	ids, err := identities(&res)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range records(ids) {
		out = append(out, r.Name+" "+r.PackageName+" "+r.PackageVersion)
	}
	return out
}

const continuousConfig = `{"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod*","filterType":"WILDCARD"}]},
	{"scanFrequency":"MANUAL","repositoryFilters":[{"filter":"manual*","filterType":"WILDCARD"}]}]}`

var (
	feed1 = map[string][2]string{"openssl": {"3.1.4-r1", "CVE-2023-5678"}, "zlib": {"1.3-r2", "CVE-2023-45853"}}
	// feed2 adds ONE advisory: busybox.
	feed2 = map[string][2]string{"openssl": {"3.1.4-r1", "CVE-2023-5678"}, "zlib": {"1.3-r2", "CVE-2023-45853"}, "busybox": {"1.36.1-r15", "CVE-2023-42363"}}
)

func newFixture(t testing.TB, st *store.SQL) *fixture {
	f := &fixture{st: st, dbDir: t.TempDir(), clk: &clock{t: day0.Add(45 * 24 * time.Hour)}, ann: &announcements{}}
	buildDB(t, f.dbDir, secdb(feed1), day0)
	if err := st.PutScanningConfig(context.Background(), json.RawMessage(continuousConfig)); err != nil {
		t.Fatal(err)
	}
	recent := f.clk.Now().Add(-24 * time.Hour)
	f.scanImage(t, "prod-a", recent, alpineInv("sha256:a1", "busybox=1.36.1-r5", "openssl=3.1.4-r0"))              // gains the new CVE
	f.scanImage(t, "prod-a", recent, alpineInv("sha256:a2", "openssl=3.1.4-r0", "zlib=1.3-r0"))                    // no busybox
	f.scanImage(t, "prod-b", recent, alpineInv("sha256:b1", "busybox=1.36.1-r20", "zlib=1.3-r0"))                  // busybox already fixed
	f.scanImage(t, "manual-x", recent, alpineInv("sha256:m1", "busybox=1.36.1-r5"))                                // MANUAL repository
	f.scanImage(t, "prod-c", day0.Add(2*24*time.Hour), alpineInv("sha256:c1", "busybox=1.36.1-r5", "zlib=1.3-r0")) // 43 days idle
	return f
}

var images = [][2]string{{"prod-a", "sha256:a1"}, {"prod-a", "sha256:a2"}, {"prod-b", "sha256:b1"}, {"manual-x", "sha256:m1"}, {"prod-c", "sha256:c1"}}

func runAddOneAdvisory(t *testing.T, st *store.SQL) {
	ctx := context.Background()
	f := newFixture(t, st)
	r := f.rescanner(t, "replica-1")

	// First tick: no pass recorded, every inventory was matched against
	// this build already; prod-c is past the 30-day window.
	s := f.tick(t, r)
	db1, _ := vulndb.Open(ctx, f.dbDir)
	build1 := db1.BuildID()
	db1.Close()
	if diff := cmp.Diff(Summary{Build: build1, Mode: "full", Reason: "no previous pass recorded", Expired: 1}, s); diff != "" {
		t.Fatalf("first tick (-want +got):\n%s", diff)
	}
	if got := f.scanRow(t, "prod-c", "sha256:c1"); got.Status != string(scanning.StatusEligibilityExpired) {
		t.Fatalf("prod-c status = %s, want SCAN_ELIGIBILITY_EXPIRED", got.Status)
	}
	before := map[[2]string]store.Scan{}
	for _, im := range images {
		before[im] = f.scanRow(t, im[0], im[1])
	}
	if got := findingNames(t, before[[2]string{"prod-a", "sha256:a1"}]); !cmp.Equal(got, []string{"CVE-2023-5678 openssl 3.1.4-r0"}) {
		t.Fatalf("a1 findings before = %v", got)
	}

	// One advisory added.
	f.clk.Set(f.clk.Now().Add(time.Hour))
	now := f.clk.Now().UTC()
	buildDB(t, f.dbDir, secdb(feed2), day0.Add(time.Hour))
	s = f.tick(t, r)
	db2, _ := vulndb.Open(ctx, f.dbDir)
	build2 := db2.BuildID()
	db2.Close()
	// a1 and b1 hold busybox in continuous repositories; m1 (MANUAL) and
	// c1 (expired) are selected but skipped.
	// Memo: busybox twice and openssl missed once; a1's records take
	// busybox from the memo, and building its new result matches its two
	// packages again from the memo.
	want := Summary{Build: build2, Base: build1, Mode: "changes", ChangedPairs: 1, Considered: 4, Rematched: 2, Changed: 1, Announced: 1, Skipped: 2, MemoHits: 3, MemoMisses: 3}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("pass (-want +got):\n%s", diff)
	}
	for _, im := range images {
		got := f.scanRow(t, im[0], im[1])
		if im == [2]string{"prod-a", "sha256:a1"} {
			continue
		}
		if diff := cmp.Diff(before[im], got); diff != "" {
			t.Errorf("%s@%s scan row changed (-before +after):\n%s", im[0], im[1], diff)
		}
	}
	a1 := f.scanRow(t, "prod-a", "sha256:a1")
	if got := findingNames(t, a1); !cmp.Equal(got, []string{"CVE-2023-42363 busybox 1.36.1-r5", "CVE-2023-5678 openssl 3.1.4-r0"}) {
		t.Errorf("a1 findings after = %v", got)
	}
	var res scanning.Result
	_ = json.Unmarshal(a1.Result, &res)
	if !res.CompletedAt.Equal(now) || !res.VulnerabilitySourceUpdatedAt.Equal(day0.Add(time.Hour)) || a1.Status != "COMPLETE" {
		t.Errorf("a1 result: status %s completedAt %v vulnerabilitySourceUpdatedAt %v", a1.Status, res.CompletedAt, res.VulnerabilitySourceUpdatedAt)
	}
	hist, err := st.FindingHistory(ctx, "prod-a", "sha256:a1")
	if err != nil {
		t.Fatal(err)
	}
	recent := day0.Add(44 * 24 * time.Hour)
	wantHist := []store.FindingRecord{
		{Name: "CVE-2023-42363", PackageName: "busybox", PackageVersion: "1.36.1-r5", Severity: hist[0].Severity, FirstSeen: now},
		{Name: "CVE-2023-5678", PackageName: "openssl", PackageVersion: "3.1.4-r0", Severity: hist[1].Severity, FirstSeen: recent},
	}
	if diff := cmp.Diff(wantHist, hist); diff != "" {
		t.Errorf("a1 history (-want +got):\n%s", diff)
	}
	if len(f.ann.got) != 1 {
		t.Fatalf("announcements = %+v, want one", f.ann.got)
	}
	c := f.ann.got[0]
	if c.Repository != "prod-a" || c.Digest != "sha256:a1" || !cmp.Equal(c.Tags, []string{"tag-a1"}) || len(c.Resolved) != 0 ||
		len(c.Added) != 1 || c.Added[0].Name != "CVE-2023-42363" || !c.At.Equal(now) || !c.Enhanced {
		t.Errorf("announcement = %+v", c)
	}
	// The history of the untouched images did not move.
	for _, im := range images[1:] {
		h, _ := st.FindingHistory(ctx, im[0], im[1])
		for _, rec := range h {
			if rec.FirstSeen.Equal(now) || !rec.ResolvedAt.IsZero() {
				t.Errorf("%s@%s history moved: %+v", im[0], im[1], rec)
			}
		}
	}

	// Idempotence: the same replica again, and a restarted one, do nothing.
	if s := f.tick(t, r); s != (Summary{Build: build2, Base: build2, Mode: "none"}) {
		t.Errorf("second tick = %+v, want nothing", s)
	}
	if s := f.tick(t, f.rescanner(t, "replica-2")); s != (Summary{Build: build2, Base: build2, Mode: "none"}) {
		t.Errorf("restarted tick = %+v, want nothing", s)
	}
	if len(f.ann.got) != 1 {
		t.Errorf("announcements after idempotent ticks = %d, want 1", len(f.ann.got))
	}

	// Eligibility: a pull brings prod-c back; it is re-matched fully and
	// gains the busybox CVE that arrived while it was expired.
	f.clk.Set(f.clk.Now().Add(time.Hour))
	now3 := f.clk.Now().UTC()
	if _, err := st.RecordPull(ctx, "prod-c", "sha256:c1", now3, time.Minute); err != nil {
		t.Fatal(err)
	}
	s = f.tick(t, r)
	if diff := cmp.Diff(Summary{Build: build2, Base: build2, Mode: "none", Rematched: 1, Revived: 1, Changed: 1, Announced: 1, MemoHits: 2, MemoMisses: 2}, s); diff != "" {
		t.Errorf("revive tick (-want +got):\n%s", diff)
	}
	c1 := f.scanRow(t, "prod-c", "sha256:c1")
	if c1.Status != "COMPLETE" {
		t.Errorf("prod-c status after pull = %s", c1.Status)
	}
	if got := findingNames(t, c1); !cmp.Equal(got, []string{"CVE-2023-42363 busybox 1.36.1-r5", "CVE-2023-45853 zlib 1.3-r0"}) {
		t.Errorf("prod-c findings after revival = %v", got)
	}
	// The MANUAL image was never re-matched but was marked stale: it is
	// picked up if its repository becomes continuous.
	m1 := f.scanRow(t, "manual-x", "sha256:m1")
	if diff := cmp.Diff(before[[2]string{"manual-x", "sha256:m1"}], m1); diff != "" {
		t.Errorf("manual image changed:\n%s", diff)
	}
	inv, _ := st.GetInventory(ctx, "manual-x", "sha256:m1")
	if !inv.DBBuiltAt.IsZero() {
		t.Errorf("manual image's inventory build = %v, want stale (zero)", inv.DBBuiltAt)
	}

	// The openssl advisory is withdrawn: a1 and a2 resolve it, and the
	// announcements describe the resolved finding as the replaced result
	// reported it.
	f.clk.Set(f.clk.Now().Add(time.Hour))
	now4 := f.clk.Now().UTC()
	feed3 := map[string][2]string{"zlib": feed2["zlib"], "busybox": feed2["busybox"]}
	buildDB(t, f.dbDir, secdb(feed3), day0.Add(2*time.Hour))
	f.ann.got = nil
	s = f.tick(t, r)
	if s.Mode != "changes" || s.ChangedPairs != 1 || s.Rematched != 2 || s.Changed != 2 || s.Announced != 2 || s.Errors != 0 {
		t.Errorf("withdrawal pass = %+v, want 1 pair, 2 images changed and announced", s)
	}
	if len(f.ann.got) != 2 {
		t.Fatalf("withdrawal announcements = %+v, want two", f.ann.got)
	}
	for _, c := range f.ann.got {
		if len(c.Added) != 0 || len(c.Resolved) != 1 {
			t.Errorf("%s: added %d resolved %d, want 0 and 1", c.Digest, len(c.Added), len(c.Resolved))
			continue
		}
		r := c.Resolved[0]
		attrs := map[string]string{}
		for _, a := range r.Attributes {
			attrs[a.Key] = a.Value
		}
		if r.Name != "CVE-2023-5678" || r.URI == "" || attrs["package_name"] != "openssl" || attrs["package_version"] != "3.1.4-r0" {
			t.Errorf("%s: resolved finding = %+v, want CVE-2023-5678 in openssl 3.1.4-r0 with its URI", c.Digest, r)
		}
	}
	hist, _ = st.FindingHistory(ctx, "prod-a", "sha256:a2")
	for _, rec := range hist {
		if rec.Name == "CVE-2023-5678" && !rec.ResolvedAt.Equal(now4) {
			t.Errorf("a2 history of the withdrawn CVE = %+v, want resolved at %v", rec, now4)
		}
	}
	if got := findingNames(t, f.scanRow(t, "prod-a", "sha256:a2")); !cmp.Equal(got, []string{"CVE-2023-45853 zlib 1.3-r0"}) {
		t.Errorf("a2 findings after the withdrawal = %v", got)
	}
}

func openSQLite(t testing.TB) *store.SQL {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "stowaway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAddOneAdvisorySQLite(t *testing.T)   { runAddOneAdvisory(t, openSQLite(t)) }
func TestAddOneAdvisoryPostgres(t *testing.T) { runAddOneAdvisory(t, storetest.Postgres(t)) }

func TestLeaseBusy(t *testing.T) {
	f := newFixture(t, openSQLite(t))
	ok, err := f.st.AcquireLease(context.Background(), leaseName, "other-replica", f.clk.Now(), time.Hour)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if s := f.tick(t, f.rescanner(t, "me")); !s.LeaseBusy || s.Expired != 0 {
		t.Errorf("tick under another replica's lease = %+v", s)
	}
}

// TestMetrics: tick summaries reach the Prometheus counters, lease-busy
// ticks included.
func TestMetrics(t *testing.T) {
	f := newFixture(t, openSQLite(t))
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Store: f.st, Matcher: ScanMatcher{Now: f.clk.Now}, DBDir: f.dbDir, Holder: "me", Now: f.clk.Now, Observe: m.Observe})
	if err != nil {
		t.Fatal(err)
	}
	f.tick(t, r) // full: prod-c expires
	f.clk.Set(f.clk.Now().Add(time.Hour))
	buildDB(t, f.dbDir, secdb(feed2), day0.Add(time.Hour))
	f.tick(t, r) // one changed pair: a1 and b1 re-matched, a1 changed
	if ok, err := f.st.AcquireLease(context.Background(), leaseName, "other", f.clk.Now(), time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	f.tick(t, r) // lease busy
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{m.ticks.WithLabelValues("full"), 1},
		{m.ticks.WithLabelValues("changes"), 1},
		{m.ticks.WithLabelValues("lease_busy"), 1},
		{m.pairs, 1},
		{m.images.WithLabelValues("expired"), 1},
		{m.images.WithLabelValues("rematched"), 2},
		{m.images.WithLabelValues("changed"), 1},
		{m.images.WithLabelValues("skipped"), 2},
		{m.memo.WithLabelValues("miss"), 3},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.c.(prometheus.Metric).Desc(), got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "stowaway_rescan_tick_duration_seconds"); err != nil || n != 2 {
		t.Errorf("duration series = %d (%v), want 2 (full and changes)", n, err)
	}
}

// runUnparseableVersion: an image holding a version apk cannot parse is
// recorded COMPLETE with the package named in its description; a change
// pass for an advisory that names the package (match.Touching, then the
// whole inventory) completes, adds the UNKNOWN_VERSION finding beside its
// sibling's FIXABLE one and announces both.
func runUnparseableVersion(t *testing.T, st *store.SQL) {
	ctx := context.Background()
	f := &fixture{st: st, dbDir: t.TempDir(), clk: &clock{t: day0.Add(45 * 24 * time.Hour)}, ann: &announcements{}}
	buildDB(t, f.dbDir, secdb(feed1), day0)
	if err := st.PutScanningConfig(ctx, json.RawMessage(continuousConfig)); err != nil {
		t.Fatal(err)
	}
	inv := alpineInv("sha256:d1", "musl=1.2.4_r2", "openssl=3.1.4-r0")
	utils := inventory.Package{Name: "musl-utils", Version: "1.2.4-r2", Type: inventory.TypeAPK, SourceName: "musl", SourceVersion: "1.2.4-r2",
		PURL: "pkg:apk/alpine/musl-utils@1.2.4-r2", Path: "lib/apk/db/installed", Cataloger: "apk"}
	inv.Packages = append(inv.Packages, utils)
	f.scanImage(t, "prod-d", f.clk.Now().Add(-24*time.Hour), inv)
	// The fixture's day (2026-04-15) is past Alpine 3.19's end of life.
	wantDesc := `The scan was completed successfully. Alpine Linux 3.19 reached end of life after 2025-11-01 (support ended): findings for a discontinued OS are informational. 1 package has a version that could not be compared (findings for it have status UNKNOWN_VERSION): musl "1.2.4_r2" (lib/apk/db/installed).`
	before := f.scanRow(t, "prod-d", "sha256:d1")
	if before.Status != "COMPLETE" || before.Description != wantDesc {
		t.Fatalf("scan row %s %q, want COMPLETE %q", before.Status, before.Description, wantDesc)
	}
	r := f.rescanner(t, "replica-1")
	f.tick(t, r) // records the first build

	withMusl := map[string][2]string{"openssl": feed1["openssl"], "zlib": feed1["zlib"], "musl": {"1.2.4-r3", "CVE-2025-26519"}}
	f.clk.Set(f.clk.Now().Add(time.Hour))
	buildDB(t, f.dbDir, secdb(withMusl), day0.Add(time.Hour))
	s := f.tick(t, r)
	if s.Mode != "changes" || s.ChangedPairs != 1 || s.Rematched != 1 || s.Changed != 1 || s.Announced != 1 || s.Errors != 0 {
		t.Errorf("pass = %+v, want one pair, one image changed and announced, no errors", s)
	}
	after := f.scanRow(t, "prod-d", "sha256:d1")
	if after.Status != "COMPLETE" || after.Description != wantDesc {
		t.Errorf("after the pass: %s %q, want COMPLETE %q", after.Status, after.Description, wantDesc)
	}
	want := []string{"CVE-2023-5678 openssl 3.1.4-r0", "CVE-2025-26519 musl 1.2.4_r2", "CVE-2025-26519 musl-utils 1.2.4-r2"}
	if got := findingNames(t, after); !cmp.Equal(got, want) {
		t.Errorf("findings after = %v, want %v", got, want)
	}
	var res scanning.Result
	if err := json.Unmarshal(after.Result, &res); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]string{}
	for _, e := range res.EnhancedFindings {
		var ef struct {
			Remediation struct{ Recommendation struct{ Text string } }
			Details     struct {
				ID   string                  `json:"vulnerabilityId"`
				Pkgs []struct{ Name string } `json:"vulnerablePackages"`
			} `json:"packageVulnerabilityDetails"`
		}
		if err := json.Unmarshal(e, &ef); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ef.Details.Pkgs {
			names = append(names, p.Name)
		}
		statuses[ef.Details.ID+" "+strings.Join(names, ",")] = ef.Remediation.Recommendation.Text
	}
	// One enhanced finding per vulnerability, as Inspector has it: musl
	// and musl-utils share CVE-2025-26519.
	wantText := map[string]string{
		"CVE-2023-5678 openssl": "Upgrade openssl to 3.1.4-r1 or later.",
		"CVE-2025-26519 musl,musl-utils": `Versions could not be compared (apk: version "1.2.4_r2": invalid version: unknown suffix "_r"). Make sure musl is at 1.2.4-r3 or later.` +
			" Upgrade musl-utils to 1.2.4-r3 or later.",
	}
	if d := cmp.Diff(wantText, statuses); d != "" {
		t.Errorf("remediation texts (-want +got):\n%s", d)
	}
	if len(f.ann.got) != 1 || len(f.ann.got[0].Added) != 2 {
		t.Errorf("announcements = %+v, want one adding the two musl findings", f.ann.got)
	}
}

func TestUnparseableVersionSQLite(t *testing.T)   { runUnparseableVersion(t, openSQLite(t)) }
func TestUnparseableVersionPostgres(t *testing.T) { runUnparseableVersion(t, storetest.Postgres(t)) }

// TestReplicasWithTheirOwnDBs: replicas on several hosts share the store
// but each has its own DB directory, updated apart. A pass runs for the
// newest build only: the replica left with an older build runs none (it
// used to, and then the other re-ran, at every poll: each saw its own
// build differ from the one the other had just recorded).
func TestReplicasWithTheirOwnDBs(t *testing.T) {
	f := newFixture(t, openSQLite(t))
	one := f.rescanner(t, "replica-1")
	twoDir := t.TempDir()
	buildDB(t, twoDir, secdb(feed2), day0.Add(time.Hour))
	two, err := New(Options{Store: f.st, Matcher: ScanMatcher{Now: f.clk.Now}, DBDir: twoDir, Announcer: f.ann, Holder: "replica-2", Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	build := func(dir string) string {
		db, err := vulndb.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		return db.BuildID()
	}
	build1, build2 := build(f.dbDir), build(twoDir)

	if s := f.tick(t, one); s.Mode != "full" || s.Build != build1 {
		t.Fatalf("replica 1's first tick = %+v, want a full pass of %s", s, build1)
	}
	// Replica 2's DB is newer: one pass, a1 gains busybox's CVE.
	if s := f.tick(t, two); s.Mode == "none" || s.Build != build2 || s.Base != build1 || s.Changed != 1 {
		t.Fatalf("replica 2's tick = %+v, want a pass of %s over %s changing a1", s, build2, build1)
	}
	// Replica 1's DB is older: no pass, however often it polls, and
	// replica 2 has nothing left to do either.
	for range 3 {
		want := Summary{Build: build1, Base: build2, Mode: "none",
			Reason: "the DB here (build " + build1 + ") is not newer than build " + build2 + ", the last a pass processed: no pass"}
		if diff := cmp.Diff(want, f.tick(t, one)); diff != "" {
			t.Fatalf("replica 1's tick with the older DB (-want +got):\n%s", diff)
		}
		if s := f.tick(t, two); s.Mode != "none" || s.Rematched != 0 {
			t.Fatalf("replica 2's tick after its pass = %+v, want nothing to do", s)
		}
	}
	if got := findingNames(t, f.scanRow(t, "prod-a", "sha256:a1")); !cmp.Equal(got, []string{"CVE-2023-42363 busybox 1.36.1-r5", "CVE-2023-5678 openssl 3.1.4-r0"}) {
		t.Errorf("a1 findings = %v, want replica 2's newer build's", got)
	}
	// Replica 1's next update is the newest build: it runs the pass.
	f.clk.Set(f.clk.Now().Add(time.Hour))
	buildDB(t, f.dbDir, secdb(feed2), day0.Add(2*time.Hour))
	if s := f.tick(t, one); s.Mode == "none" || s.Base != build2 {
		t.Errorf("replica 1's tick with the newest DB = %+v, want a pass over %s", s, build2)
	}
	if s := f.tick(t, two); s.Mode != "none" || s.Rematched != 0 {
		t.Errorf("replica 2's tick with the now older DB = %+v, want no pass", s)
	}
}
