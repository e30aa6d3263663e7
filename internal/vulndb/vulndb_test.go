package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

func TestLookupRoundTrip(t *testing.T) {
	full := &advisory.Advisory{
		ID: "CVE-2024-0001", Aliases: []string{"DSA-5000-1", "GHSA-aaaa-bbbb-cccc"},
		Summary: "sum", Description: "a long description", VendorSeverity: "Important", Severity: "HIGH",
		CVSS:       []advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8, Source: "nvd"}},
		References: []string{"https://example.com/a", "https://example.com/b"},
		Published:  time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), Modified: day(9),
		Affected: []advisory.Affected{
			{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed, Severity: "low",
				Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "3.0.13-1~deb12u1"}}}}, Advisory: "DSA-5000-1"},
			{Namespace: "debian:11", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusAffected},
			{Namespace: "rhel:8", Package: "nodejs", Kind: advisory.KindSource, Module: "nodejs:18", Status: advisory.StatusWillNotFix,
				Arches: []string{"x86_64", "aarch64"}},
			{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindBinary, Status: advisory.StatusNotAffected},
		},
	}
	lang := &advisory.Advisory{ID: "GHSA-x", Affected: []advisory.Affected{{Namespace: "osv:PyPI", Package: "django",
		Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Versions: []string{"4.0", "4.1"}}}}
	goRec := &advisory.Advisory{ID: "GO-2021-0113", Affected: []advisory.Affected{{Namespace: "osv:Go", Package: "golang.org/x/text",
		Kind: advisory.KindLanguage, Status: advisory.StatusFixed, Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "0.3.7"}}}},
		SymbolImports: []advisory.SymbolImport{{Path: "golang.org/x/text/language", Symbols: []string{"MatchStrings", "Parse"}}, {Path: "golang.org/x/text/x", GOOS: []string{"windows"}, GOARCH: []string{"386"}}}}}}
	nvd := &advisory.Advisory{ID: "CVE-2024-0001", Description: "NVD text",
		CVSS: []advisory.CVSS{{Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5, Source: "nvd"}}}
	dir := t.TempDir()
	rep := mustUpdate(t, dir,
		&fakeUpdater{name: "debian", version: "1", advs: []*advisory.Advisory{full, lang, goRec}},
		&fakeUpdater{name: "nvd", version: "1", advs: []*advisory.Advisory{nvd}})
	db := mustOpen(t, dir)
	ctx := context.Background()

	stored := *full
	stored.Source = "debian"
	stored.Affected = nil
	tests := []struct {
		ns, pkg string
		want    []Record
	}{
		{"debian:12", "openssl", []Record{{&stored, full.Affected[0]}, {&stored, full.Affected[3]}}},
		{"debian:11", "openssl", []Record{{&stored, full.Affected[1]}}},
		{"rhel:8", "nodejs", []Record{{&stored, full.Affected[2]}}},
		{"osv:PyPI", "django", []Record{{&advisory.Advisory{ID: "GHSA-x", Source: "debian"}, lang.Affected[0]}}},
		{"osv:Go", "golang.org/x/text", []Record{{&advisory.Advisory{ID: "GO-2021-0113", Source: "debian"}, goRec.Affected[0]}}},
		{"debian:12", "openss", nil},
		{"debian:1", "openssl", nil},
	}
	for _, tc := range tests {
		got, err := db.Lookup(ctx, tc.ns, tc.pkg)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Lookup(%s, %s) (-want +got):\n%s", tc.ns, tc.pkg, diff)
		}
	}

	// Advisory returns the full record (all affected entries, in order of
	// pairs then entry) and the enrichment record.
	advs, err := db.Advisory(ctx, "CVE-2024-0001")
	if err != nil {
		t.Fatal(err)
	}
	wantFull := *full
	wantFull.Source = "debian"
	wantFull.Affected = []advisory.Affected{full.Affected[0], full.Affected[3], full.Affected[1], full.Affected[2]}
	wantNVD := *nvd
	wantNVD.Source = "nvd"
	if diff := cmp.Diff([]*advisory.Advisory{&wantFull, &wantNVD}, advs); diff != "" {
		t.Errorf("Advisory (-want +got):\n%s", diff)
	}
	enr, err := db.Enrichment(ctx, "CVE-2024-0001")
	if err != nil || enr == nil || enr.CVSS[0].Score != 7.5 {
		t.Errorf("Enrichment = %+v, %v", enr, err)
	}
	if enr, err := db.Enrichment(ctx, "CVE-1999-0000"); err != nil || enr != nil {
		t.Errorf("Enrichment(unknown) = %+v, %v", enr, err)
	}
	byAlias, err := db.ByAlias(ctx, "DSA-5000-1")
	if err != nil || len(byAlias) != 1 || byAlias[0].ID != "CVE-2024-0001" {
		t.Errorf("ByAlias = %v, %v", byAlias, err)
	}
	// Scores is Advisory then ByAlias without the affected entries.
	for _, id := range []string{"CVE-2024-0001", "DSA-5000-1", "CVE-1999-0000"} {
		a, _ := db.Advisory(ctx, id)
		b, _ := db.ByAlias(ctx, id)
		var want []*advisory.Advisory
		for _, x := range append(a, b...) {
			y := *x
			y.Affected = nil
			want = append(want, &y)
		}
		got, err := db.Scores(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("Scores(%s) (-Advisory+ByAlias without affected +got):\n%s", id, diff)
		}
	}

	st, err := db.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range st.Sources {
		st.Sources[i].FetchedAt, st.Sources[i].CheckedAt = time.Time{}, time.Time{}
	}
	wantSt := []SourceStatus{
		{Name: "debian", Outcome: Updated, Advisories: 3, Affected: 6, Newest: day(9),
			Namespaces: []string{"debian:11", "debian:12", "osv:Go", "osv:PyPI", "rhel:8"}},
		{Name: "nvd", Outcome: Updated, Enrichment: 1},
	}
	if diff := cmp.Diff(wantSt, st.Sources); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	if st.SchemaVersion != SchemaVersion || st.BuildID != rep.BuildID || st.BuiltAt.IsZero() {
		t.Errorf("status header = %+v, report build %s", st, rep.BuildID)
	}
	var sb strings.Builder
	if err := st.Write(&sb); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SOURCE", "debian", "updated", "2024-01-09", rep.BuildID} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, sb.String())
		}
	}
}

func TestMalformedReported(t *testing.T) {
	dir := t.TempDir()
	good := osAdv("ALPINE-1", "alpine:3.19", "musl", "1.2.4-r3")
	partly := osAdv("ALPINE-2", "alpine:3.19", "busybox", "1.36.1-r6")
	partly.Affected = append(partly.Affected, advisory.Affected{Namespace: "alpine:3.19", Package: "", Status: advisory.StatusFixed})
	u := &fakeUpdater{name: "alpine", version: "1",
		malformed: []feed.Malformed{{File: "v3.19/main.json", ID: "openssl", Err: "bad version"}},
		advs: []*advisory.Advisory{
			good,
			{ID: "", Affected: good.Affected},
			{ID: "BAD-STATUS", Affected: []advisory.Affected{{Namespace: "alpine:3.19", Package: "x", Status: "maybe"}}},
			{ID: "BAD-NS", Affected: []advisory.Affected{{Package: "x", Status: advisory.StatusFixed}}},
			{ID: "BAD-KIND", Affected: []advisory.Affected{{Namespace: "a", Package: "x", Status: advisory.StatusFixed, Kind: "weird"}}},
			partly,
			nil,
		}}
	rep := mustUpdate(t, dir, u)
	want := []feed.Malformed{
		{File: "v3.19/main.json", ID: "openssl", Err: "bad version"},
		{Err: "vulndb: advisory without an id"},
		{ID: "BAD-STATUS", Err: `vulndb: affected[0]: unknown status "maybe"`},
		{ID: "BAD-NS", Err: "vulndb: affected[0]: empty namespace"},
		{ID: "BAD-KIND", Err: `vulndb: affected[0]: unknown package kind "weird"`},
		{ID: "ALPINE-2", Err: "vulndb: affected[1]: empty package name"},
		{Err: "vulndb: nil advisory"},
	}
	if diff := cmp.Diff(want, rep.Sources[0].Malformed); diff != "" {
		t.Errorf("malformed (-want +got):\n%s", diff)
	}
	if rep.Sources[0].Outcome != Updated || rep.Sources[0].Advisories != 2 {
		t.Errorf("source report = %+v", rep.Sources[0])
	}
	db := mustOpen(t, dir)
	if got := fixedOf(t, db, "alpine:3.19", "busybox"); got["ALPINE-2"] != "1.36.1-r6" {
		t.Errorf("valid entry of a partly malformed advisory lost: %v", got)
	}
	st, err := db.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Sources[0].Malformed != len(want) || len(st.Sources[0].MalformedSample) != len(want) {
		t.Errorf("status malformed = %d (%d stored), want %d", st.Sources[0].Malformed, len(st.Sources[0].MalformedSample), len(want))
	}
}

func TestFailingSourceKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a1 := &fakeUpdater{name: "a", version: "1", advs: []*advisory.Advisory{osAdv("A-1", "debian:12", "curl", "1.0")}}
	b1 := &fakeUpdater{name: "b", version: "1", advs: []*advisory.Advisory{osAdv("B-1", "alpine:3.19", "curl", "1.0")}}
	mustUpdate(t, dir, a1, b1)

	type step struct {
		name        string
		a, b        *fakeUpdater
		wantOutcome [2]Outcome
		wantA       map[string]string // debian:12/curl
		wantB       map[string]string // alpine:3.19/curl
	}
	steps := []step{
		{
			name:        "fetch of a fails, b changes",
			a:           &fakeUpdater{name: "a", version: "2", fetchErr: errors.New("connection refused")},
			b:           &fakeUpdater{name: "b", version: "2", advs: []*advisory.Advisory{osAdv("B-1", "alpine:3.19", "curl", "2.0")}},
			wantOutcome: [2]Outcome{Kept, Updated},
			wantA:       map[string]string{"A-1": "1.0"},
			wantB:       map[string]string{"B-1": "2.0"},
		},
		{
			name: "parse of a fails midway: partial rows discarded, previous kept",
			a: &fakeUpdater{name: "a", version: "3", parseErrAfter: 1, advs: []*advisory.Advisory{
				osAdv("A-NEW", "debian:12", "curl", "9.9"), osAdv("A-1", "debian:12", "curl", "3.0")}},
			b:           &fakeUpdater{name: "b", version: "2"},
			wantOutcome: [2]Outcome{Kept, Unchanged},
			wantA:       map[string]string{"A-1": "1.0"},
			wantB:       map[string]string{"B-1": "2.0"},
		},
		{
			name:        "a unchanged (state survived the failures), b fails",
			a:           &fakeUpdater{name: "a", version: "1"},
			b:           &fakeUpdater{name: "b", version: "3", fetchErr: errors.New("503")},
			wantOutcome: [2]Outcome{Unchanged, Kept},
			wantA:       map[string]string{"A-1": "1.0"},
			wantB:       map[string]string{"B-1": "2.0"},
		},
		{
			name:        "a updates",
			a:           &fakeUpdater{name: "a", version: "4", advs: []*advisory.Advisory{osAdv("A-2", "debian:12", "curl", "4.0")}},
			b:           &fakeUpdater{name: "b", version: "2"},
			wantOutcome: [2]Outcome{Updated, Unchanged},
			wantA:       map[string]string{"A-2": "4.0"},
			wantB:       map[string]string{"B-1": "2.0"},
		},
	}
	for _, s := range steps {
		rep := mustUpdate(t, dir, s.a, s.b)
		got := [2]Outcome{rep.Sources[0].Outcome, rep.Sources[1].Outcome}
		if got != s.wantOutcome {
			t.Errorf("%s: outcomes %v, want %v (%+v)", s.name, got, s.wantOutcome, rep.Sources)
		}
		if (s.wantOutcome[0] == Kept || s.wantOutcome[1] == Kept) && rep.Err() == nil {
			t.Errorf("%s: Report.Err() = nil with a kept source", s.name)
		}
		db := mustOpen(t, dir)
		if diff := cmp.Diff(s.wantA, fixedOf(t, db, "debian:12", "curl")); diff != "" {
			t.Errorf("%s: a's records (-want +got):\n%s", s.name, diff)
		}
		if diff := cmp.Diff(s.wantB, fixedOf(t, db, "alpine:3.19", "curl")); diff != "" {
			t.Errorf("%s: b's records (-want +got):\n%s", s.name, diff)
		}
		if advs, _ := db.Advisory(ctx, "A-NEW"); len(advs) != 0 {
			t.Errorf("%s: partial record of a failed parse survived", s.name)
		}
	}

	// A source failing with no previous data is Failed and has no records.
	dir2 := t.TempDir()
	rep := mustUpdate(t, dir2, &fakeUpdater{name: "x", version: "1", fetchErr: errors.New("boom")})
	if rep.Sources[0].Outcome != Failed || !strings.Contains(rep.Err().Error(), "boom") {
		t.Errorf("first-run failure: %+v", rep.Sources[0])
	}
	st, err := Status(ctx, dir2)
	if err != nil || len(st.Sources) != 1 || st.Sources[0].Outcome != Failed || !strings.Contains(st.Sources[0].Error, "boom") {
		t.Errorf("status of a failed source = %+v, %v", st, err)
	}
	// Failing again is still Failed (not Kept with nothing), and a later
	// success is a full update.
	rep = mustUpdate(t, dir2, &fakeUpdater{name: "x", version: "1", fetchErr: errors.New("boom")})
	if rep.Sources[0].Outcome != Failed {
		t.Errorf("second failure: %+v", rep.Sources[0])
	}
	rep = mustUpdate(t, dir2, &fakeUpdater{name: "x", version: "1", advs: []*advisory.Advisory{osAdv("X-1", "debian:12", "x", "1")}})
	if rep.Sources[0].Outcome != Updated || rep.Sources[0].Advisories != 1 {
		t.Errorf("recovery: %+v", rep.Sources[0])
	}
}

func TestKeepOtherSources(t *testing.T) {
	dir := t.TempDir()
	a := &fakeUpdater{name: "a", version: "1", advs: []*advisory.Advisory{osAdv("A-1", "debian:12", "curl", "1.0")}}
	b := &fakeUpdater{name: "b", version: "1", advs: []*advisory.Advisory{osAdv("B-1", "alpine:3.19", "curl", "1.0")}}
	mustUpdate(t, dir, a, b)
	if _, err := Update(context.Background(), dir, updaters(a), noSource, UpdateOptions{KeepOtherSources: true}); err != nil {
		t.Fatal(err)
	}
	if got := fixedOf(t, mustOpen(t, dir), "alpine:3.19", "curl"); got["B-1"] != "1.0" {
		t.Errorf("KeepOtherSources dropped b: %v", got)
	}
	mustUpdate(t, dir, a)
	if got := fixedOf(t, mustOpen(t, dir), "alpine:3.19", "curl"); len(got) != 0 {
		t.Errorf("b kept without KeepOtherSources: %v", got)
	}
}

func TestChangedPairs(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	shared := osAdv("CVE-S", "debian:12", "bash", "5.0")
	shared.Affected = append(shared.Affected, advisory.Affected{Namespace: "debian:12", Package: "zsh", Status: advisory.StatusAffected})
	v1 := []*advisory.Advisory{
		osAdv("CVE-1", "debian:12", "curl", "1.0"),
		osAdv("CVE-2", "debian:12", "gone", "1.0"),
		osAdv("CVE-3", "debian:12", "same", "1.0"),
		shared,
	}
	rep1 := mustUpdate(t, dir, &fakeUpdater{name: "d", version: "1", advs: v1})
	if rep1.ChangedPairs != -1 {
		t.Errorf("first build ChangedPairs = %d, want -1", rep1.ChangedPairs)
	}
	old := mustOpen(t, dir)
	cs, err := old.Changes(ctx)
	if err != nil || cs.Complete {
		t.Errorf("first build change set = %+v, %v; want incomplete", cs, err)
	}

	shared2 := *shared
	shared2.Description = "reworded" // changes every pair of the advisory
	v2 := []*advisory.Advisory{
		osAdv("CVE-3", "debian:12", "same", "1.0"), // same content, other insertion order
		osAdv("CVE-1", "debian:12", "curl", "1.1"),
		osAdv("CVE-4", "alpine:3.19", "new", "1.0"),
		&shared2,
	}
	rep2 := mustUpdate(t, dir, &fakeUpdater{name: "d", version: "2", advs: v2})
	cur := mustOpen(t, dir)
	want := []Pair{{"alpine:3.19", "new"}, {"debian:12", "bash"}, {"debian:12", "curl"}, {"debian:12", "gone"}, {"debian:12", "zsh"}}
	got, err := old.ChangedPairs(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ChangedPairs (-want +got):\n%s", diff)
	}
	back, err := cur.ChangedPairs(ctx, old)
	if err != nil || !cmp.Equal(want, back) {
		t.Errorf("ChangedPairs is not symmetric: %v, %v", back, err)
	}
	if same, err := cur.ChangedPairs(ctx, cur); err != nil || len(same) != 0 {
		t.Errorf("ChangedPairs(self) = %v, %v", same, err)
	}
	cs, err = cur.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&ChangeSet{Base: old.BuildID(), Complete: true, Pairs: want}, cs); diff != "" {
		t.Errorf("recorded Changes (-want +got):\n%s", diff)
	}
	if rep2.ChangedPairs != len(want) {
		t.Errorf("Report.ChangedPairs = %d, want %d", rep2.ChangedPairs, len(want))
	}
	// An unchanged source copied forward changes nothing.
	mustUpdate(t, dir, &fakeUpdater{name: "d", version: "2"})
	cs, err = mustOpen(t, dir).Changes(ctx)
	if err != nil || !cs.Complete || len(cs.Pairs) != 0 {
		t.Errorf("copy-forward change set = %+v, %v; want complete and empty", cs, err)
	}
}

// TestReaderKeepsOldDB: a reader opened before an update keeps answering
// from the old data during and after it, even after gc deletes the file;
// readers opening after the swap see the new data.
func TestReaderKeepsOldDB(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	mustUpdate(t, dir, &fakeUpdater{name: "d", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "1.0")}})
	old := mustOpen(t, dir)
	oldPath := old.Path()

	entered, release := make(chan struct{}), make(chan struct{})
	u := &fakeUpdater{name: "d", version: "2", advs: []*advisory.Advisory{
		osAdv("CVE-1", "debian:12", "curl", "2.0"), osAdv("CVE-2", "debian:12", "curl", "2.0")},
		gate: func() { close(entered); <-release }}
	done := make(chan error, 1)
	go func() {
		_, err := Update(ctx, dir, updaters(u), noSource, UpdateOptions{})
		done <- err
	}()
	<-entered
	// Mid-update: old reader and a fresh reader both see the old data.
	if got := fixedOf(t, old, "debian:12", "curl"); !cmp.Equal(got, map[string]string{"CVE-1": "1.0"}) {
		t.Errorf("old reader during update: %v", got)
	}
	mid := mustOpen(t, dir)
	if got := fixedOf(t, mid, "debian:12", "curl"); !cmp.Equal(got, map[string]string{"CVE-1": "1.0"}) {
		t.Errorf("reader opened during update: %v", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A third build garbage-collects the first file.
	mustUpdate(t, dir, &fakeUpdater{name: "d", version: "3", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "3.0")}})
	if _, err := os.Stat(oldPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("first DB file not collected: %v", err)
	}
	if got := fixedOf(t, old, "debian:12", "curl"); !cmp.Equal(got, map[string]string{"CVE-1": "1.0"}) {
		t.Errorf("old reader after its file was deleted: %v", got)
	}
	// Parallel lookups on the old handle use every pinned connection.
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := old.Lookup(ctx, "debian:12", "curl")
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent lookup on a deleted file: %v", err)
		}
	}
	if got := fixedOf(t, mustOpen(t, dir), "debian:12", "curl"); !cmp.Equal(got, map[string]string{"CVE-1": "3.0"}) {
		t.Errorf("new reader: %v", got)
	}
	// Only the current and the previous file remain.
	if got := dbFiles(t, dir); len(got) != 2 {
		t.Errorf("DB files after three builds: %v, want 2", got)
	}
}

func dbFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), dbPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	if _, err := Open(ctx, empty); !errors.Is(err, ErrNoDB) {
		t.Errorf("empty dir: %v, want ErrNoDB", err)
	}
	if _, err := Open(ctx, filepath.Join(empty, "missing")); !errors.Is(err, ErrNoDB) {
		t.Errorf("missing dir: %v, want ErrNoDB", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, currentFile), []byte("../../etc/passwd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, bad); err == nil || !strings.Contains(err.Error(), "not a DB file") {
		t.Errorf("hostile CURRENT: %v", err)
	}
	notDB := filepath.Join(empty, "x.sqlite")
	if err := os.WriteFile(notDB, []byte("this is not sqlite"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, notDB); err == nil {
		t.Error("garbage file opened")
	}
	// Another schema version is refused with ErrSchema.
	dir := t.TempDir()
	rep := mustUpdate(t, dir, &fakeUpdater{name: "d", version: "1", advs: []*advisory.Advisory{osAdv("X", "a", "b", "1")}})
	other := filepath.Join(t.TempDir(), "db-x.sqlite")
	copyFile(t, rep.Path, other)
	setMeta(t, other, "schema_version", "999")
	if _, err := Open(ctx, other); !errors.Is(err, ErrSchema) {
		t.Errorf("schema 999: %v, want ErrSchema", err)
	}
}

func TestDuplicateUpdaterNames(t *testing.T) {
	_, err := Update(context.Background(), t.TempDir(), updaters(&fakeUpdater{name: "a"}, &fakeUpdater{name: "a"}), noSource, UpdateOptions{})
	if err == nil {
		t.Error("duplicate updater names accepted")
	}
}

func TestCanceledUpdateLeavesOldDB(t *testing.T) {
	dir := t.TempDir()
	mustUpdate(t, dir, &fakeUpdater{name: "d", version: "1", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "1.0")}})
	ctx, cancel := context.WithCancel(context.Background())
	u := &fakeUpdater{name: "d", version: "2", advs: []*advisory.Advisory{osAdv("CVE-1", "debian:12", "curl", "2.0")}, gate: cancel}
	if _, err := Update(ctx, dir, updaters(u), noSource, UpdateOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled update: %v", err)
	}
	if got := fixedOf(t, mustOpen(t, dir), "debian:12", "curl"); got["CVE-1"] != "1.0" {
		t.Errorf("after a canceled update: %v", got)
	}
	if files := dbFiles(t, dir); len(files) != 1 {
		t.Errorf("files after a canceled update: %v", files)
	}
}

// TestMissingIsAbsent: with MissingIsAbsent (a mirror), a source whose
// files are not found and that has no previous records is Absent: no error,
// no sources row. A real failure, or a source that had records, is still
// Failed or Kept; without the option a missing file is a failure.
func TestMissingIsAbsent(t *testing.T) {
	ctx := context.Background()
	missing := fmt.Errorf("get oracle/com.oracle.elsa-all.xml.bz2: 404: %w", fs.ErrNotExist)
	ok := &fakeUpdater{name: "ok", version: "1", advs: []*advisory.Advisory{osAdv("A-1", "debian:12", "curl", "1.0")}}
	gone := &fakeUpdater{name: "gone", version: "1", fetchErr: missing}
	tests := []struct {
		name  string
		opts  UpdateOptions
		first Outcome
		err   bool
	}{
		{"mirror", UpdateOptions{MissingIsAbsent: true}, Absent, false},
		{"upstream", UpdateOptions{}, Failed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rep, err := Update(ctx, dir, updaters(ok, gone), noSource, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Sources[1].Outcome; got != tt.first {
				t.Errorf("outcome %s, want %s", got, tt.first)
			}
			if (rep.Err() != nil) != tt.err {
				t.Errorf("Report.Err() = %v, want an error: %v", rep.Err(), tt.err)
			}
			st, err := Status(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range st.Sources {
				names = append(names, s.Name)
			}
			want := []string{"gone", "ok"}
			if tt.first == Absent {
				want = []string{"ok"}
			}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("sources in the DB (-want +got):\n%s", diff)
			}
		})
	}
	// A source with records that goes missing keeps them, as any failure.
	dir := t.TempDir()
	was := &fakeUpdater{name: "gone", version: "1", advs: []*advisory.Advisory{osAdv("G-1", "debian:12", "zlib", "1.0")}}
	mustUpdate(t, dir, ok, was)
	rep, err := Update(ctx, dir, updaters(ok, gone), noSource, UpdateOptions{MissingIsAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Sources[1].Outcome; got != Kept || rep.Err() == nil {
		t.Errorf("a source with records that goes missing: %s (%v), want kept with an error", got, rep.Err())
	}
}
