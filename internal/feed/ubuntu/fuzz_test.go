package ubuntu

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

func seedDir(f *testing.F, dir string) {
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
}

func checkAdvisory(t *testing.T, a *advisory.Advisory) {
	if a.ID == "" || a.Source == "" {
		t.Fatalf("advisory without id or source: %+v", a)
	}
	for _, af := range a.Affected {
		if af.Namespace == "" || af.Package == "" || af.Status == "" {
			t.Fatalf("incomplete entry %+v", af)
		}
		if af.Status == advisory.StatusFixed && (len(af.Ranges) != 1 || af.Ranges[0].Events[1].Fixed == "") {
			t.Fatalf("fixed entry without a fix %+v", af)
		}
	}
}

// FuzzUCTRecord fuzzes the per-CVE mapping that Parse applies to each entry.
func FuzzUCTRecord(f *testing.F) {
	seedDir(f, filepath.Join("testdata", "uct-src"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if a, _ := convertUCT(data); a != nil {
			checkAdvisory(t, a)
		}
	})
}

// FuzzUCTParse fuzzes the whole Parse with the bytes as the tar.bz2 bundle.
func FuzzUCTParse(f *testing.F) {
	seedDir(f, filepath.Join("testdata", "uct"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u := NewUCTWithOptions(UCTOptions{MaxBundleSize: 1 << 20, MaxRecordSize: 1 << 16})
		_, _ = u.Parse(context.Background(), fstest.MapFS{UCTBundle: {Data: data}}, func(a *advisory.Advisory) error {
			checkAdvisory(t, a)
			return nil
		})
	})
}

// FuzzOVALParse fuzzes Parse with the bytes as a plain OVAL document.
func FuzzOVALParse(f *testing.F) {
	seedDir(f, filepath.Join("testdata", "oval"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := NewOVALWithOptions(OVALOptions{MaxFileSize: 1 << 20})
		n := 0
		st, err := o.Parse(context.Background(), fstest.MapFS{"com.ubuntu.focal.cve.oval.xml": {Data: data}}, func(a *advisory.Advisory) error {
			n++
			checkAdvisory(t, a)
			return nil
		})
		if err == nil && st.Records != n {
			t.Fatalf("Records = %d, emitted %d", st.Records, n)
		}
	})
}

func mapFS(name string, data []byte) fstest.MapFS {
	return fstest.MapFS{name: {Data: data}}
}

// FuzzOSVRecord fuzzes Canonical's OSV mapping (ecosystems, purls, Pro
// pockets, priorities) on one record, seeded from testdata/osv. Run it
// with -fuzzminimizetime 0: minimizing the multi-KB seeds' mutants takes
// the whole budget otherwise (about 10 execs in 45 s, against about 5,000
// a second without).
func FuzzOSVRecord(f *testing.F) {
	seedDir(f, "testdata/osv")
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("UBUNTU-CVE-2025-1.json")
		w.Write(data)
		zw.Close()
		st, err := NewOSV().Parse(context.Background(), fstest.MapFS{"all.zip": {Data: buf.Bytes()}}, func(a *advisory.Advisory) error {
			if a.ID == "" || a.Source != "ubuntu-osv" || len(a.Affected) == 0 {
				t.Fatalf("emitted %+v", a)
			}
			for _, af := range a.Affected {
				if !strings.HasPrefix(af.Namespace, "ubuntu:") || !debName.MatchString(af.Package) || af.Kind != advisory.KindSource || len(af.Ranges) == 0 {
					t.Fatalf("bad entry %+v", af)
				}
				if af.FixChannel != "" && af.Status != advisory.StatusFixed {
					t.Fatalf("fix channel on an unfixed entry %+v", af)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("a valid zip must parse: %v", err)
		}
		if st.Records > 1 {
			t.Fatalf("%d records from one entry", st.Records)
		}
	})
}
