package epss

import (
	"bytes"
	"compress/gzip"
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

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type rec struct {
	ID   string
	EPSS advisory.EPSS
}

func parseBytes(t testing.TB, data []byte) ([]rec, feed.Stats, error) {
	var got []rec
	st, err := New().Parse(context.Background(), fstest.MapFS{File: {Data: data}}, func(a *advisory.Advisory) error {
		got = append(got, rec{a.ID, *a.Exploit.EPSS})
		return nil
	})
	return got, st, err
}

func TestParseFixture(t *testing.T) {
	fsys := os.DirFS("testdata")
	var got []rec
	st, err := New().Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		if a.Source != "epss" || a.Exploit == nil || a.Exploit.EPSS == nil || len(a.Affected) != 0 {
			t.Fatalf("bad record %+v", a)
		}
		got = append(got, rec{a.ID, *a.Exploit.EPSS})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []rec{
		{"CVE-2021-3156", advisory.EPSS{Score: 0.93, Percentile: 0.998}},
		{"CVE-2021-44228", advisory.EPSS{Score: 0.94358, Percentile: 0.99957}},
		{"CVE-2023-4911", advisory.EPSS{Score: 0.75, Percentile: 0.9901}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	wantSt := feed.Stats{Records: 3, Version: "model_version v2025.03.14, score_date 2025-06-01", Newest: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	if d := cmp.Diff(wantSt, st); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestParseRows(t *testing.T) {
	const head = "#model_version:v1,score_date:2024-02-03T00:00:00Z\ncve,epss,percentile\n"
	tests := []struct {
		name      string
		csv       string
		want      []rec
		malformed []string
		version   string
		err       string
	}{
		{"good", head + "CVE-2024-0001,0.5,0.9\n", []rec{{"CVE-2024-0001", advisory.EPSS{Score: 0.5, Percentile: 0.9}}}, nil, "model_version v1, score_date 2024-02-03", ""},
		{"crlf and no final newline", strings.ReplaceAll(head, "\n", "\r\n") + "CVE-2024-0001,0.5,0.9", []rec{{"CVE-2024-0001", advisory.EPSS{Score: 0.5, Percentile: 0.9}}}, nil, "model_version v1, score_date 2024-02-03", ""},
		{"columns in another order, no comment", "percentile,cve,epss\n0.9,CVE-2024-0001,0.5\n", []rec{{"CVE-2024-0001", advisory.EPSS{Score: 0.5, Percentile: 0.9}}}, nil, "", ""},
		{"bad rows", head + "GHSA-x,0.5,0.9\nCVE-2024-0002,high,0.9\nCVE-2024-0003,0.5,1.5\nCVE-2024-0004,NaN,0.1\nCVE-2024-0005,0.5\nCVE-2024-0006,-0.1,0.2\nCVE-2024-0007,0.25,0.5\n",
			[]rec{{"CVE-2024-0007", advisory.EPSS{Score: 0.25, Percentile: 0.5}}},
			[]string{`line 3: "GHSA-x" is not a CVE id`, `line 4: epss "high" is not a number`, "line 5: epss percentile 1.5 is not in 0..1", "line 6: epss score NaN is not in 0..1", "line 7: 2 columns, the header has 3", "line 8: epss score -0.1 is not in 0..1"},
			"model_version v1, score_date 2024-02-03", ""},
		{"long line", head + strings.Repeat("x", 3*MaxLine) + "\nCVE-2024-0001,0.5,0.9\n", []rec{{"CVE-2024-0001", advisory.EPSS{Score: 0.5, Percentile: 0.9}}}, []string{"line 3: longer than"}, "model_version v1, score_date 2024-02-03", ""},
		{"bad score date", "#model_version:v1,score_date:yesterday\ncve,epss,percentile\n", nil, []string{`score_date "yesterday" is not a date`}, "model_version v1", ""},
		{"blank lines", head + "\n\nCVE-2024-0001,0,0\n", []rec{{"CVE-2024-0001", advisory.EPSS{}}}, nil, "model_version v1, score_date 2024-02-03", ""},
		{"too many columns", head + "CVE-2024-0001" + strings.Repeat(",0.5", 20) + "\n", nil, []string{"line 3: more than 16 columns"}, "model_version v1, score_date 2024-02-03", ""},
		{"header with too many columns", "cve,epss,percentile" + strings.Repeat(",x", 20) + "\n", nil, nil, "", "more than 16 columns"},
		{"header without epss", "cve,score\nCVE-2024-0001,0.5\n", nil, nil, "", "has no epss column"},
		{"no header", "#model_version:v1\n", nil, nil, "", "no header line"},
		{"empty", "", nil, nil, "", "no header line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, err := parseBytes(t, gz(t, tt.csv))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("records (-want +got):\n%s", d)
			}
			if st.Records != len(got) || st.Version != tt.version {
				t.Errorf("stats records %d version %q, want %d %q", st.Records, st.Version, len(got), tt.version)
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

func TestParseNotGzip(t *testing.T) {
	if _, _, err := parseBytes(t, []byte("cve,epss,percentile\n")); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Fatalf("err = %v, want a gzip error", err)
	}
}

// TestParseDecompressionBomb: a small file that inflates past the limit
// fails instead of being read to the end.
func TestParseDecompressionBomb(t *testing.T) {
	const limit = 1 << 20
	data := gz(t, "cve,epss,percentile\n"+strings.Repeat("\n", 2*limit))
	if len(data) > limit/100 {
		t.Fatalf("bomb of %d bytes is not small", len(data))
	}
	_, err := parseFile(context.Background(), fstest.MapFS{File: {Data: data}}, limit, func(*advisory.Advisory) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "more than 1048576 bytes decompressed") {
		t.Fatalf("err = %v, want the decompression limit", err)
	}
}

func TestFetchConditional(t *testing.T) {
	src := &feedtest.Source{Files: map[string]string{File: string(gz(t, "cve,epss,percentile\n"))}}
	ctx := context.Background()
	snap, err := New().Fetch(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap.Close()
	again, err := New().Fetch(ctx, src, snap.State)
	if err != nil || !again.Unchanged {
		t.Fatalf("second fetch: %+v, %v; want Unchanged", again, err)
	}
}

// TestRealScores parses the shared mirror's EPSS file.
func TestRealScores(t *testing.T) {
	dir := testutil.Shared(t, "feeds/epss")
	scores := map[string]advisory.EPSS{}
	n := 0
	st, err := New().Parse(context.Background(), os.DirFS(dir), func(a *advisory.Advisory) error {
		n++
		if a.ID == "CVE-2021-44228" || a.ID == "CVE-2023-4911" || a.ID == "CVE-2021-3156" {
			scores[a.ID] = *a.Exploit.EPSS
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 360142 || n != 360142 || len(st.Malformed) != 0 {
		t.Errorf("records %d, emitted %d, malformed %d; want 360142, 360142, 0", st.Records, n, len(st.Malformed))
	}
	if st.Version != "model_version v2026.06.15, score_date 2026-08-15" {
		t.Errorf("version = %q", st.Version)
	}
	if len(scores) != 3 || scores["CVE-2021-44228"].Score < 0.9 {
		t.Errorf("scores of the KEV CVEs: %+v", scores)
	}
}

// FuzzParseCSV feeds arbitrary decompressed files: no panic, every record
// is a CVE with scores in 0..1.
func FuzzParseCSV(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", File))
	if err != nil {
		f.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		f.Fatal(err)
	}
	var plain bytes.Buffer
	if _, err := plain.ReadFrom(zr); err != nil {
		f.Fatal(err)
	}
	f.Add(plain.Bytes())
	f.Add([]byte("percentile,cve,epss\n0.1,CVE-2024-0001,0.2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		st, _ := ParseCSV(context.Background(), bytes.NewReader(data), func(a *advisory.Advisory) error {
			n++
			if !advisory.IsCVEID(a.ID) || a.Exploit == nil || a.Exploit.EPSS == nil || a.Exploit.EPSS.Valid() != nil {
				t.Fatalf("bad record %+v", a)
			}
			return nil
		})
		if st.Records != n {
			t.Fatalf("Records = %d, emitted %d", st.Records, n)
		}
	})
}

// BenchmarkParseRealScores parses the shared 360,142-row file.
func BenchmarkParseRealScores(b *testing.B) {
	fsys := os.DirFS(testutil.Shared(b, "feeds/epss"))
	for b.Loop() {
		if _, err := New().Parse(context.Background(), fsys, func(*advisory.Advisory) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
