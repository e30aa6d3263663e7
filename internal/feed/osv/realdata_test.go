package osv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// Records kept per zip according to SOURCES.md (MAL-* excluded there too).
var sourcesCounts = map[string]int{
	"PyPI": 6663, "npm": 3793, "Maven": 5309, "Go": 3954,
	"crates.io": 1612, "RubyGems": 892, "NuGet": 684, "Packagist": 4288,
}

func TestRealDataLanguages(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "osv")
	for _, eco := range LanguageEcosystems() {
		t.Run(eco, func(t *testing.T) {
			u := New(eco)
			start := time.Now()
			var advs []*advisory.Advisory
			st, err := u.Parse(context.Background(), os.DirFS(root), func(a *advisory.Advisory) error {
				advs = append(advs, a)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Every record of the zip is either emitted, withdrawn, or has
			// no affected entry of this ecosystem; SOURCES.md counts records
			// in the zip, so emitted <= count and close to it.
			want := sourcesCounts[eco]
			if st.Records > want || st.Records < want*9/10 {
				t.Errorf("%d records, SOURCES.md says %d in the zip", st.Records, want)
			}
			if st.Newest.IsZero() {
				t.Error("Stats.Newest is zero")
			}
			for _, a := range advs {
				for _, f := range a.Affected {
					if f.Namespace != "osv:"+eco || f.Kind != advisory.KindLanguage {
						t.Fatalf("%s: affected %s/%s kind %s", a.ID, f.Namespace, f.Package, f.Kind)
					}
				}
			}
			t.Logf("%s: %d records of %d in SOURCES.md, %d malformed, newest %s, %s",
				eco, st.Records, want, len(st.Malformed), st.Newest.Format(time.RFC3339), time.Since(start).Round(time.Millisecond))
			for i, m := range st.Malformed {
				if i < 5 {
					t.Logf("malformed: %s %s: %s", m.File, m.ID, m.Err)
				}
			}
			checkSpots(t, eco, advs)
			// The real records whose details are the CVE program's
			// rejection notice are flagged (the DB drops them), and
			// nothing else is.
			var rejected []string
			for _, a := range advs {
				if a.Rejected {
					rejected = append(rejected, a.ID)
				}
			}
			wantRejected := map[string][]string{
				"PyPI": {"GHSA-943p-xc6m-c6gr", "GHSA-x58j-j539-w8mv"},
				"npm":  {"GHSA-mx3r-w3pj-7wv7"},
			}[eco]
			sort.Strings(rejected)
			if d := cmp.Diff(wantRejected, rejected); d != "" {
				t.Errorf("rejected records (-want +got):\n%s", d)
			}
		})
	}
}

func checkSpots(t *testing.T, eco string, advs []*advisory.Advisory) {
	byID := map[string]*advisory.Advisory{}
	for _, a := range advs {
		byID[a.ID] = a
	}
	switch eco {
	case "Maven":
		a := byID["GHSA-jfh8-c2jp-5v3q"]
		if a == nil {
			t.Fatal("Log4Shell GHSA-jfh8-c2jp-5v3q missing")
		}
		if a.Severity != "CRITICAL" || !slices.Contains(a.Aliases, "CVE-2021-44228") {
			t.Errorf("Log4Shell severity %q aliases %v", a.Severity, a.Aliases)
		}
		if len(a.CVSS) == 0 || a.CVSS[0].Score != 10.0 {
			t.Errorf("Log4Shell CVSS %+v, want 10.0", a.CVSS)
		}
		var fixes []string
		for _, f := range a.Affected {
			if f.Package != "org.apache.logging.log4j:log4j-core" {
				continue
			}
			for _, r := range f.Ranges {
				for _, e := range r.Events {
					if e.Fixed != "" {
						fixes = append(fixes, e.Fixed)
					}
				}
			}
		}
		if !slices.Contains(fixes, "2.15.0") {
			t.Errorf("log4j-core fixes %v, want 2.15.0 among them", fixes)
		}
	case "Go":
		stdlib := 0
		for _, a := range advs {
			for _, f := range a.Affected {
				if f.Package == "stdlib" || f.Package == "toolchain" {
					stdlib++
				}
			}
		}
		if stdlib == 0 {
			t.Error("no stdlib/toolchain records in Go")
		}
	}
	for _, a := range advs {
		if strings.HasPrefix(a.ID, "MAL-") {
			t.Fatalf("MAL record %s emitted", a.ID)
		}
	}
}

// wantAffected finds one affected entry.
func findAffected(advs []*advisory.Advisory, id, ns, pkg string) *advisory.Affected {
	for _, a := range advs {
		if a.ID != id {
			continue
		}
		for i := range a.Affected {
			if a.Affected[i].Namespace == ns && a.Affected[i].Package == pkg {
				return &a.Affected[i]
			}
		}
	}
	return nil
}

// TestRealDataDebian10 parses the frozen buster bundle alone (fast).
func TestRealDataDebian10(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "debian", "osv")
	fsys := fstest.MapFS{}
	b, err := os.ReadFile(filepath.Join(root, "Debian-10-2024-06-29.osv.tar.bz2"))
	if err != nil {
		t.Skipf("buster bundle: %v", err)
	}
	fsys["Debian-10-2024-06-29.osv.tar.bz2"] = &fstest.MapFile{Data: b}
	perNS := map[string]int{}
	var advs []*advisory.Advisory
	st, err := New("Debian").Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		for i := range a.Affected {
			perNS[a.Affected[i].Namespace]++
		}
		if a.ID == "DSA-5169-1" {
			advs = append(advs, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// SOURCES.md: 8,704 records with a Debian:10 entry; 6,001 fixed and
	// 3,025 unfixed affected entries.
	if st.Records != 8704 {
		t.Errorf("%d records, SOURCES.md says 8,704", st.Records)
	}
	if diff := cmp.Diff(map[string]int{"debian:10": 6001 + 3025}, perNS); diff != "" {
		t.Errorf("entries per namespace (-want +got):\n%s", diff)
	}
	got := findAffected(advs, "DSA-5169-1", "debian:10", "openssl")
	want := advisory.Affected{Namespace: "debian:10", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed,
		Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1.1.1n-0+deb10u3"}}}}}
	if got == nil {
		t.Fatal("DSA-5169-1 openssl debian:10 missing")
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("DSA-5169-1 debian:10 openssl (-want +got):\n%s", diff)
	}
	t.Logf("buster bundle: %d records, %d malformed", st.Records, len(st.Malformed))
}

// TestRealDataDebian merges both bundles. It decompresses ~330 MB of
// bzip2 (about 15 s of CPU), so it runs only with STOWAWAY_FULL_FEEDS=1.
func TestRealDataDebian(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "debian", "osv")
	if os.Getenv("STOWAWAY_FULL_FEEDS") == "" {
		t.Skip("set STOWAWAY_FULL_FEEDS=1 to parse the full Debian bundles (~15 s CPU)")
	}
	start := time.Now()
	var advs []*advisory.Advisory
	perNS := map[string]int{}
	st, err := New("Debian").Parse(context.Background(), os.DirFS(root), func(a *advisory.Advisory) error {
		for i := range a.Affected {
			perNS[a.Affected[i].Namespace]++
		}
		if a.ID == "CVE-2023-5678" || a.ID == "DSA-5169-1" {
			advs = append(advs, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Debian: %d records, %d malformed, newest %s, %s; affected per namespace %v",
		st.Records, len(st.Malformed), st.Newest.Format(time.RFC3339), time.Since(start).Round(time.Millisecond), perNS)
	for i, m := range st.Malformed {
		if i < 5 {
			t.Logf("malformed: %s %s: %s", m.File, m.ID, m.Err)
		}
	}
	// SOURCES.md: the newest bundle holds 44,152 records; records whose only
	// entries are Alpine, GIT or Debian 10 are not emitted from it, and the
	// 2024 bundle adds the Debian 10 records that the newest one lost.
	if st.Records < 44000 || st.Records > 44152+8704 {
		t.Errorf("%d records, want about 44,152 (SOURCES.md)", st.Records)
	}
	// Debian 10 comes only from the 2024 bundle: 6,001 + 3,025 entries.
	if n := perNS["debian:10"]; n != 9026 {
		t.Errorf("debian:10 has %d entries, want 9,026 (SOURCES.md)", n)
	}
	for _, ns := range []string{"debian:11", "debian:12", "debian:13"} {
		if perNS[ns] < 30000 {
			t.Errorf("%s has %d entries, want > 30,000", ns, perNS[ns])
		}
	}
	for ns := range perNS {
		if !strings.HasPrefix(ns, "debian:") {
			t.Errorf("unexpected namespace %s", ns)
		}
	}
	got := findAffected(advs, "CVE-2023-5678", "debian:12", "openssl")
	if got == nil {
		t.Fatal("CVE-2023-5678 openssl debian:12 missing")
	}
	want := advisory.Affected{Namespace: "debian:12", Package: "openssl", Kind: advisory.KindSource, Status: advisory.StatusFixed,
		Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "3.0.13-1~deb12u1"}}}}}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("CVE-2023-5678 debian:12 openssl (-want +got):\n%s", diff)
	}
	if findAffected(advs, "DSA-5169-1", "debian:10", "openssl") == nil || findAffected(advs, "DSA-5169-1", "debian:11", "openssl") == nil {
		t.Error("DSA-5169-1 should have debian:10 (2024 bundle) and debian:11 (current) entries")
	}
}
