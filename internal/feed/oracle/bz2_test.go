package oracle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/feed/bz2/bz2test"
)

// TestBzip2Decompressors: the .bz2 file parses to the same records through
// Go's and every external decompressor on $PATH; a corrupt one fails naming
// the file; the size cap stops the decompressor. No child process is left.
func TestBzip2Decompressors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "bz2", FileName))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0xff
	got := map[string]result{}
	for name, d := range bz2test.Decompressors(t) {
		r, err := parseAll(t, os.DirFS(filepath.Join("testdata", "bz2")), Options{Bzip2: d})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Stats.Records == 0 {
			t.Fatalf("%s: no records", name)
		}
		got[name] = r
		_, err = parseAll(t, fstest.MapFS{FileName: {Data: bad}}, Options{Bzip2: d})
		if err == nil || !strings.Contains(err.Error(), FileName) {
			t.Errorf("%s: corrupt: error %v, want one naming %s", name, err, FileName)
		}
		_, err = parseAll(t, fstest.MapFS{FileName: {Data: data}}, Options{Bzip2: d, MaxFileSize: 1000})
		if !errors.Is(err, errTooLarge) {
			t.Errorf("%s: size cap: error %v", name, err)
		}
		bz2test.NoChildren(t)
	}
	for name, r := range got {
		if d := cmp.Diff(got["go"], r); d != "" {
			t.Errorf("%s vs go (-go +%s):\n%s", name, name, d)
		}
	}
}
