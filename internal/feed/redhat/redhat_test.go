package redhat

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// fixtureFiles reads testdata/cve/*.json.
func fixtureFiles(t testing.TB) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("testdata", "cve"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("testdata", "cve", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// bundle builds a cve.tar.gz holding cve/<name> for every file.
func bundle(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tw.WriteHeader(&tar.Header{Name: "cve/", Typeflag: tar.TypeDir, Mode: 0o755}))
	for _, n := range names {
		must(tw.WriteHeader(&tar.Header{Name: "cve/" + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))}))
		_, err := tw.Write(files[n])
		must(err)
	}
	must(tw.Close())
	must(zw.Close())
	return buf.Bytes()
}

func dirFS(files map[string][]byte) fstest.MapFS {
	m := fstest.MapFS{}
	for n, b := range files {
		m[CVEDir+"/"+n] = &fstest.MapFile{Data: b}
	}
	return m
}

type result struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parseAll(t testing.TB, u *Updater, fsys fs.FS) (result, error) {
	t.Helper()
	var r result
	st, err := u.Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		r.Advisories = append(r.Advisories, a)
		return nil
	})
	r.Stats = st
	return r, err
}

func golden(t *testing.T, file string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(b)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", file, d)
	}
}

// TestParseGolden parses the fixtures as a directory and as a bundle: both
// must give the same result, which is compared with the golden file.
func TestParseGolden(t *testing.T) {
	files := fixtureFiles(t)
	u := New()
	fromDir, err := parseAll(t, u, dirFS(files))
	if err != nil {
		t.Fatal(err)
	}
	fromBundle, err := parseAll(t, u, fstest.MapFS{BundlePath: &fstest.MapFile{Data: bundle(t, files)}})
	if err != nil {
		t.Fatal(err)
	}
	// Malformed file names differ by layout; compare them without it.
	strip := func(ms []feed.Malformed) []feed.Malformed {
		var out []feed.Malformed
		for _, m := range ms {
			m.File = filepath.Base(strings.TrimPrefix(m.File, BundlePath+":"))
			out = append(out, m)
		}
		return out
	}
	if d := cmp.Diff(fromDir.Advisories, fromBundle.Advisories); d != "" {
		t.Errorf("bundle and directory differ (-dir +bundle):\n%s", d)
	}
	if d := cmp.Diff(strip(fromDir.Stats.Malformed), strip(fromBundle.Stats.Malformed)); d != "" {
		t.Errorf("malformed differ (-dir +bundle):\n%s", d)
	}
	golden(t, filepath.Join("testdata", "golden", "advisories.json"), fromDir)
}

// TestParseSemantics spells out the key mapping decisions independently of
// the golden file.
func TestParseSemantics(t *testing.T) {
	r, err := parseAll(t, New(), dirFS(fixtureFiles(t)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Stats.Records != 3 {
		t.Errorf("Records = %d, want 3", r.Stats.Records)
	}
	type key struct{ id, ns, pkg, module, status, fixed, advisory string }
	var got []key
	for _, a := range r.Advisories {
		for _, af := range a.Affected {
			fixed := ""
			for _, rg := range af.Ranges {
				for _, e := range rg.Events {
					if e.Fixed != "" {
						fixed = e.Fixed
					}
				}
			}
			got = append(got, key{a.ID, af.Namespace, af.Package, af.Module, string(af.Status), fixed, af.Advisory})
		}
	}
	want := []key{
		{"CVE-2023-0001", "rhel:7", "curl", "", "will-not-fix", "", ""},
		{"CVE-2023-0001", "rhel:7", "libcurl-compat", "", "not-affected", "", ""},
		{"CVE-2023-0001", "rhel:7-els", "curl", "", "affected", "", ""},
		{"CVE-2023-0001", "rhel:8", "curl", "", "will-not-fix", "", ""},
		{"CVE-2023-0001", "rhel:9", "curl", "", "fixed", "7.76.1-26.el9_3.2", "RHSA-2023:6001"},
		{"CVE-2023-0001", "rhel:9", "curl", "", "fixed", "7.76.1-29.el9_4", "RHSA-2024:1001"},
		{"CVE-2023-0001", "rhel:9.0-e4s", "curl", "", "fixed", "7.76.1-14.el9_0.8", "RHSA-2023:6003"},
		{"CVE-2023-0001", "rhel:9.2-eus", "curl", "", "fixed", "7.76.1-23.el9_2.5", "RHSA-2023:6002"},
		{"CVE-2023-0002", "rhel:7", "rh-nodejs14-nodejs", "", "not-affected", "", ""},
		{"CVE-2023-0002", "rhel:8", "nodejs", "nodejs:18", "affected", "", ""},
		{"CVE-2023-0002", "rhel:8", "nodejs-nodemon", "nodejs:20", "affected", "", ""},
		{"CVE-2023-0002", "rhel:8", "nodejs:16", "nodejs:16", "fixed", "8080020230718093046", "RHSA-2023:4002"},
		{"CVE-2023-0002", "rhel:8.6-eus", "nodejs:16", "nodejs:16", "fixed", "8060020230720090033", "RHSA-2023:4003"},
		{"CVE-2023-0002", "rhel:9", "nodejs", "nodejs:20", "fixed", "1:20.5.1-1.module+el9.2.0+19753+58118bc0", "RHSA-2023:4004"},
		{"CVE-2023-0002", "rhel:9", "nodejs:18", "nodejs:18", "fixed", "9020020230627125009", "RHSA-2023:4001"},
		{"CVE-2023-0003", "rhel:8", "openssl", "", "fixed", "1:1.1.1k-9.el8_7", "RHSA-2023:0102"},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(key{})); d != "" {
		t.Errorf("affected entries (-want +got):\n%s", d)
	}
	var bad []string
	for _, m := range r.Stats.Malformed {
		bad = append(bad, m.ID)
	}
	wantBad := []string{"CVE-2023-0003", "CVE-2023-0003", "CVE-2023-0003", "CVE-2023-0004", "CVE-2023-0005"}
	if d := cmp.Diff(wantBad, bad); d != "" {
		t.Errorf("malformed ids (-want +got):\n%s", d)
	}
}

func TestNamespace(t *testing.T) {
	for _, tc := range []struct {
		cpe, want string
	}{
		{"cpe:/o:redhat:enterprise_linux:9", "rhel:9"},
		{"cpe:/a:redhat:enterprise_linux:8::appstream", "rhel:8"},
		{"cpe:/a:redhat:enterprise_linux:8::nfv", "rhel:8"},
		{"cpe:/o:redhat:enterprise_linux:7::hypervisor", "rhel:7"},
		{"cpe:/a:redhat:rhel_eus:9.2::highavailability", "rhel:9.2-eus"},
		{"cpe:/o:redhat:rhel_aus:8.4", "rhel:8.4-aus"},
		{"cpe:/o:redhat:rhel_e4s:9.0", "rhel:9.0-e4s"},
		{"cpe:/o:redhat:rhel_tus:8.6", "rhel:8.6-tus"},
		{"cpe:/o:redhat:rhel_els:7", "rhel:7-els"},
		{"cpe:/a:redhat:rhel_extras_rt_els:7", "rhel:7-els"},
		{"cpe:/a:redhat:rhel_extras_rt:7", "rhel:7"},
		{"cpe:/a:redhat:rhel_extras_oracle_java:7", "rhel:7"},
		{"cpe:/o:redhat:enterprise_linux:6", ""},
		{"cpe:/o:redhat:rhel_eus:6.7", ""},
		{"cpe:/a:redhat:openshift:4.14::el9", ""},
		{"cpe:/a:redhat:enterprise_linux:x", ""},
		{"cpe:/o:fedora:enterprise_linux:9", ""},
		{"", ""},
	} {
		got, ok := namespace(tc.cpe)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("namespace(%q) = %q, %v; want %q", tc.cpe, got, ok, tc.want)
		}
	}
}

func TestFixedEntry(t *testing.T) {
	for _, tc := range []struct {
		pkg                 string
		name, module, fixed string
		skip, wantErr       bool
	}{
		{pkg: "curl-0:7.76.1-26.el9_3.2", name: "curl", fixed: "7.76.1-26.el9_3.2"},
		{pkg: "java-1.8.0-openjdk-1:1.8.0.392.b08-2.el7_9", name: "java-1.8.0-openjdk", fixed: "1:1.8.0.392.b08-2.el7_9"},
		{pkg: "firefox-68.0-1.el7", name: "firefox", fixed: "68.0-1.el7"},
		{pkg: "mysql:8.0-8000020190807131617.f8e95b4e", name: "mysql:8.0", module: "mysql:8.0", fixed: "8000020190807131617"},
		{pkg: "container-tools:rhel8-8100020241101101019.afee755d", name: "container-tools:rhel8", module: "container-tools:rhel8", fixed: "8100020241101101019"},
		{pkg: "nodejs:18/nodejs-1:18.17.1-1.module+el9.2.0+19753+58118bc0", name: "nodejs", module: "nodejs:18", fixed: "1:18.17.1-1.module+el9.2.0+19753+58118bc0"},
		{pkg: "kpatch-patch", skip: true},
		{pkg: "rhel9/openssl:9.0-25", skip: true},
		{pkg: "rhel9/flatpak-runtime:el9-9030020230825103938.1706180714", skip: true},
		{pkg: "openssl 3.0.7", wantErr: true},
		{pkg: "", wantErr: true},
		{pkg: "nodejs:18/garbage", wantErr: true},
		{pkg: ":/x-0:1-1", wantErr: true},
	} {
		af, skip, err := fixedEntry(tc.pkg)
		if skip != tc.skip || (err != nil) != tc.wantErr {
			t.Errorf("fixedEntry(%q): skip=%v err=%v; want skip=%v err=%v", tc.pkg, skip, err, tc.skip, tc.wantErr)
			continue
		}
		if skip || err != nil {
			continue
		}
		want := advisory.Affected{Package: tc.name, Module: tc.module, Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixedRange(tc.fixed)}
		if d := cmp.Diff(want, af); d != "" {
			t.Errorf("fixedEntry(%q) (-want +got):\n%s", tc.pkg, d)
		}
	}
}

func TestStateName(t *testing.T) {
	for _, tc := range []struct {
		in, name, module string
		skip, wantErr    bool
	}{
		{in: "curl", name: "curl"},
		{in: "nodejs:18/nodejs", name: "nodejs", module: "nodejs:18"},
		{in: "virt:av/qemu-kvm", name: "qemu-kvm", module: "virt:av"},
		{in: "rhel9/ruby-30", skip: true},
		{in: "ch.qos.logback/logback-core", skip: true},
		{in: "open ssl", wantErr: true},
		{in: "a:b/c d", wantErr: true},
	} {
		name, module, skip, err := stateName(tc.in)
		if name != tc.name || module != tc.module || skip != tc.skip || (err != nil) != tc.wantErr {
			t.Errorf("stateName(%q) = %q, %q, %v, %v; want %q, %q, %v, err=%v", tc.in, name, module, skip, err, tc.name, tc.module, tc.skip, tc.wantErr)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fs.FS
		want string
	}{
		{"empty", fstest.MapFS{}, "neither"},
		{"not gzip", fstest.MapFS{BundlePath: &fstest.MapFile{Data: []byte("plain text")}}, "gzip"},
		{"truncated tar", fstest.MapFS{BundlePath: &fstest.MapFile{Data: truncated(t)}}, "redhat: parse"},
	} {
		_, err := parseAll(t, New(), tc.fsys)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func truncated(t *testing.T) []byte {
	b := bundle(t, fixtureFiles(t))
	var raw bytes.Buffer
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(&raw, zr); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(raw.Bytes()[:raw.Len()/2+100])
	zw.Close()
	return out.Bytes()
}

func TestParseRecordSizeLimit(t *testing.T) {
	files := fixtureFiles(t)
	u := NewWithOptions(Options{MaxRecordSize: 1000})
	for name, fsys := range map[string]fs.FS{
		"dir":    dirFS(files),
		"bundle": fstest.MapFS{BundlePath: &fstest.MapFile{Data: bundle(t, files)}},
	} {
		r, err := parseAll(t, u, fsys)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tooLarge := 0
		for _, m := range r.Stats.Malformed {
			if strings.Contains(m.Err, "size limit") {
				tooLarge++
			}
		}
		// CVE-2023-0001, -0002 and -0003 are larger than 1000 bytes.
		if tooLarge != 3 || r.Stats.Records != 0 {
			t.Errorf("%s: %d too-large records and %d parsed, want 3 and 0: %+v", name, tooLarge, r.Stats.Records, r.Stats.Malformed)
		}
	}
}

func TestParseEmitError(t *testing.T) {
	boom := errors.New("boom")
	_, err := New().Parse(context.Background(), dirFS(fixtureFiles(t)), func(*advisory.Advisory) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

// querySource adds the paged index to a source that cannot list.
type querySource struct {
	*feedtest.Source
	ids     []string
	queries []string
}

func (q *querySource) GetQuery(_ context.Context, p string, query url.Values) (io.ReadCloser, error) {
	q.queries = append(q.queries, p+"?"+query.Encode())
	per, _ := strconv.Atoi(query.Get("per_page"))
	page, _ := strconv.Atoi(query.Get("page"))
	lo, hi := (page-1)*per, page*per
	lo, hi = min(lo, len(q.ids)), min(hi, len(q.ids))
	var entries []map[string]string
	for _, id := range q.ids[lo:hi] {
		entries = append(entries, map[string]string{"CVE": id, "resource_url": "https://access.redhat.com/hydra/rest/securitydata/cve/" + id + ".json"})
	}
	b, _ := json.Marshal(entries)
	return io.NopCloser(bytes.NewReader(b)), nil
}

func readSnapshot(t *testing.T, snap feed.Snapshot) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(snap.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestFetchBundle(t *testing.T) {
	files := fixtureFiles(t)
	src := &feedtest.Source{Files: map[string]string{BundlePath: string(bundle(t, files)), CPEMapPath: `{"data":{}}`}}
	u := New()
	ctx := context.Background()
	snap, err := u.Fetch(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if snap.Unchanged {
		t.Fatal("first fetch is unchanged")
	}
	if d := cmp.Diff([]string{CPEMapPath, BundlePath}, readSnapshot(t, snap)); d != "" {
		t.Errorf("snapshot files (-want +got):\n%s", d)
	}
	r, err := parseAll(t, u, snap.FS)
	if err != nil || r.Stats.Records != 3 {
		t.Fatalf("parse of the snapshot: %d records, %v", r.Stats.Records, err)
	}

	again, err := u.Fetch(ctx, src, snap.State)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.FS != nil {
		t.Errorf("second fetch: Unchanged=%v FS=%v, want unchanged and no files", again.Unchanged, again.FS)
	}

	// The CPE map is optional.
	delete(src.Files, CPEMapPath)
	snap2, err := u.Fetch(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap2.Close()
	if d := cmp.Diff([]string{BundlePath}, readSnapshot(t, snap2)); d != "" {
		t.Errorf("snapshot without CPE map (-want +got):\n%s", d)
	}
}

func TestFetchPerCVE(t *testing.T) {
	files := fixtureFiles(t)
	perCVE := map[string]string{}
	var ids []string
	for n, b := range files {
		perCVE[CVEDir+"/"+n] = string(b)
		ids = append(ids, strings.TrimSuffix(n, ".json"))
	}
	sort.Strings(ids)
	ctx := context.Background()

	t.Run("list", func(t *testing.T) {
		src := &feedtest.Source{Files: perCVE, CanList: true}
		snap, err := New().Fetch(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		if got := len(readSnapshot(t, snap)); got != len(files) {
			t.Errorf("%d files fetched, want %d", got, len(files))
		}
		r, err := parseAll(t, New(), snap.FS)
		if err != nil || r.Stats.Records != 3 {
			t.Fatalf("parse: %d records, %v", r.Stats.Records, err)
		}
		again, err := New().Fetch(ctx, src, snap.State)
		if err != nil || !again.Unchanged {
			t.Fatalf("second fetch: unchanged=%v err=%v", again.Unchanged, err)
		}
	})
	t.Run("paged index", func(t *testing.T) {
		qs := &querySource{Source: &feedtest.Source{Files: perCVE}, ids: ids}
		u := NewWithOptions(Options{PerPage: 2})
		snap, err := u.Fetch(ctx, qs, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		want := []string{
			"securitydata/cve.json?page=1&per_page=2",
			"securitydata/cve.json?page=2&per_page=2",
			"securitydata/cve.json?page=3&per_page=2",
		}
		if d := cmp.Diff(want, qs.queries); d != "" {
			t.Errorf("index queries (-want +got):\n%s", d)
		}
		if got := len(readSnapshot(t, snap)); got != len(files) {
			t.Errorf("%d files fetched, want %d", got, len(files))
		}
	})
	t.Run("no way to list", func(t *testing.T) {
		_, err := New().Fetch(ctx, &feedtest.Source{Files: perCVE}, nil)
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("err = %v, want ErrUnsupported", err)
		}
	})
}

// TestParseRejected: a record whose details Red Hat marks "[REJECTED CVE]"
// (testdata/rejected, shaped like the real CVE-2024-26609) is flagged
// Rejected, its entries converted as usual (the DB drops them); the other
// fixtures are not.
func TestParseRejected(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "rejected", "CVE-2023-0006.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := fixtureFiles(t)
	files["CVE-2023-0006.json"] = b
	r, err := parseAll(t, New(), dirFS(files))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range r.Advisories {
		got[a.ID] = a.Rejected
	}
	want := map[string]bool{"CVE-2023-0001": false, "CVE-2023-0002": false, "CVE-2023-0003": false, "CVE-2023-0006": true}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Rejected by id (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		details []string
		want    bool
	}{
		{[]string{"[REJECTED CVE] An issue was identified."}, true},
		{[]string{"This CVE ID has been rejected by its CVE Numbering Authority."}, true},
		{[]string{"** REJECT ** DO NOT USE THIS CANDIDATE NUMBER."}, true},
		{[]string{"A flaw was found.", "[REJECTED CVE] in a later paragraph"}, false},
		{nil, false},
	} {
		if got := rejected(tc.details); got != tc.want {
			t.Errorf("rejected(%q) = %v, want %v", tc.details, got, tc.want)
		}
	}
}
