package kev

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

func parseString(t *testing.T, doc string) ([]*advisory.Advisory, feed.Stats, error) {
	t.Helper()
	var got []*advisory.Advisory
	st, err := New().Parse(context.Background(), fstest.MapFS{File: {Data: []byte(doc)}}, func(a *advisory.Advisory) error {
		got = append(got, a)
		return nil
	})
	return got, st, err
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseFixture(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "small.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := parseString(t, string(b))
	if err != nil {
		t.Fatal(err)
	}
	log4j := &advisory.KEV{DateAdded: day("2021-12-10"), DueDate: day("2021-12-24"), KnownRansomwareCampaignUse: "Known",
		VendorProject: "Apache", Product: "Log4j2", VulnerabilityName: "Log4j2 remote code execution", RequiredAction: "Apply updates."}
	want0 := &advisory.Advisory{ID: "CVE-2021-44228", Source: "kev", Summary: log4j.VulnerabilityName, Published: log4j.DateAdded, Exploit: &advisory.Exploit{KEV: log4j}}
	if len(got) != 3 {
		t.Fatalf("got %d records, want 3", len(got))
	}
	if d := cmp.Diff(want0, got[0]); d != "" {
		t.Errorf("first record (-want +got):\n%s", d)
	}
	wantSt := feed.Stats{Records: 3, Version: "catalogVersion 2025.01.02", Newest: time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC)}
	if d := cmp.Diff(wantSt, st); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestParseMalformed(t *testing.T) {
	entry := func(fields string) string {
		return `{"cveID":"CVE-2024-0001","dateAdded":"2024-01-02","dueDate":"2024-01-23","knownRansomwareCampaignUse":"Unknown"` + fields + `}`
	}
	doc := func(entries ...string) string {
		return `{"catalogVersion":"1","vulnerabilities":[` + strings.Join(entries, ",") + `]}`
	}
	tests := []struct {
		name      string
		doc       string
		records   int
		malformed []string // substrings of each Malformed.Err, in order
		err       string
	}{
		{"good", doc(entry("")), 1, nil, ""},
		{"bad id", doc(`{"cveID":"GHSA-1234","dateAdded":"2024-01-02"}`, entry("")), 1, []string{`cveID "GHSA-1234" is not a CVE id`}, ""},
		{"bad dateAdded", doc(`{"cveID":"CVE-2024-0002","dateAdded":"02/01/2024"}`), 0, []string{`dateAdded "02/01/2024" is not a date`}, ""},
		{"bad dueDate", doc(`{"cveID":"CVE-2024-0002","dateAdded":"2024-01-02","dueDate":"soon"}`), 0, []string{`dueDate "soon"`}, ""},
		{"bad ransomware", doc(`{"cveID":"CVE-2024-0002","dateAdded":"2024-01-02","knownRansomwareCampaignUse":"Maybe"}`), 0, []string{"neither Known nor Unknown"}, ""},
		{"wrong type", doc(`{"cveID":17,"dateAdded":"2024-01-02"}`, entry("")), 1, []string{"entry: json"}, ""},
		{"not an object entry", doc(`"CVE-2024-0003"`, entry("")), 1, []string{"entry: json"}, ""},
		{"count mismatch", `{"count":5,"vulnerabilities":[` + entry("") + `]}`, 1, []string{"count says 5 entries, the list holds 1"}, ""},
		{"unknown fields ignored", `{"x":{"y":[1,2]},"vulnerabilities":[` + entry(`,"extra":[{}]`) + `]}`, 1, nil, ""},
		{"truncated", doc(entry(""))[:40], 0, nil, "EOF"},
		{"not an object", `[1,2]`, 0, nil, "not a catalog"},
		{"no list", `{"catalogVersion":"1"}`, 0, nil, `no "vulnerabilities" list`},
		{"list not an array", `{"vulnerabilities":{}}`, 0, nil, "vulnerabilities: expected"},
		{"empty", ``, 0, nil, "not a catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, err := parseString(t, tt.doc)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.records || st.Records != tt.records {
				t.Errorf("records = %d (stats %d), want %d", len(got), st.Records, tt.records)
			}
			var errs []string
			for _, m := range st.Malformed {
				errs = append(errs, m.Err)
			}
			if len(errs) != len(tt.malformed) {
				t.Fatalf("malformed = %q, want %d matching %q", errs, len(tt.malformed), tt.malformed)
			}
			for i, w := range tt.malformed {
				if !strings.Contains(errs[i], w) {
					t.Errorf("malformed[%d] = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestParseClipsText(t *testing.T) {
	long := strings.Repeat("é", MaxText)
	got, _, err := parseString(t, `{"vulnerabilities":[{"cveID":"CVE-2024-0001","dateAdded":"2024-01-02","product":"`+long+`"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if p := got[0].Exploit.KEV.Product; len(p) > MaxText || !strings.HasPrefix(long, p) {
		t.Errorf("product clipped to %d bytes, want at most %d on a rune boundary", len(p), MaxText)
	}
}

func TestParseTooLarge(t *testing.T) {
	big := `{"vulnerabilities":[],"pad":"` + strings.Repeat("x", MaxFileSize) + `"}`
	if _, _, err := parseString(t, big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want the size limit", err)
	}
}

func TestFetchConditional(t *testing.T) {
	src := &feedtest.Source{Files: map[string]string{File: `{"vulnerabilities":[]}`}}
	ctx := context.Background()
	snap, err := New().Fetch(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Unchanged || snap.FS == nil {
		t.Fatalf("first fetch: %+v", snap)
	}
	snap.Close()
	again, err := New().Fetch(ctx, src, snap.State)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged {
		t.Errorf("second fetch of the same file is not Unchanged: %+v", again)
	}
	if _, err := New().Fetch(ctx, &feedtest.Source{}, nil); err == nil {
		t.Error("fetch of a missing catalog succeeded")
	}
}

// TestRealCatalog parses the shared mirror's copy of CISA's catalog.
func TestRealCatalog(t *testing.T) {
	dir := testutil.Shared(t, "feeds/kev")
	seen := map[string]*advisory.KEV{}
	st, err := New().Parse(context.Background(), os.DirFS(dir), func(a *advisory.Advisory) error {
		seen[a.ID] = a.Exploit.KEV
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 1404 || len(st.Malformed) != 0 || len(seen) != 1404 {
		t.Errorf("records %d, distinct %d, malformed %v; want 1404, 1404, none", st.Records, len(seen), st.Malformed)
	}
	if st.Version != "catalogVersion 2025.08.25" {
		t.Errorf("version = %q", st.Version)
	}
	for id, added := range map[string]string{"CVE-2021-44228": "2021-12-10", "CVE-2023-4911": "2023-11-21", "CVE-2021-3156": "2022-04-06"} {
		k := seen[id]
		if k == nil || !k.DateAdded.Equal(day(added)) || k.DueDate.IsZero() {
			t.Errorf("%s: %+v, want dateAdded %s and a due date", id, k, added)
		}
	}
	if seen["CVE-2021-44228"].KnownRansomwareCampaignUse != "Known" {
		t.Errorf("CVE-2021-44228 ransomware use = %q, want Known", seen["CVE-2021-44228"].KnownRansomwareCampaignUse)
	}
}

// FuzzParse feeds arbitrary catalogs: Parse never panics, and whatever it
// emits is a CVE with a dateAdded.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "small.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"vulnerabilities":[{"cveID":"CVE-2024-0001","dateAdded":"2024-01-02"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		st, err := New().Parse(context.Background(), fstest.MapFS{File: {Data: data}}, func(a *advisory.Advisory) error {
			n++
			if !advisory.IsCVEID(a.ID) || a.Exploit == nil || a.Exploit.KEV == nil || a.Exploit.KEV.DateAdded.IsZero() {
				t.Fatalf("bad record %+v", a)
			}
			return nil
		})
		if st.Records != n {
			t.Fatalf("Records = %d, emitted %d (err %v)", st.Records, n, err)
		}
	})
}
