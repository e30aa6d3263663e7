package redhat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// vexServer serves dir over HTTP with an ETag (the content's SHA-256) and
// Last-Modified, answers conditional GETs with 304, and records every 200.
type vexServer struct {
	dir string
	mu  sync.Mutex
	got []string
}

func (s *vexServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	b, err := os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(p)))
	if err != nil || !fs.ValidPath(p) {
		http.NotFound(w, r)
		return
	}
	sum := sha256.Sum256(b)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", time.Date(2025, 11, 22, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat))
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.mu.Lock()
	s.got = append(s.got, p)
	s.mu.Unlock()
	w.Write(b)
}

// downloads returns the paths served with 200 since the last call, sorted.
func (s *vexServer) downloads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.got
	s.got = nil
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// syntheticUpstream writes an upstream VEX directory of the fixture
// document under n ids, the archive dated 2030-03-01 holding all of them
// and the last two also published beside it on 2030-03-01.
func syntheticUpstream(t *testing.T, dir string, n int) {
	t.Helper()
	good := vexFixtures(t)["2030/cve-2030-0001.json"]
	docs := map[string][]byte{}
	var changes []string
	for i := range n {
		id := fmt.Sprintf("CVE-2030-%04d", 100+i)
		p := fmt.Sprintf("2030/cve-2030-%04d.json", 100+i)
		docs[p] = []byte(strings.ReplaceAll(string(good), "CVE-2030-0001", id))
		ts := fmt.Sprintf("2030-02-%02dT00:00:00+00:00", 1+i)
		if i >= n-2 {
			ts = fmt.Sprintf("2030-03-01T0%d:00:00+00:00", i-n+3)
		}
		changes = append([]string{fmt.Sprintf("%q,%q", p, ts)}, changes...)
	}
	write := func(p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, b := range docs {
		write(p, b)
	}
	write("csaf_vex_2030-03-01.tar.zst", vexArchive(t, docs))
	write(ArchiveLatestPath, []byte("csaf_vex_2030-03-01.tar.zst"))
	write(ChangesPath, []byte(strings.Join(changes, "\n")+"\n"))
	write(DeletionsPath, nil)
}

// prependLine adds a line at the top of an index file (newest first).
func prependLine(t *testing.T, file, docPath, ts string) {
	t.Helper()
	old, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append([]byte(fmt.Sprintf("%q,%q\n", docPath, ts)), old...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVEXFetchIncremental(t *testing.T) {
	t.Run("shared", func(t *testing.T) {
		shared := testutil.Shared(t, "feeds/redhat/csaf/v2/vex")
		up := t.TempDir()
		copyTree(t, shared, up)
		testFetchIncremental(t, up, fetchCase{
			archive:   "csaf_vex_2025-11-21.tar.zst",
			firstDocs: []string{"2023/cve-2023-38545.json", "2023/cve-2023-4154.json", "2023/cve-2023-42670.json"}, // listed on the archive's day
			records:   10,
			change:    "2023/cve-2023-0049.json", changeID: "CVE-2023-0049",
			remove: "2023/cve-2023-0051.json", removeID: "CVE-2023-0051",
		})
	})
	t.Run("synthetic", func(t *testing.T) {
		up := t.TempDir()
		syntheticUpstream(t, up, 5)
		testFetchIncremental(t, up, fetchCase{
			archive:   "csaf_vex_2030-03-01.tar.zst",
			firstDocs: []string{"2030/cve-2030-0103.json", "2030/cve-2030-0104.json"},
			records:   5,
			change:    "2030/cve-2030-0100.json", changeID: "CVE-2030-0100",
			remove: "2030/cve-2030-0104.json", removeID: "CVE-2030-0104", // one fetched beside the archive
		})
	})
}

type fetchCase struct {
	archive          string
	firstDocs        []string
	records          int
	change, changeID string
	remove, removeID string
}

func testFetchIncremental(t *testing.T, up string, tc fetchCase) {
	srv := &vexServer{dir: up}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	src := source.NewHTTP(ts.URL, source.Options{})
	cache := t.TempDir()
	u := NewVEX(VEXOptions{}).WithCacheDir(cache)
	ctx := context.Background()

	parse := func(snap feed.Snapshot) map[string]*advisory.Advisory {
		t.Helper()
		got, st, err := parseVEX(t, NewVEX(VEXOptions{}), snap.FS)
		if err != nil || len(st.Malformed) != 0 {
			t.Fatalf("parse: %v, malformed %+v", err, st.Malformed)
		}
		return got
	}
	fetch := func(prev feed.State) feed.Snapshot {
		t.Helper()
		snap, err := u.Fetch(ctx, src, prev)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}

	// 1. First run: the archive, the indexes and the documents listed on
	// or after the archive's day.
	snap := fetch(nil)
	want := append([]string{ArchiveLatestPath, ChangesPath, DeletionsPath, tc.archive}, tc.firstDocs...)
	sort.Strings(want)
	if d := cmp.Diff(want, srv.downloads()); d != "" {
		t.Errorf("first run downloads (-want +got):\n%s", d)
	}
	if got := parse(snap); len(got) != tc.records {
		t.Errorf("first run: %d records, want %d", len(got), tc.records)
	}
	snap.Close()
	state := snap.State

	// 2. Nothing changed: unchanged, nothing downloaded.
	snap = fetch(state)
	if !snap.Unchanged || snap.FS != nil {
		t.Errorf("second run: Unchanged=%v FS=%v, want unchanged", snap.Unchanged, snap.FS)
	}
	if d := cmp.Diff([]string{}, srv.downloads()); d != "" {
		t.Errorf("second run downloads (-want +got):\n%s", d)
	}
	state = snap.State

	// 3. One document changed: only it and changes.csv are downloaded.
	docFile := filepath.Join(up, filepath.FromSlash(tc.change))
	b, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"cve": "`+tc.changeID+`"`, `"x-test": "revised in the test", "cve": "`+tc.changeID+`"`, 1))
	if !strings.Contains(string(b), "revised in the test") {
		t.Fatal("could not edit the document")
	}
	if err := os.WriteFile(docFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	prependLine(t, filepath.Join(up, ChangesPath), tc.change, "2031-01-01T00:00:00+00:00")
	snap = fetch(state)
	if snap.Unchanged {
		t.Fatal("third run: unchanged after a document changed")
	}
	if d := cmp.Diff([]string{tc.change, ChangesPath}, srv.downloads()); d != "" {
		t.Errorf("third run downloads (-want +got):\n%s", d)
	}
	got := parse(snap)
	if len(got) != tc.records || got[tc.changeID] == nil {
		t.Errorf("third run: %d records (want %d), %s present %v", len(got), tc.records, tc.changeID, got[tc.changeID] != nil)
	}
	if !hasTitle(t, snap, tc.change, "revised in the test") {
		t.Errorf("third run: the snapshot's %s is not the changed document", tc.change)
	}
	snap.Close()
	state = snap.State

	// 4. A document deleted upstream disappears; only deletions.csv is read.
	if err := os.Remove(filepath.Join(up, filepath.FromSlash(tc.remove))); err != nil {
		t.Fatal(err)
	}
	prependLine(t, filepath.Join(up, DeletionsPath), tc.remove, "2031-01-02T00:00:00+00:00")
	snap = fetch(state)
	if snap.Unchanged {
		t.Fatal("fourth run: unchanged after a deletion")
	}
	if d := cmp.Diff([]string{DeletionsPath}, srv.downloads()); d != "" {
		t.Errorf("fourth run downloads (-want +got):\n%s", d)
	}
	got = parse(snap)
	if len(got) != tc.records-1 || got[tc.removeID] != nil || got[tc.changeID] == nil {
		t.Errorf("fourth run: %d records (want %d), %s present %v", len(got), tc.records-1, tc.removeID, got[tc.removeID] != nil)
	}
	snap.Close()
	state = snap.State

	// Leftovers of an interrupted run are removed by the next one.
	for _, p := range []string{".snapshot-123/x", ".part-9", "2030/.part-1"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(cache, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cache, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// (A change listed again with the same bytes: unchanged.)
	prependLine(t, filepath.Join(up, ChangesPath), tc.change, "2031-01-02T12:00:00+00:00")
	snap = fetch(state)
	if !snap.Unchanged {
		t.Error("a document listed again with the same bytes: not unchanged")
		snap.Close()
	}
	state = snap.State
	if d := cmp.Diff([]string{ChangesPath}, srv.downloads()); d != "" {
		t.Errorf("re-listed document downloads (-want +got):\n%s", d)
	}
	for _, p := range []string{".snapshot-123", ".part-9", "2030/.part-1"} {
		if _, err := os.Stat(filepath.Join(cache, p)); err == nil {
			t.Errorf("%s left in the cache", p)
		}
	}

	// 5. A lost cache (or one that does not match the state) starts over.
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	prependLine(t, filepath.Join(up, ChangesPath), tc.change, "2031-01-03T00:00:00+00:00")
	snap = fetch(state)
	if dl := srv.downloads(); !contains(dl, tc.archive) {
		t.Errorf("after losing the cache: downloads %v, want the archive again", dl)
	}
	got = parse(snap)
	if len(got) != tc.records-1 || got[tc.removeID] != nil {
		t.Errorf("after losing the cache: %d records (want %d), %s present %v", len(got), tc.records-1, tc.removeID, got[tc.removeID] != nil)
	}
	snap.Close()

	// The snapshots are gone; the cache holds one archive.
	ents, _ := os.ReadDir(cache)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".snapshot-") || strings.HasPrefix(n, ".part-") {
			t.Errorf("left in the cache: %s", n)
		}
	}
}

func hasTitle(t *testing.T, snap feed.Snapshot, p, title string) bool {
	t.Helper()
	b, err := fs.ReadFile(snap.FS, p)
	return err == nil && strings.Contains(string(b), title)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
