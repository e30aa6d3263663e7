package osv

import (
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var recordFixtures = filepath.Join("testdata", "records", "*", "*.json")

// skipParity checks that converter.decode without keepVersions (Debian)
// decodes data as encoding/json does, the versions lists left out.
func skipParity(t *testing.T, data []byte) {
	t.Helper()
	var std, got record
	errStd := stdjson.Unmarshal(data, &std)
	errGot := (&converter{eco: "Debian"}).decode(data, &got)
	if (errStd == nil) != (errGot == nil) {
		t.Fatalf("encoding/json error %v, Debian decode error %v, on %q", errStd, errGot, data)
	}
	if errStd != nil {
		return
	}
	for i := range std.Affected {
		std.Affected[i].Versions = nil
	}
	if d := cmp.Diff(std, got, cmp.Exporter(func(reflect.Type) bool { return true })); d != "" {
		t.Fatalf("decoded values differ on %q (-encoding/json +Debian decode):\n%s", data, d)
	}
}

// TestDecodeParity checks that the JSON drop-in decodes the OSV fixtures
// and their hostile variants as encoding/json did, the records and (for
// the language ecosystems) each entry's versions list.
func TestDecodeParity(t *testing.T) {
	feedtest.ParityFiles[record](t, recordFixtures)
	feedtest.ParityFiles[[]string](t, filepath.Join("testdata", "versions", "*.json"))
	files, err := filepath.Glob(recordFixtures)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range feedtest.Hostile(data) {
			t.Run("debian/"+file+"/"+name, func(t *testing.T) { skipParity(t, v) })
		}
	}
	for _, doc := range []string{
		`{"id": "X", "affected": [{"versions": null}]}`,
		`{"id": "X", "affected": [{"versions": ["1", 2]}]}`,
		`{"id": "X", "affected": [{"versions": "1"}, {"VERSIONS": ["1"]}]}`,
		`{"id": "X", "affected": [{"versions": [}]}`,
	} {
		feedtest.DecodeParity[record](t, []byte(doc))
		skipParity(t, []byte(doc))
	}
}

// FuzzDecodeParity fuzzes that parity, the versions of every entry too.
func FuzzDecodeParity(f *testing.F) {
	feedtest.SeedFiles(f, recordFixtures)
	f.Fuzz(func(t *testing.T, data []byte) {
		skipParity(t, data)
		if r, ok := feedtest.DecodeParity[record](t, data); ok {
			for _, a := range r.Affected {
				feedtest.DecodeParity[[]string](t, a.Versions)
			}
		}
	})
}
