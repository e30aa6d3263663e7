package registry

import (
	"context"
	"errors"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// TestFSDriverPaths: the port keeps the checks the dropped base wrapper
// made (invalid paths refused) and the driver's own errors (missing paths).
func TestFSDriverPaths(t *testing.T) {
	ctx := context.Background()
	d := newFSDriver(t.TempDir())
	if err := d.PutContent(ctx, "/a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, err := d.GetContent(ctx, "/a/b"); err != nil || string(b) != "x" {
		t.Errorf("GetContent /a/b = %q, %v", b, err)
	}
	for _, p := range []string{"a/b", "/a b", "/a//b", "", "/a/b/"} {
		var inv storagedriver.InvalidPathError
		if _, err := d.GetContent(ctx, p); !errors.As(err, &inv) {
			t.Errorf("GetContent %q: %v, want InvalidPathError", p, err)
		}
		if err := d.Delete(ctx, p); !errors.As(err, &inv) {
			t.Errorf("Delete %q: %v, want InvalidPathError", p, err)
		}
	}
	var nf storagedriver.PathNotFoundError
	if _, err := d.Stat(ctx, "/missing"); !errors.As(err, &nf) {
		t.Errorf("Stat /missing: %v, want PathNotFoundError", err)
	}
	if err := d.Move(ctx, "/missing", "/c"); !errors.As(err, &nf) {
		t.Errorf("Move /missing: %v, want PathNotFoundError", err)
	}
}
