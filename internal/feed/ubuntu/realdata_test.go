package ubuntu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// The full real-data runs decompress ~700 MB (UCT) and ~150 MB (OVAL) of
// bzip2, which takes minutes on a loaded 2-core machine. By default the
// tests parse focal's OVAL and the first part of the UCT bundle; set
// STOWAWAY_REALDATA_FULL=1 to check every count in SOURCES.md.
func full() bool { return os.Getenv("STOWAWAY_REALDATA_FULL") != "" }

var errStop = errors.New("stop")

type probe struct {
	start time.Time
	n     int
	peak  uint64
}

func (p *probe) sample() {
	if p.n++; p.n%2000 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.peak = max(p.peak, ms.HeapInuse)
	}
}

func (p *probe) log(t *testing.T, what string, recs, bad int) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.peak = max(p.peak, ms.HeapInuse)
	t.Logf("%s: %d records, %d malformed, in %v, peak heap in use ~%d MiB", what, recs, bad, time.Since(p.start), p.peak>>20)
}

func fixedOf(af advisory.Affected) string {
	for _, r := range af.Ranges {
		for _, e := range r.Events {
			if e.Fixed != "" {
				return e.Fixed
			}
		}
	}
	return ""
}

func TestRealDataUCT(t *testing.T) {
	dir := testutil.Shared(t, "feeds/ubuntu")
	keep := map[string]*advisory.Advisory{"CVE-2023-0286": nil, "CVE-2023-4863": nil}
	limit := 3000
	if full() {
		limit = -1
	}
	p := &probe{start: time.Now()}
	st, err := NewUCT().Parse(context.Background(), os.DirFS(dir), func(a *advisory.Advisory) error {
		p.sample()
		if a.Source != "ubuntu-uct" || !strings.HasPrefix(a.ID, "CVE-") {
			t.Errorf("bad record %s %s", a.ID, a.Source)
		}
		if _, ok := keep[a.ID]; ok {
			keep[a.ID] = a
		}
		if limit > 0 && p.n >= limit {
			return errStop
		}
		return nil
	})
	p.log(t, "UCT", st.Records, len(st.Malformed))
	for i, m := range st.Malformed {
		if i < 20 {
			t.Logf("malformed: %+v", m)
		}
	}
	if !full() {
		if !errors.Is(err, errStop) || st.Records != limit {
			t.Fatalf("partial parse: %d records, err %v", st.Records, err)
		}
		t.Skip("partial UCT run; set STOWAWAY_REALDATA_FULL=1 for the full count")
	}
	if err != nil {
		t.Fatal(err)
	}
	placeholders := 0
	for _, m := range st.Malformed {
		if strings.Contains(m.Err, "placeholder") {
			placeholders++
		}
	}
	if st.Records+placeholders != 51478 {
		t.Errorf("Records %d + placeholders %d != 51,478 (SOURCES.md)", st.Records, placeholders)
	}
	if len(st.Malformed) > 50 {
		t.Errorf("%d malformed entries, expected a handful", len(st.Malformed))
	}
	find := func(id, ns, pkg string) advisory.Affected {
		a := keep[id]
		if a == nil {
			t.Fatalf("%s not emitted", id)
		}
		for _, af := range a.Affected {
			if af.Namespace == ns && af.Package == pkg {
				return af
			}
		}
		t.Fatalf("%s: no %s %s", id, ns, pkg)
		return advisory.Affected{}
	}
	for _, tc := range []struct{ id, ns, pkg, status, fixed string }{
		{"CVE-2023-0286", "ubuntu:22.04", "openssl", "fixed", "3.0.2-0ubuntu1.8"},
		{"CVE-2023-0286", "ubuntu:20.04", "openssl", "fixed", "1.1.1f-1ubuntu2.17"},
		{"CVE-2023-4863", "ubuntu:22.04", "libwebp", "fixed", "1.2.2-2ubuntu0.22.04.2"},
		// bionic's main pocket is "ignored"; the esm-infra fix applies.
		{"CVE-2023-4863", "ubuntu:18.04", "libwebp", "fixed", "0.6.1-2ubuntu0.18.04.2+esm1"},
		{"CVE-2023-4863", "ubuntu:18.04", "firefox", "will-not-fix", ""},
	} {
		af := find(tc.id, tc.ns, tc.pkg)
		if got := []string{string(af.Status), fixedOf(af)}; !cmp.Equal(got, []string{tc.status, tc.fixed}) {
			t.Errorf("%s %s %s = %v, want %s %s", tc.id, tc.ns, tc.pkg, got, tc.status, tc.fixed)
		}
	}
}

func TestRealDataOVAL(t *testing.T) {
	dir := testutil.Shared(t, "feeds/ubuntu/oval-2021-08-31")
	type file struct {
		codename string
		defs     int
	}
	files := []file{{"focal", 8480}}
	if full() {
		files = append(files, file{"trusty", 7438}, file{"xenial", 18656}, file{"bionic", 13430})
	}
	for _, f := range files {
		name := "com.ubuntu." + f.codename + ".cve.oval.xml.bz2"
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var openssl *advisory.Advisory
		var rejected []string
		p := &probe{start: time.Now()}
		st, err := NewOVAL().Parse(context.Background(), mapFS(name, data), func(a *advisory.Advisory) error {
			p.sample()
			if a.ID == "CVE-2021-3711" {
				openssl = a
			}
			if a.Rejected {
				rejected = append(rejected, a.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p.log(t, "OVAL "+f.codename, st.Records, len(st.Malformed))
		noCVE := 0
		for i, m := range st.Malformed {
			if strings.Contains(m.Err, "no CVE") {
				noCVE++
			}
			if i < 5 {
				t.Logf("malformed: %+v", m)
			}
		}
		// Every definition but the one inventory definition is a CVE.
		if st.Records+noCVE+1 != f.defs {
			t.Errorf("%s: %d records + %d without CVE + 1 inventory != %d definitions (SOURCES.md)", f.codename, st.Records, noCVE, f.defs)
		}
		if f.codename == "focal" {
			if openssl == nil {
				t.Fatal("CVE-2021-3711 missing from focal")
			}
			var got []string
			for _, af := range openssl.Affected {
				got = append(got, af.Namespace+" "+af.Package+" "+string(af.Kind)+" "+string(af.Status)+" "+fixedOf(af))
			}
			want := []string{
				"ubuntu:20.04 libssl1.1 binary fixed 1.1.1f-1ubuntu2.8",
				"ubuntu:20.04 openssl binary fixed 1.1.1f-1ubuntu2.8",
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("CVE-2021-3711 (-want +got):\n%s", d)
			}
			if openssl.Severity != "HIGH" {
				t.Errorf("CVE-2021-3711 severity %q", openssl.Severity)
			}
			// focal's two definitions whose description is the rejection
			// notice ("** REJECT ** DO NOT USE THIS CANDIDATE NUMBER.").
			if d := cmp.Diff([]string{"CVE-2020-21690", "CVE-2020-28476"}, rejected); d != "" {
				t.Errorf("rejected definitions (-want +got):\n%s", d)
			}
		}
	}
}

// TestRealDataUCTIssue22 reads the real tracker records behind issue 22
// (the bundle is sorted by year, so it stops after 2020): rejected ids are
// flagged, and an ESM pocket's not-affected beats the release's ignored.
func TestRealDataUCTIssue22(t *testing.T) {
	dir := testutil.Shared(t, "feeds/ubuntu")
	want := map[string]*advisory.Advisory{"CVE-2011-3336": nil, "CVE-2014-9297": nil, "CVE-2018-10754": nil, "CVE-2020-35537": nil}
	found := 0
	_, err := NewUCT().Parse(context.Background(), os.DirFS(dir), func(a *advisory.Advisory) error {
		if _, ok := want[a.ID]; ok {
			want[a.ID] = a
			if found++; found == len(want) {
				return errStop
			}
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("parse stopped with %v, found %d of %d records", err, found, len(want))
	}
	for id, a := range want {
		if got := a.Rejected; got != (id != "CVE-2011-3336") {
			t.Errorf("%s: Rejected = %v (description %.40q)", id, got, a.Description)
		}
	}
	// trusty: ignored ("end of standard support"), trusty/esm: not-affected.
	var got []string
	for _, af := range want["CVE-2011-3336"].Affected {
		if af.Package == "eglibc" && af.Namespace == "ubuntu:14.04" {
			got = append(got, af.Namespace+" "+string(af.Status))
		}
	}
	if d := cmp.Diff([]string{"ubuntu:14.04 not-affected"}, got); d != "" {
		t.Errorf("CVE-2011-3336 eglibc (-want +got):\n%s", d)
	}
}
