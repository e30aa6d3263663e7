package redhat

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	sev "github.com/stowaway-scanner/stowaway/internal/severity"
)

// vexFixtures reads testdata/vex/<year>/*.json, keyed by upstream path.
func vexFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	root := filepath.Join("testdata", "vex")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// vexArchive builds a csaf_vex tar.zst of docs (upstream paths).
func vexArchive(t testing.TB, docs map[string][]byte) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(docs[n]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(docs[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return zstdBytes(t, tb.Bytes())
}

func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return zb.Bytes()
}

func parseVEX(t testing.TB, u *VEX, fsys fs.FS) (map[string]*advisory.Advisory, feed.Stats, error) {
	t.Helper()
	out := map[string]*advisory.Advisory{}
	st, err := u.Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		if _, dup := out[a.ID]; dup {
			t.Errorf("%s emitted twice", a.ID)
		}
		out[a.ID] = a
		return nil
	})
	return out, st, err
}

func fixed(v string) []advisory.Range { return fixedRange(v) }

// TestVEXParseFixture checks every status and remediation combination, a
// module stream, an EUS product and the products that are skipped, on a
// document written from the CSAF 2.0 VEX profile as Red Hat fills it.
func TestVEXParseFixture(t *testing.T) {
	docs := vexFixtures(t)
	fsys := fstest.MapFS{}
	for p, b := range docs {
		fsys[p] = &fstest.MapFile{Data: b}
	}
	got, st, err := parseVEX(t, NewVEX(VEXOptions{}), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 2 || len(st.Malformed) != 0 {
		t.Fatalf("stats %+v, want 2 records and none malformed", st)
	}
	a := got["CVE-2030-0001"]
	if a == nil {
		t.Fatal("CVE-2030-0001 not emitted")
	}
	hi := sev.High
	src := advisory.KindSource
	want := []advisory.Affected{
		{Namespace: "rhel:7", Package: "bar", Kind: src, Status: advisory.StatusWillNotFix, Severity: hi},      // known_affected + no_fix_planned "Out of support scope"
		{Namespace: "rhel:7", Package: "corge", Kind: src, Status: advisory.StatusAffected, Severity: sev.Low}, // known_affected, a workaround only
		{Namespace: "rhel:8", Package: "bar", Kind: src, Status: advisory.StatusWillNotFix, Severity: hi},      // known_affected + no_fix_planned "Will not fix"; plain "bar" is its binary
		{Namespace: "rhel:8", Package: "postgresql", Kind: src, Module: "postgresql:13", Status: advisory.StatusAffected, Severity: hi},
		{Namespace: "rhel:8", Package: "qux", Kind: src, Status: advisory.StatusAffected, Severity: hi},    // known_affected, no remediation
		{Namespace: "rhel:9", Package: "bar", Kind: src, Status: advisory.StatusNotAffected, Severity: hi}, // bar.src; the binaries bar, bar-libs are covered by it
		{Namespace: "rhel:9", Package: "baz", Kind: src, Status: advisory.StatusAffected, Severity: hi},    // known_affected + none_available
		{Namespace: "rhel:9", Package: "foo", Kind: src, Status: advisory.StatusFixed, Ranges: fixed("1.2-3.el9_3"), Severity: hi, Advisory: "RHSA-2030:0001"},
		{Namespace: "rhel:9", Package: "nodejs", Kind: src, Module: "nodejs:18", Status: advisory.StatusFixed, Ranges: fixed("1:18.17.1-1.module+el9.3.0+19753+58c7b6ab"), Severity: hi, Advisory: "RHSA-2030:0001"},
		{Namespace: "rhel:9", Package: "quux", Kind: src, Status: advisory.StatusAffected, Severity: hi}, // under_investigation
		{Namespace: "rhel:9.2-eus", Package: "foo", Kind: src, Status: advisory.StatusFixed, Ranges: fixed("1.2-2.el9_2.1"), Severity: hi, Advisory: "RHSA-2030:0002"},
	}
	if d := cmp.Diff(want, a.Affected); d != "" {
		t.Errorf("affected (-want +got):\n%s", d)
	}
	head := *a
	head.Affected = nil
	wantHead := advisory.Advisory{
		ID: "CVE-2030-0001", Source: "redhat-vex", Summary: "foo: a made-up flaw",
		Description:    "A flaw was found in foo.\n\nOnly foo builds with the frobnicator are affected.",
		VendorSeverity: "Important", Severity: hi,
		CVSS:       []advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5, Source: "redhat"}},
		References: []string{"https://access.redhat.com/security/cve/CVE-2030-0001", "https://bugzilla.redhat.com/show_bug.cgi?id=1"},
		Published:  time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Modified:   time.Date(2030, 2, 3, 4, 5, 6, 0, time.UTC),
	}
	if d := cmp.Diff(wantHead, head); d != "" {
		t.Errorf("advisory (-want +got):\n%s", d)
	}
	if !got["CVE-2030-0002"].Rejected {
		t.Error("CVE-2030-0002 ([REJECTED CVE]) is not marked rejected")
	}
	if want := time.Date(2030, 2, 3, 4, 5, 6, 0, time.UTC); !st.Newest.Equal(want) {
		t.Errorf("Newest = %v, want %v", st.Newest, want)
	}
}

func TestParseComponent(t *testing.T) {
	tests := []struct {
		id, purl string
		want     component
		ok       bool
		err      string
	}{
		{id: "curl.src", purl: "pkg:rpm/redhat/curl?arch=src", want: component{name: "curl", src: true, purl: true}, ok: true},
		{id: "libcurl", purl: "pkg:rpm/redhat/libcurl", want: component{name: "libcurl", plain: true, purl: true}, ok: true},
		{id: "x", purl: "pkg:rpm/redhat/curl@7.76.1-26.el9_3.2?arch=src", want: component{name: "curl", evr: "7.76.1-26.el9_3.2", src: true, purl: true}, ok: true},
		{id: "x", purl: "pkg:rpm/redhat/mysql@8.0.32-1.module%2Bel8.8.0%2B1?arch=src&epoch=3&rpmmod=mysql:8.0:8080020230221:abc", want: component{name: "mysql", module: "mysql:8.0", evr: "3:8.0.32-1.module+el8.8.0+1", src: true, purl: true}, ok: true},
		{id: "x", purl: "pkg:oci/ubi9?tag=9.3", ok: false},
		{id: "x", purl: "pkg:rpm/redhat/curl@7.76.1?arch=src", err: "not version-release"},
		{id: "x", purl: "pkg:rpm/redhat/curl?rpmmod=nostream", err: "bad rpmmod"},
		{id: "x", purl: "pkg:rpm/redhat/curl@1-2?arch=src&epoch=x", err: "bad epoch"},
		{id: "x", purl: "not a purl", err: "purl"},
		{id: "vim", want: component{name: "vim", plain: true}, ok: true},
		{id: "vim.src", want: component{name: "vim", src: true}, ok: true},
		{id: "nodejs:18/nodejs", want: component{name: "nodejs", module: "nodejs:18", plain: true}, ok: true},
		{id: "curl-0:7.76.1-26.el9_3.2.src", want: component{name: "curl", evr: "7.76.1-26.el9_3.2", src: true}, ok: true},
		{id: "curl-0:7.76.1-26.el9_3.2.x86_64", want: component{name: "curl", evr: "7.76.1-26.el9_3.2"}, ok: true},
		{id: "rhel9/ruby-30", ok: false},
		{id: "bad name!", err: "not a package name"},
		{id: "x-1:y", err: "neither"},
	}
	for _, tc := range tests {
		var pr *csafProduct
		if tc.purl != "" {
			pr = &csafProduct{ProductID: tc.id}
			pr.Helper.PURL = tc.purl
		}
		got, ok, err := parseComponent(tc.id, pr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %s: err %v, want one containing %q", tc.id, tc.purl, err, tc.err)
			}
			continue
		}
		if err != nil || ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s %s = %+v, %v, %v; want %+v, %v", tc.id, tc.purl, got, ok, err, tc.want, tc.ok)
		}
	}
}

// TestVEXParseMalformed: broken documents are counted, never fatal.
func TestVEXParseMalformed(t *testing.T) {
	good := vexFixtures(t)["2030/cve-2030-0001.json"]
	badPurl := bytes.Replace(good, []byte(`"purl": "pkg:rpm/redhat/quux"`), []byte(`"purl": "pkg:rpm/redhat/quux?rpmmod=x"`), 1)
	fsys := fstest.MapFS{
		"2030/cve-2030-0001.json": {Data: badPurl},
		"2030/cve-2030-0003.json": {Data: good[:len(good)/2]},
		"2030/cve-2030-0004.json": {Data: []byte(`{"document":{"tracking":{"id":"CVE-2030-0004"}},"vulnerabilities":[]}`)},
		"2030/cve-2030-0005.json": {Data: []byte(`{"document":{"tracking":{"id":"RHSA-2030:1"}},"vulnerabilities":[{"cve":""}]}`)},
		"2030/cve-2030-0006.json": {Data: []byte(`{"document":{"tracking":{"id":"CVE-2030-0006","status":"deleted"}},"vulnerabilities":[{"cve":"CVE-2030-0006"}]}`)},
		"2030/cve-2030-0007.json": {Data: bytes.Repeat([]byte(" "), 2<<10)},
		"2030/README":             {Data: []byte("not a document")},
	}
	got, st, err := parseVEX(t, NewVEX(VEXOptions{MaxDocSize: 1 << 10 * 64}), fsys)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range st.Malformed {
		ids = append(ids, m.ID+": "+strings.SplitN(m.Err, ":", 2)[0])
	}
	want := []string{
		"CVE-2030-0001: under_investigation red_hat_enterprise_linux_9",
		"CVE-2030-0003: decode",
		"CVE-2030-0004: document \"CVE-2030-0004\" has no vulnerabilities",
		"CVE-2030-0005: vulnerability 0",
		"CVE-2030-0007: decode",
	}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("malformed (-want +got):\n%s\n%+v", d, st.Malformed)
	}
	if st.Records != 1 || got["CVE-2030-0001"] == nil || st.Withdrawn != 1 {
		t.Errorf("records %d (want 1: the document with one bad component still counts), withdrawn %d (want 1)", st.Records, st.Withdrawn)
	}
	if n := len(got["CVE-2030-0001"].Affected); n != 10 {
		t.Errorf("CVE-2030-0001 has %d entries, want the 10 that remain without quux", n)
	}
	// Too large for MaxDocSize: counted.
	_, st, err = parseVEX(t, NewVEX(VEXOptions{MaxDocSize: 100}), fstest.MapFS{"2030/cve-2030-0001.json": {Data: good}})
	if err != nil || len(st.Malformed) != 1 || !strings.Contains(st.Malformed[0].Err, "size limit") {
		t.Errorf("oversized document: %v, %+v", err, st.Malformed)
	}
	// Nothing to read at all is an error.
	if _, _, err := parseVEX(t, NewVEX(VEXOptions{}), fstest.MapFS{"x": {}}); err == nil {
		t.Error("an empty snapshot parsed without error")
	}
	if _, _, err := parseVEX(t, NewVEX(VEXOptions{}), fstest.MapFS{ArchiveLatestPath: {Data: []byte("../etc/passwd")}}); err == nil || !strings.Contains(err.Error(), "not a csaf_vex") {
		t.Errorf("a bad archive_latest.txt: %v", err)
	}
}

// TestVEXArchiveOverlay: documents beside the archive replace its copy;
// deletions.csv removes documents unless changes.csv lists them later.
func TestVEXArchiveOverlay(t *testing.T) {
	good := vexFixtures(t)["2030/cve-2030-0001.json"]
	doc := func(id string) []byte { return bytes.ReplaceAll(good, []byte("CVE-2030-0001"), []byte(id)) }
	archive := vexArchive(t, map[string][]byte{
		"2030/cve-2030-0001.json": doc("CVE-2030-0001"),
		"2030/cve-2030-0010.json": doc("CVE-2030-0010"),
		"2030/cve-2030-0011.json": doc("CVE-2030-0011"),
		"2030/cve-2030-0012.json": doc("CVE-2030-0012"),
	})
	newer := bytes.ReplaceAll(doc("CVE-2030-0010"), []byte(`"foo: a made-up flaw"`), []byte(`"foo: revised"`))
	fsys := fstest.MapFS{
		ArchiveLatestPath:             {Data: []byte("csaf_vex_2030-03-01.tar.zst\n")},
		"csaf_vex_2030-03-01.tar.zst": {Data: archive},
		"2030/cve-2030-0010.json":     {Data: newer},
		ChangesPath:                   {Data: []byte("\"2030/cve-2030-0010.json\",\"2030-03-02T00:00:00+00:00\"\n\"2030/cve-2030-0012.json\",\"2030-02-20T00:00:00+00:00\"\n")},
		DeletionsPath:                 {Data: []byte("\"2030/cve-2030-0011.json\",\"2030-03-02T01:00:00+00:00\"\n\"2030/cve-2030-0012.json\",\"2030-02-10T00:00:00+00:00\"\n")},
	}
	got, st, err := parseVEX(t, NewVEX(VEXOptions{}), fsys)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// 0011 was deleted; 0012 was deleted and then changed again (re-published).
	if d := cmp.Diff([]string{"CVE-2030-0001", "CVE-2030-0010", "CVE-2030-0012"}, ids); d != "" || st.Records != 3 {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if s := got["CVE-2030-0010"].Summary; s != "foo: revised" {
		t.Errorf("CVE-2030-0010 summary %q: the archive's copy won over the newer document", s)
	}
	// A malformed changes.csv fails the Parse with the line.
	fsys[ChangesPath] = &fstest.MapFile{Data: []byte("\"2030/cve-2030-0010.json\",\"yesterday\"\n")}
	if _, _, err := parseVEX(t, NewVEX(VEXOptions{}), fsys); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad changes.csv: %v", err)
	}
}

// TestVEXArchiveBombs: decompressed size and entry count are capped.
func TestVEXArchiveBombs(t *testing.T) {
	zeros := make([]byte, 4<<20)
	big := vexArchive(t, map[string][]byte{"2030/cve-2030-0001.json": zeros})
	if len(big) > 64<<10 {
		t.Fatalf("the bomb is %d bytes compressed", len(big))
	}
	many := map[string][]byte{}
	for i := range 50 {
		many[fmt.Sprintf("2030/cve-2030-%04d.json", 100+i)] = []byte("{}")
	}
	tests := []struct {
		name    string
		archive []byte
		opts    VEXOptions
		want    string
	}{
		{"size", big, VEXOptions{MaxArchiveSize: 1 << 20, MaxDocSize: 8 << 20}, "more than 1048576 decompressed bytes"},
		{"entries", vexArchive(t, many), VEXOptions{MaxArchiveEntries: 10}, "more than 10 entries"},
		{"not zstd", []byte("plain text"), VEXOptions{}, "zstd"},
		{"not tar", zstdBytes(t, []byte("plain text, no tar header at all")), VEXOptions{}, "tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				ArchiveLatestPath:             {Data: []byte("csaf_vex_2030-03-01.tar.zst")},
				"csaf_vex_2030-03-01.tar.zst": {Data: tc.archive},
			}
			_, _, err := parseVEX(t, NewVEX(tc.opts), fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	// An oversized document inside a valid archive is counted, not fatal.
	_, st, err := parseVEX(t, NewVEX(VEXOptions{MaxDocSize: 1 << 20}), fstest.MapFS{
		ArchiveLatestPath:             {Data: []byte("csaf_vex_2030-03-01.tar.zst")},
		"csaf_vex_2030-03-01.tar.zst": {Data: big},
	})
	if err != nil || len(st.Malformed) != 1 {
		t.Errorf("oversized archive entry: %v, %+v", err, st.Malformed)
	}
}

func TestReadIndexErrors(t *testing.T) {
	for _, in := range []string{
		"\"2030/cve-2030-0001.json\"\n",
		"\"../../etc/passwd\",\"2030-01-01T00:00:00Z\"\n",
		"\"2030/cve-2030-0001.json\",\"2030-01-01\"\n",
	} {
		if _, err := readIndex(strings.NewReader(in), ChangesPath); err == nil {
			t.Errorf("readIndex(%q) accepted it", in)
		}
	}
	got, err := readIndex(strings.NewReader("\"2030/cve-2030-0001.json\",\"2030-01-01T00:00:00+02:00\"\n"), ChangesPath)
	want := []change{{Path: "2030/cve-2030-0001.json", Time: time.Date(2029, 12, 31, 22, 0, 0, 0, time.UTC)}}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("readIndex = %v, %v", got, err)
	}
	if _, err := readIndex(strings.NewReader(""), ChangesPath); err != nil {
		t.Errorf("an empty index: %v", err)
	}
}

// TestOnlineUsesVEX: online, the CVE API crawl is skipped in favour of VEX.
func TestOnlineUsesVEX(t *testing.T) {
	var cve feed.Updater = New()
	if _, ok := cve.(feed.MirrorOnly); !ok {
		t.Error("the CVE API updater is not feed.MirrorOnly: online updates would crawl every CVE")
	}
	var vex feed.Updater = NewVEX(VEXOptions{})
	if _, ok := vex.(feed.MirrorOnly); ok {
		t.Error("the VEX updater is feed.MirrorOnly")
	}
	if _, ok := vex.(feed.Cacher); !ok {
		t.Error("the VEX updater is not feed.Cacher: every update would download the archive")
	}
	if c := vex.(feed.Cacher).WithCacheDir("/x"); c.(*VEX).opts.CacheDir != "/x" || c.Name() != vex.Name() {
		t.Errorf("WithCacheDir: %+v", c)
	}
}
