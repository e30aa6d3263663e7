package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestStoredLayerStreams: a stored layer larger than any buffer on the way
// is read as a stream: every byte arrives (its digest checks), and reading
// it allocates a small fraction of its size, not the layer nor
// distribution's 4 MiB blob reader buffer.
func TestStoredLayerStreams(t *testing.T) {
	f := newFixture(t, nil)
	img, err := random.Image(24<<20, 1) // random bytes: the gzip layer is about as large
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(f.host+"/big:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	stored, err := f.reg.Image(context.Background(), "big", digestOf(t, img))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := stored.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers: %v, %v", ls, err)
	}
	size, err := ls[0].Size()
	if err != nil {
		t.Fatal(err)
	}
	if size < 16<<20 {
		t.Fatalf("layer is %d bytes, want more than 16 MiB", size)
	}
	want, _ := ls[0].Digest()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	n, err := io.CopyBuffer(h, struct{ io.Reader }{rc}, buf)
	rc.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != want.String() {
		t.Errorf("layer digest %s, want %s", got, want)
	}
	const bound = 1 << 20
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
		t.Errorf("reading a %d MiB layer allocated %d KiB, want at most %d KiB", size>>20, alloc>>10, bound>>10)
	}
}
