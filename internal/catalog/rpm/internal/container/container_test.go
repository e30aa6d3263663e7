package container

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
)

// seeds returns the BDB fixture of package rpm and an NDB database holding
// the same headers.
func seeds(t testing.TB) (bdb, ndb []byte, blobs [][]byte) {
	t.Helper()
	bdb, err := os.ReadFile("../../testdata/bdb/Packages")
	if err != nil {
		t.Fatal(err)
	}
	var w warn.List
	if err := WalkBDB(context.Background(), bytes.NewReader(bdb), int64(len(bdb)), &w, func(b []byte) error {
		blobs = append(blobs, b)
		return nil
	}); err != nil || w.Len() > 0 || len(blobs) == 0 {
		t.Fatalf("walk the fixture: %v, %q, %d blobs", err, w.Strings(""), len(blobs))
	}
	return bdb, NDBImage(blobs...), blobs
}

func TestRoundTrip(t *testing.T) {
	_, ndb, blobs := seeds(t)
	var got [][]byte
	var w warn.List
	if err := WalkNDB(context.Background(), bytes.NewReader(ndb), int64(len(ndb)), &w, func(b []byte) error {
		got = append(got, b)
		return nil
	}); err != nil || w.Len() > 0 {
		t.Fatal(err, w.Strings(""))
	}
	if len(got) != len(blobs) {
		t.Fatalf("%d blobs back, want %d", len(got), len(blobs))
	}
	for i := range got {
		if !bytes.Equal(got[i], blobs[i]) {
			t.Errorf("blob %d differs", i)
		}
		if err := CheckHeader(got[i]); err != nil {
			t.Errorf("blob %d: %v", i, err)
		}
	}
}

// FuzzWalk fuzzes the Berkeley DB and NDB walkers, in memory: every blob
// handed out fits the limits, the blobs add up to at most the file, and the
// warnings are capped.
func FuzzWalk(f *testing.F) {
	bdb, ndb, _ := seeds(f)
	f.Add(bdb)
	f.Add(ndb)
	f.Fuzz(func(t *testing.T, b []byte) {
		var total int64
		check := func(blob []byte) error {
			if total += int64(len(blob)); total > int64(len(b)) || len(blob) > MaxHeaderSize {
				t.Fatalf("blobs add up to %d bytes from a %d byte file", total, len(b))
			}
			return nil
		}
		r := bytes.NewReader(b)
		var w warn.List
		_ = WalkBDB(context.Background(), r, int64(len(b)), &w, check)
		total = 0
		_ = WalkNDB(context.Background(), r, int64(len(b)), &w, check)
		if len(w.Strings("")) > warn.Max+1 {
			t.Fatalf("%d warnings, more than the cap", w.Len())
		}
	})
}

// FuzzCheckHeader: CheckHeader never panics, and a header it accepts has
// its index and data inside the blob.
func FuzzCheckHeader(f *testing.F) {
	_, _, blobs := seeds(f)
	for _, b := range blobs {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckHeader(b) != nil {
			return
		}
		il := int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
		dl := int64(b[4])<<24 | int64(b[5])<<16 | int64(b[6])<<8 | int64(b[7])
		if 8+16*il+dl > int64(len(b)) {
			t.Fatalf("accepted a header claiming %d entries and %d bytes in %d", il, dl, len(b))
		}
	})
}
