package osv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/feed/bz2/bz2test"
)

// TestBzip2Decompressors: Debian's bundles parse to the same records
// through Go's and every external decompressor on $PATH; a corrupt bundle
// fails naming it. No child process is left.
func TestBzip2Decompressors(t *testing.T) {
	const bundle = "Debian-all.osv.tar.bz2"
	data, err := os.ReadFile(filepath.Join("testdata", "debian", bundle))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	got := map[string]parsed{}
	for name, d := range bz2test.Decompressors(t) {
		r, err := parse(t, NewWithOptions("Debian", Options{Bzip2: d}), debianFS(t))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Stats.Records == 0 {
			t.Fatalf("%s: no records", name)
		}
		got[name] = r
		_, err = parse(t, NewWithOptions("Debian", Options{Bzip2: d}), fstest.MapFS{bundle: {Data: bad}})
		if err == nil || !strings.Contains(err.Error(), bundle) {
			t.Errorf("%s: corrupt: error %v, want one naming %s", name, err, bundle)
		}
		bz2test.NoChildren(t)
	}
	for name, r := range got {
		if d := cmp.Diff(got["go"], r); d != "" {
			t.Errorf("%s vs go (-go +%s):\n%s", name, name, d)
		}
	}
}
