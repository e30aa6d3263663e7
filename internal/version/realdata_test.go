package version_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// secdbRejected are the fixed versions in the shared Alpine secdb snapshot
// that apk-tools itself rejects as invalid; APK returns ErrInvalid for them.
var secdbRejected = []string{
	"0.12.5.-r0", "0.8.21.r2", "1.0.4.-r0", "1.11-20-r0", "1.18.-r2",
	"1.7.5.-r1", "10.0.11-0", "10.2.22.r0", "10.2.24.r0", "2.15.r-r1",
	"2021-03-27-r5", "4.10-1-r1", "4.8.0.-r1", "57-1-r2",
}

// TestAlpineSecdbVersions parses every fixed version of the shared Alpine
// secdb snapshot and sorts them: all but secdbRejected must be valid.
func TestAlpineSecdbVersions(t *testing.T) {
	dir := testutil.Shared(t, "feeds/alpine/secdb")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no secdb files under %s: %v", dir, err)
	}
	seen := map[string]bool{}
	for _, name := range files {
		var db struct {
			Packages []struct {
				Pkg struct {
					Secfixes map[string]json.RawMessage `json:"secfixes"`
				} `json:"pkg"`
			} `json:"packages"`
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(io.LimitReader(f, 64<<20)).Decode(&db)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range db.Packages {
			for v := range p.Pkg.Secfixes {
				seen[v] = true
			}
		}
	}
	var valid, rejected []string
	c := version.APK{}
	for v := range seen {
		if _, err := c.Compare(v, v); err != nil {
			if !errors.Is(err, version.ErrInvalid) {
				t.Errorf("%q: %v does not wrap ErrInvalid", v, err)
			}
			rejected = append(rejected, v)
			continue
		}
		valid = append(valid, v)
	}
	sort.Strings(rejected)
	want := append([]string(nil), secdbRejected...)
	sort.Strings(want)
	if diff := cmp.Diff(want, rejected); diff != "" {
		t.Errorf("rejected secdb versions (-want +got):\n%s", diff)
	}
	var sortErr error
	sort.Slice(valid, func(i, j int) bool {
		n, err := c.Compare(valid[i], valid[j])
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return n < 0
	})
	if sortErr != nil {
		t.Fatal(sortErr)
	}
	for i := 1; i < len(valid); i++ {
		if n, _ := c.Compare(valid[i-1], valid[i]); n > 0 {
			t.Fatalf("after sorting, %q > %q", valid[i-1], valid[i])
		}
	}
	t.Logf("%d distinct secdb versions: %d valid and sorted, %d rejected", len(seen), len(valid), len(rejected))
}
