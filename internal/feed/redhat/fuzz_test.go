package redhat

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// FuzzParseRecord feeds one CVE document through the directory layout.
func FuzzParseRecord(f *testing.F) {
	for _, b := range fixtureFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{CVEDir + "/CVE-2000-0001.json": &fstest.MapFile{Data: data}}
		checkParse(t, fsys)
	})
}

// FuzzParseBundle feeds arbitrary bytes as the tar.gz bundle.
func FuzzParseBundle(f *testing.F) {
	f.Add(bundle(f, fixtureFiles(f)))
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, fstest.MapFS{BundlePath: &fstest.MapFile{Data: data}})
	})
}

func checkParse(t *testing.T, fsys fstest.MapFS) {
	n := 0
	st, err := NewWithOptions(Options{MaxRecordSize: 1 << 20}).Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		n++
		if a.ID == "" || a.Source != "redhat" {
			t.Fatalf("advisory without id or source: %+v", a)
		}
		for _, af := range a.Affected {
			if af.Namespace == "" || af.Package == "" || af.Status == "" {
				t.Fatalf("incomplete affected entry: %+v", af)
			}
			if af.Status == advisory.StatusFixed && (len(af.Ranges) != 1 || len(af.Ranges[0].Events) != 2 || af.Ranges[0].Events[1].Fixed == "") {
				t.Fatalf("fixed entry without a fixed event: %+v", af)
			}
		}
		return nil
	})
	if err == nil && st.Records != n {
		t.Fatalf("Records = %d, emitted %d", st.Records, n)
	}
}

// FuzzParseVEXDocument feeds one VEX document beside an empty index.
func FuzzParseVEXDocument(f *testing.F) {
	for _, b := range vexFixtures(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkVEXParse(t, fstest.MapFS{"2030/cve-2030-0001.json": &fstest.MapFile{Data: data}})
	})
}

// FuzzParseVEXArchive feeds arbitrary bytes as the tar.zst archive.
func FuzzParseVEXArchive(f *testing.F) {
	f.Add(vexArchive(f, vexFixtures(f)))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkVEXParse(t, fstest.MapFS{
			ArchiveLatestPath:             &fstest.MapFile{Data: []byte("csaf_vex_2030-03-01.tar.zst")},
			"csaf_vex_2030-03-01.tar.zst": &fstest.MapFile{Data: data},
		})
	})
}

func checkVEXParse(t *testing.T, fsys fstest.MapFS) {
	n := 0
	st, err := NewVEX(VEXOptions{MaxDocSize: 1 << 20, MaxArchiveSize: 16 << 20, MaxArchiveEntries: 1000}).Parse(context.Background(), fsys, func(a *advisory.Advisory) error {
		n++
		if !cveID.MatchString(a.ID) || a.Source != "redhat-vex" {
			t.Fatalf("advisory with a bad id or source: %+v", a)
		}
		for _, af := range a.Affected {
			if af.Namespace == "" || af.Package == "" || af.Status == "" {
				t.Fatalf("incomplete affected entry: %+v", af)
			}
			if af.Status == advisory.StatusFixed && (len(af.Ranges) != 1 || len(af.Ranges[0].Events) != 2 || af.Ranges[0].Events[1].Fixed == "") {
				t.Fatalf("fixed entry without a fixed event: %+v", af)
			}
		}
		return nil
	})
	if err == nil && st.Records != n {
		t.Fatalf("Records = %d, emitted %d", st.Records, n)
	}
}
