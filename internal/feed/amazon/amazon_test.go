package amazon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/severity"

	"github.com/stowaway-scanner/stowaway/internal/testutil"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// fixtureFS gzips testdata/xml/<repo>/updateinfo.xml into the mirror layout.
func fixtureFS(t testing.TB) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	err := filepath.WalkDir("testdata/xml", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/xml", p)
		fsys[filepath.ToSlash(rel)+".gz"] = &fstest.MapFile{Data: gz(t, b)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

type parsed struct {
	Stats      feed.Stats           `json:"stats"`
	Advisories []*advisory.Advisory `json:"advisories"`
}

func parse(t testing.TB, fsys fs.FS) (parsed, error) {
	t.Helper()
	var out parsed
	st, err := New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		out.Advisories = append(out.Advisories, a)
		return nil
	})
	out.Stats = st
	return out, err
}

func TestParseGolden(t *testing.T) {
	got, err := parse(t, fixtureFS(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	const golden = "testdata/golden.json"
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("golden mismatch (-want +got):\n%s", diff)
	}
}

func fixed(ns, pkg, evr string, arches ...string) advisory.Affected {
	return advisory.Affected{Namespace: ns, Package: pkg, Kind: advisory.KindBinary, Status: advisory.StatusFixed,
		Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: evr}}}}, Arches: arches}
}

func TestParse(t *testing.T) {
	got, err := parse(t, fixtureFS(t))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*advisory.Advisory{}
	var ids []string
	for _, a := range got.Advisories {
		byID[a.ID] = a
		ids = append(ids, a.ID)
	}
	if diff := cmp.Diff([]string{"ALAS2-2024-0001", "ALAS2-2024-0002", "ALAS2DOCKER-2024-001", "ALAS2023-2023-001"}, ids); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	tests := []struct {
		id       string
		sev      severity.Severity
		aliases  []string
		affected []advisory.Affected
	}{
		{"ALAS2-2024-0001", "HIGH", []string{"CVE-2023-46218", "CVE-2023-46219"}, []advisory.Affected{
			fixed("amzn:2", "curl", "8.3.0-1.amzn2.0.5", "aarch64", "x86_64"),
			fixed("amzn:2", "libcurl", "8.3.0-1.amzn2.0.5", "x86_64"),
			fixed("amzn:2", "libcurl", "8.3.0-1.amzn2.0.4", "i686"),
		}},
		{"ALAS2-2024-0002", "CRITICAL", []string{"CVE-2024-20918"}, []advisory.Affected{
			fixed("amzn:2", "java-17-amazon-corretto", "1:17.0.10+7-1.amzn2.1", "x86_64"),
			fixed("amzn:2", "java-17-amazon-corretto-javadoc", "1:17.0.10+7-1.amzn2.1", "noarch"),
		}},
		{"ALAS2DOCKER-2024-001", "MEDIUM", []string{"CVE-2024-21626"}, []advisory.Affected{
			fixed("amzn:2", "runc", "1.1.11-1.amzn2", "aarch64", "x86_64"),
		}},
		{"ALAS2023-2023-001", "HIGH", []string{"CVE-2022-24903"}, []advisory.Affected{
			fixed("amzn:2023", "rsyslog", "8.2204.0-3.amzn2023.0.2", "x86_64"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			a := byID[tt.id]
			if a == nil {
				t.Fatal("missing")
			}
			if diff := cmp.Diff([]any{tt.sev, tt.aliases, tt.affected}, []any{a.Severity, a.Aliases, a.Affected}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	a := byID["ALAS2023-2023-001"]
	if a.VendorSeverity != "Important" || !a.Published.Equal(time.Date(2023, 2, 17, 20, 41, 0, 0, time.UTC)) || !a.Modified.Equal(time.Date(2023, 2, 22, 23, 22, 0, 0, time.UTC)) {
		t.Errorf("ALAS2023-2023-001: vendor %q published %v modified %v", a.VendorSeverity, a.Published, a.Modified)
	}
	if want := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC); !got.Stats.Newest.Equal(want) || got.Stats.Records != 4 {
		t.Errorf("stats %+v, want 4 records, newest %v", got.Stats, want)
	}
	var mal []string
	for _, m := range got.Stats.Malformed {
		mal = append(mal, m.File+"|"+m.ID+"|"+m.Err)
	}
	wantMal := []string{
		`al2/core/updateinfo.xml.gz|ALAS2-2024-0001|package[4] "": no name`,
		`al2/core/updateinfo.xml.gz|ALAS2-2024-0001|package[5] "broken": missing version or release`,
		`al2/core/updateinfo.xml.gz|ALAS2-2024-0002|updated: invalid date "garbage"`,
		`al2/core/updateinfo.xml.gz||update without an id`,
		`al2/core/updateinfo.xml.gz|ALAS2-2024-0003|update without usable packages`,
		`al2023/core/updateinfo.xml.gz|after ALAS2023-2023-001|xml: XML syntax error on line 23: element <unclosed> closed by </updates>`,
	}
	if diff := cmp.Diff(wantMal, mal); diff != "" {
		t.Errorf("malformed (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fs.FS
		wantErr bool
		wantMal int
	}{
		{"no files", fstest.MapFS{"README": {}}, true, 0},
		{"not gzip", fstest.MapFS{"al2/core/updateinfo.xml.gz": {Data: []byte("<updates/>")}}, false, 1},
		{"wrong root", fstest.MapFS{"al2/core/updateinfo.xml.gz": {Data: gz(t, []byte("<html></html>"))}}, false, 1},
		{"empty updates", fstest.MapFS{"al2/core/updateinfo.xml.gz": {Data: gz(t, []byte("<updates></updates>"))}}, false, 0},
		{"truncated", fstest.MapFS{"al2/core/updateinfo.xml.gz": {Data: gz(t, []byte("<updates><update><id>A</id>"))}}, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(t, tt.fsys)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got.Stats.Malformed) != tt.wantMal {
				t.Errorf("malformed = %+v, want %d", got.Stats.Malformed, tt.wantMal)
			}
		})
	}
	boom := errors.New("boom")
	_, err := New().Parse(context.Background(), fixtureFS(t), func(*advisory.Advisory) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("failing emit: err = %v", err)
	}
}

func TestEVRAndSeverity(t *testing.T) {
	evr := []struct {
		p    Package
		want string
		err  bool
	}{
		{Package{Version: "1.0", Release: "1.amzn2"}, "1.0-1.amzn2", false},
		{Package{Epoch: "0", Version: "1.0", Release: "1"}, "1.0-1", false},
		{Package{Epoch: "32", Version: "9.16", Release: "2"}, "32:9.16-2", false},
		{Package{Epoch: "x", Version: "1", Release: "1"}, "", true},
		{Package{Version: "1-2", Release: "1"}, "", true},
		{Package{Version: "1"}, "", true},
	}
	for _, tt := range evr {
		got, err := tt.p.EVR()
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("EVR(%+v) = %q, %v; want %q, err %v", tt.p, got, err, tt.want, tt.err)
		}
	}
	for in, want := range map[string]severity.Severity{"critical": "CRITICAL", "Important": "HIGH", "medium": "MEDIUM", "Low": "LOW", "none": ""} {
		if got := Severity(in); got != want {
			t.Errorf("Severity(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFetch(t *testing.T) {
	repos := []Repo{
		{"al2/core", "2/core/latest/x86_64/mirror.list"},
		{"al2/extras/docker", "2/extras/docker/latest/x86_64/mirror.list"},
		{"al2/extras/gone", "2/extras/gone/latest/x86_64/mirror.list"},
		{"al2023/core", "al2023/core/mirrors/latest/x86_64/mirror.list"},
	}
	repomd := func(href string) string {
		return `<?xml version="1.0"?><repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary"><location href="repodata/primary.xml.gz"/></data><data type="updateinfo"><location href="` + href + `"/></data></repomd>`
	}
	tests := []struct {
		name    string
		files   map[string]string
		want    map[string]string // snapshot path -> content
		wantErr bool
	}{
		{"mirror layout", map[string]string{
			"al2/core/updateinfo.xml.gz": "a", "al2/extras/docker/updateinfo.xml.gz": "b", "al2023/core/updateinfo.xml.gz": "c",
		}, map[string]string{"al2/core/updateinfo.xml.gz": "a", "al2/extras/docker/updateinfo.xml.gz": "b", "al2023/core/updateinfo.xml.gz": "c"}, false},
		{"upstream via mirror.list and repomd.xml", map[string]string{
			"2/core/latest/x86_64/mirror.list":                             "https://cdn.amazonlinux.com/2/core/2.0/x86_64/abc123/\n",
			"2/core/2.0/x86_64/abc123/repodata/repomd.xml":                 repomd("repodata/updateinfo.xml.gz"),
			"2/core/2.0/x86_64/abc123/repodata/updateinfo.xml.gz":          "core2",
			"2/extras/docker/latest/x86_64/mirror.list":                    "https://cdn.amazonlinux.com/2/extras/docker/latest/x86_64/def/",
			"2/extras/docker/latest/x86_64/def/repodata/repomd.xml":        repomd("repodata/updateinfo.xml.gz"),
			"2/extras/docker/latest/x86_64/def/repodata/updateinfo.xml.gz": "docker",
			"al2023/core/mirrors/latest/x86_64/mirror.list":                "https://cdn.amazonlinux.com/al2023/core/guids/g1/x86_64/",
			"al2023/core/guids/g1/x86_64/repodata/repomd.xml":              repomd("repodata/0f0f-updateinfo.xml.gz"),
			"al2023/core/guids/g1/x86_64/repodata/0f0f-updateinfo.xml.gz":  "core2023",
		}, map[string]string{"al2/core/updateinfo.xml.gz": "core2", "al2/extras/docker/updateinfo.xml.gz": "docker", "al2023/core/updateinfo.xml.gz": "core2023"}, false},
		{"mirror list pointing elsewhere", map[string]string{
			"2/core/latest/x86_64/mirror.list": "https://evil.example/2/core/\n",
		}, nil, true},
		{"nothing", map[string]string{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &feedtest.Source{Files: tt.files}
			u := New(repos...)
			snap, err := u.Fetch(context.Background(), src, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			got := map[string]string{}
			for p := range snap.State {
				b, err := fs.ReadFile(snap.FS, p)
				if err != nil {
					t.Fatal(err)
				}
				got[p] = string(b)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("snapshot (-want +got):\n%s", diff)
			}
			again, err := u.Fetch(context.Background(), src, snap.State)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Unchanged {
				t.Error("second fetch not Unchanged")
			}
		})
	}
}

func TestRealData(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "amazon")
	perRepo := map[string]int{}
	byID := map[string]*advisory.Advisory{}
	u := New()
	// Count per repository by parsing each file on its own.
	for _, r := range u.repos {
		sub, err := fs.Sub(os.DirFS(root), ".")
		if err != nil {
			t.Fatal(err)
		}
		b, err := fs.ReadFile(sub, r.Dir+"/updateinfo.xml.gz")
		if err != nil {
			t.Errorf("%s: %v", r.Dir, err)
			continue
		}
		st, err := u.Parse(context.Background(), fstest.MapFS{r.Dir + "/updateinfo.xml.gz": {Data: b}}, func(a *advisory.Advisory) error {
			byID[a.ID] = a
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Malformed) > 0 {
			t.Errorf("%s: malformed %v", r.Dir, st.Malformed)
		}
		key := r.Dir
		if strings.HasPrefix(key, "al2/extras/") {
			key = "al2/extras"
		}
		perRepo[key] += st.Records
	}
	// SOURCES.md: AL2 core 1618, AL2 extras 833 in 41 topics, AL2023 core
	// 816, AL2023 kernel-livepatch 38 = 3305 advisories.
	want := map[string]int{"al2/core": 1618, "al2/extras": 833, "al2023/core": 816, "al2023/kernel-livepatch": 38}
	if diff := cmp.Diff(want, perRepo); diff != "" {
		t.Errorf("advisories per repository (-want +got):\n%s", diff)
	}
	all, err := parse(t, os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	if all.Stats.Records != 3305 || len(all.Stats.Malformed) != 0 {
		t.Errorf("whole mirror: %d records, %d malformed; want 3305, 0", all.Stats.Records, len(all.Stats.Malformed))
	}
	a := byID["ALAS2-2018-939"]
	if a == nil {
		t.Fatal("ALAS2-2018-939 missing")
	}
	if a.Severity != "CRITICAL" || !cmp.Equal(a.Aliases, []string{"CVE-2017-5715", "CVE-2017-5754"}) {
		t.Errorf("ALAS2-2018-939: severity %q aliases %v", a.Severity, a.Aliases)
	}
	var kernel *advisory.Affected
	for i := range a.Affected {
		if a.Affected[i].Package == "kernel" {
			kernel = &a.Affected[i]
		}
	}
	if kernel == nil || kernel.Ranges[0].Events[1].Fixed != "4.9.76-38.79.amzn2" || kernel.Namespace != "amzn:2" {
		t.Errorf("ALAS2-2018-939 kernel = %+v, want fixed 4.9.76-38.79.amzn2 in amzn:2", kernel)
	}
	sevs := map[severity.Severity]int{}
	for _, a := range byID {
		sevs[a.Severity]++
	}
	if sevs[""] != 0 {
		t.Errorf("advisories without a mapped severity: %d", sevs[""])
	}
	t.Logf("amazon: %d advisories, severities %v, newest %s", all.Stats.Records, sevs, all.Stats.Newest)
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/xml/*/*/updateinfo.xml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"al2/core/updateinfo.xml.gz": {Data: gz(t, data)}}
		st, err := New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
			if a.ID == "" || len(a.Affected) == 0 {
				t.Errorf("emitted %+v", a)
			}
			for _, af := range a.Affected {
				if af.Package == "" || af.Ranges[0].Events[1].Fixed == "" {
					t.Errorf("bad affected %+v", af)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		_ = st
	})
}

// FuzzDecode fuzzes the streaming XML decoder and the conversion directly.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/xml/*/*/updateinfo.xml")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Decode(context.Background(), bytes.NewReader(data), func(up *Update) error {
			a, _ := up.Advisory("amzn:2")
			if a != nil && (a.ID == "" || len(a.Affected) == 0) {
				t.Errorf("advisory %+v", a)
			}
			return nil
		})
	})
}
