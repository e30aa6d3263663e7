package squash

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/klauspost/compress/gzip"
)

// nest is a tar of depth nested directories "d/d/d/…", each holding a small
// file, as a path-depth bomb would be built.
func nest(t testing.TB, depth int, withFiles bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	var p strings.Builder
	for i := 0; i < depth; i++ {
		p.WriteString("d/")
		if err := tw.WriteHeader(&tar.Header{Name: p.String(), Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if withFiles {
			tw.WriteHeader(&tar.Header{Name: p.String() + "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1, Format: tar.FormatPAX})
			tw.Write([]byte("x"))
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestPathLimits(t *testing.T) {
	long := strings.Repeat("n", 4097)
	tests := []struct {
		name   string
		blob   []byte
		limits Limits
		want   LimitError
	}{
		{name: "name over PATH_MAX", blob: tarBytes(t, []tf{{name: long, body: "x"}}),
			want: LimitError{What: "path length", Path: "layer L: entry " + shortPath(long), Limit: 4096, Got: 4097}},
		{name: "symlink target over PATH_MAX", blob: tarBytes(t, []tf{{name: "etc/l", typ: tar.TypeSymlink, link: long}}),
			want: LimitError{What: "link target length", Path: "layer L: entry etc/l", Limit: 4096, Got: 4097}},
		{name: "depth over the limit", blob: tarBytes(t, []tf{{name: strings.Repeat("a/", 10) + "f", body: "x"}}), limits: Limits{MaxPathDepth: 10},
			want: LimitError{What: "path depth", Path: "layer L: entry " + strings.Repeat("a/", 10) + "f", Limit: 10, Got: 11}},
		{name: "4096-level nest", blob: nest(t, 4096, false),
			want: LimitError{What: "path depth", Path: "layer L: entry " + shortPath(strings.TrimSuffix(strings.Repeat("d/", 1025), "/")), Limit: 1024, Got: 1025}},
		{name: "recorded paths", blob: tarBytes(t, []tf{{name: "a"}, {name: "b"}, {name: "c"}}), limits: Limits{MaxPaths: 2},
			want: LimitError{What: "recorded paths", Path: "layer L", Limit: 2, Got: 3}},
		{name: "implied parents count as paths", blob: tarBytes(t, []tf{{name: "a/b/c/d", typ: tar.TypeSymlink, link: "x"}}), limits: Limits{MaxPaths: 3},
			want: LimitError{What: "recorded paths", Path: "layer L", Limit: 3, Got: 5}},
		{name: "recorded name bytes", blob: tarBytes(t, []tf{{name: "aaaa"}, {name: "bbbb"}}), limits: Limits{MaxNameBytes: 6},
			want: LimitError{What: "total length of recorded paths", Path: "layer L", Limit: 6, Got: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Squash(context.Background(), []Layer{layerOf("L", tc.blob)}, Options{Limits: tc.limits, Want: func(string, fs.FileInfo) Want { return Stream }})
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a LimitError", err)
			}
			if d := cmp.Diff(&tc.want, le); d != "" {
				t.Errorf("LimitError (-want +got):\n%s", d)
			}
		})
	}
}

func TestLimitMessages(t *testing.T) {
	tests := []struct {
		err  LimitError
		want string
	}{
		{LimitError{What: "compression ratio", Path: "layer L", Limit: 200, Got: 1031, Floor: 1 << 30},
			"layer L: decompression bomb suspected: expanded 1031:1 past 1.0 GiB uncompressed (limit 200:1)"},
		{LimitError{What: "entry count", Path: "layer L", Limit: 2_000_000, Got: 2_000_001},
			"layer L: entry count 2000001 exceeds the limit of 2000000"},
		{LimitError{What: "path depth", Path: "layer L: entry d/d", Limit: 1024, Got: 1025},
			"layer L: entry d/d: path depth 1025 exceeds the limit of 1024"},
		{LimitError{What: "file size", Path: "var/lib/dpkg/status", Limit: 1 << 20, Got: 3 << 20},
			"var/lib/dpkg/status: file size 3.0 MiB exceeds the limit of 1.0 MiB"},
		{LimitError{What: "path length", Path: "layer L: entry x", Limit: 4096, Got: 5000},
			"layer L: entry x: path length 4.9 KiB exceeds the limit of 4.0 KiB"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

// TestNestWithinLimits: a deep but allowed nest is indexed whole, and what
// an upper layer deletes at the top of it hides everything below.
func TestNestWithinLimits(t *testing.T) {
	lower := layerOf("LOW", nest(t, 1000, true))
	upper := layerOf("UP", tarBytes(t, []tf{{name: "d/d/.wh.d"}}))
	var files []string
	_, err := Squash(context.Background(), []Layer{lower}, Options{
		Want:   func(string, fs.FileInfo) Want { return Stream },
		OnFile: func(_ context.Context, f File) error { files = append(files, f.Path); return nil },
	})
	if err != nil || len(files) != 1000 {
		t.Fatalf("nest alone: %d files, %v", len(files), err)
	}
	files = nil
	_, err = Squash(context.Background(), []Layer{lower, upper}, Options{
		Want:   func(string, fs.FileInfo) Want { return Stream },
		OnFile: func(_ context.Context, f File) error { files = append(files, f.Path); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"d/f", "d/d/f"}, files); d != "" {
		t.Errorf("visible files under a whiteout (-want +got):\n%s", d)
	}
}

// TestWhiteoutSemantics covers the hiding rules that the prefix-hash lookup
// replaced, including the OCI rule that a whiteout applies to lower layers
// only, even when the same layer recreates the path.
func TestWhiteoutSemantics(t *testing.T) {
	dir := func(n string) tf { return tf{name: n, typ: tar.TypeDir, mode: 0o755} }
	tests := []struct {
		name   string
		layers [][]tf // bottom first
		want   []string
	}{
		{name: "whiteout then same-layer directory hides lower children",
			layers: [][]tf{{dir("a/"), {name: "a/old", body: "1"}}, {{name: ".wh.a"}, dir("a/"), {name: "a/new", body: "2"}}},
			want:   []string{"a/new"}},
		{name: "opaque in a middle layer under an upper directory",
			layers: [][]tf{{dir("s/"), {name: "s/bottom", body: "1"}}, {dir("s/"), {name: "s/.wh..wh..opq"}, {name: "s/mid", body: "2"}}, {dir("s/"), {name: "s/top", body: "3"}}},
			want:   []string{"s/mid", "s/top"}},
		{name: "file replacing a directory hides its children",
			layers: [][]tf{{dir("x/"), {name: "x/y/z", body: "1"}}, {{name: "x", body: "file"}}},
			want:   []string{"x"}},
		{name: "symlink replacing a directory hides its children",
			layers: [][]tf{{{name: "x/y", body: "1"}, {name: "w/v", body: "2"}}, {{name: "x", typ: tar.TypeSymlink, link: "w"}}},
			want:   []string{"w/v"}},
		{name: "whiteout of a sibling with a shared prefix hides only itself",
			layers: [][]tf{{{name: "ab/c", body: "1"}, {name: "a/c", body: "2"}}, {{name: ".wh.a"}}},
			want:   []string{"ab/c"}},
		{name: "whiteouts only apply below",
			layers: [][]tf{{{name: "k", body: "1"}}, {{name: "k", body: "2"}, {name: ".wh.k"}}},
			want:   []string{"k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var layers []Layer
			for i, l := range tc.layers {
				layers = append(layers, layerOf(fmt.Sprint("L", i), tarBytes(t, l)))
			}
			got, _, err := collect(t, layers)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for p := range got {
				paths = append(paths, p)
			}
			if d := cmp.Diff(tc.want, paths, sortStrings); d != "" {
				t.Errorf("visible files (-want +got):\n%s", d)
			}
			// The per-layer index and merge must agree.
			var idxs []*LayerIndex
			for _, l := range layers {
				idx, err := IndexLayer(context.Background(), l, Options{Want: func(string, fs.FileInfo) Want { return Stream }})
				if err != nil {
					t.Fatal(err)
				}
				idxs = append(idxs, idx)
			}
			var merged []string
			if _, err := Merge(context.Background(), idxs, Limits{}, func(p, _ string) { merged = append(merged, p) }); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, merged, sortStrings); d != "" {
				t.Errorf("merged visible files (-want +got):\n%s", d)
			}
		})
	}
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })
