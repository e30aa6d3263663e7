package vulndb

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

func seedDir(f *testing.F, dir string) {
	f.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzReadCurrent: whatever CURRENT holds, readCurrent never panics and
// only ever names a plain DB file of the directory.
func FuzzReadCurrent(f *testing.F) {
	seedDir(f, "testdata/current")
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, currentFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		name, err := readCurrent(dir)
		if err != nil {
			return
		}
		if name != filepath.Base(name) || strings.ContainsAny(name, `/\`) || !strings.HasPrefix(name, dbPrefix) {
			t.Fatalf("readCurrent accepted %q", name)
		}
	})
}

// FuzzEmit: any advisory a parser may emit is either stored (and its valid
// entries found again by Lookup) or reported as malformed; the update never
// fails.
func FuzzEmit(f *testing.F) {
	seedDir(f, "testdata/advisories")
	f.Fuzz(func(t *testing.T, data []byte) {
		var a advisory.Advisory
		if err := json.Unmarshal(data, &a); err != nil {
			return
		}
		dir := t.TempDir()
		rep, err := Update(context.Background(), dir, updaters(&fakeUpdater{name: "f", version: "1", advs: []*advisory.Advisory{&a}}), noSource, UpdateOptions{})
		if err != nil {
			t.Fatalf("Update failed on one advisory: %v", err)
		}
		db, err := Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		stored := 0
		for _, f := range a.Affected {
			if strings.TrimSpace(a.ID) == "" || checkAffected(&f) != nil {
				continue
			}
			recs, err := db.Lookup(context.Background(), f.Namespace, f.Package)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				t.Fatalf("valid entry %s/%s not found", f.Namespace, f.Package)
			}
			stored++
		}
		if stored == 0 && len(a.Affected) > 0 && rep.Sources[0].Advisories != 0 {
			t.Fatalf("advisory with no valid entry stored: %+v", rep.Sources[0])
		}
	})
}
