package squash

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzSquash feeds arbitrary bytes to the walker as a layer (plain, gzip or
// zstd, by magic) and checks that it never panics, that indexing the layer
// on its own and merging gives the same visible files and errors as
// squashing it, and that a layer whose claimed diffID is its true digest
// never fails verification.
func FuzzSquash(f *testing.F) {
	dir := func(n string) tf { return tf{name: n, typ: tar.TypeDir, mode: 0o755} }
	seeds := [][]tf{
		{dir("etc/"), {name: "etc/os-release", body: "ID=alpine"}, {name: "lib/apk/db/installed", body: "P:musl\nV:1\n"}},
		{{name: "etc/.wh.motd"}, {name: "site/.wh..wh..opq"}, {name: "site/x/METADATA", body: "Name: x"}},
		{{name: "a", typ: tar.TypeSymlink, link: "b"}, {name: "b", typ: tar.TypeSymlink, link: "/a"}, {name: "a/c", body: "z"}},
		{{name: "../x", body: "x"}},
		{{name: "h", typ: tar.TypeLink, link: "../../etc/shadow"}},
	}
	for _, s := range seeds {
		b := tarBytes(f, s)
		f.Add(b)
		f.Add(gz(f, b))
	}
	f.Add(nest(f, 40, true))
	lim := Limits{MaxFileSize: 1 << 20, MaxEntries: 10000, MaxLayerBytes: 64 << 20, MaxKept: 8 << 20, MaxPathDepth: 64, MaxPaths: 20000, MaxNameBytes: 1 << 20}
	want := func(p string, _ fs.FileInfo) Want { return Stream | Keep }
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		var direct []string
		_, serr := Squash(ctx, []Layer{layerOf("L", b)}, Options{Limits: lim, Want: want, OnFile: func(_ context.Context, f File) error {
			direct = append(direct, f.Path)
			return nil
		}})
		idx, ierr := IndexLayer(ctx, layerOf("L", b), Options{Limits: lim, Want: want})
		if (serr == nil) != (ierr == nil) {
			// IndexLayer records what Squash may skip (hidden duplicates),
			// so only a limit may tell them apart.
			var le *LimitError
			if !errors.As(serr, &le) && !errors.As(ierr, &le) {
				t.Fatalf("squash err %v, index err %v", serr, ierr)
			}
			return
		}
		if serr != nil {
			return
		}
		var merged []string
		if _, err := Merge(ctx, []*LayerIndex{idx}, lim, func(p, _ string) { merged = append(merged, p) }); err != nil {
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("merge: %v", err)
			}
			return
		}
		sort.Strings(direct)
		sort.Strings(merged)
		if d := cmp.Diff(direct, merged); d != "" {
			t.Fatalf("merged visible files differ from squash (-squash +merge):\n%s", d)
		}
		// The true digest of a plain stream always verifies.
		if len(b) > 2 && !(b[0] == 0x1f && b[1] == 0x8b) && !(len(b) >= 4 && string(b[:4]) == "\x28\xb5\x2f\xfd") {
			_, err := Squash(ctx, []Layer{verified(digestOf(b), digestOf(b), b)}, Options{Limits: lim, Want: want})
			var de *DigestError
			if errors.As(err, &de) {
				t.Fatalf("true digests failed verification: %v", err)
			}
		}
	})
}
