package squash

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io/fs"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMergeEqualsSquash: indexing each layer on its own and merging the
// indexes gives the same visible files and kept content as Squash.
func TestMergeEqualsSquash(t *testing.T) {
	dir := func(n string) tf { return tf{name: n, typ: tar.TypeDir, mode: 0o755} }
	layers := []Layer{
		layerOf("L1", gz(t, tarBytes(t, []tf{
			dir("etc/"), {name: "etc/motd", body: "hello"}, {name: "etc/keep", body: "k1"},
			{name: "app/node_modules/minimist/package.json", body: "m"}, {name: "app/node_modules/lodash/package.json", body: "l1"},
			{name: "site/requests/METADATA", body: "r1"}, {name: "site/old/METADATA", body: "o1"},
			{name: "usr/lib/os-release", body: "ID=alpine"},
		}))),
		layerOf("L2", tarBytes(t, []tf{
			{name: "etc/.wh.motd"}, {name: "app/node_modules/.wh.minimist"},
			{name: "app/node_modules/lodash/package.json", body: "l2"},
			{name: "site/.wh..wh..opq"}, {name: "site/requests/METADATA", body: "r2"},
			{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
		})),
		layerOf("L3", gz(t, tarBytes(t, []tf{{name: "etc/keep", body: "k3"}}))),
	}
	want := func(p string, _ fs.FileInfo) Want {
		if p == "usr/lib/os-release" {
			return Keep | Stream
		}
		return Stream
	}
	// Squash: what is visible.
	direct := map[string]string{}
	sq, err := Squash(context.Background(), layers, Options{Want: want, OnFile: func(_ context.Context, f File) error {
		direct[f.Path] = f.Layer
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Index every layer, round-trip the indexes through JSON (as a cache
	// would), merge.
	var idxs []*LayerIndex
	streamed := map[string][]string{}
	for _, l := range layers {
		idx, err := IndexLayer(context.Background(), l, Options{Want: want, OnFile: func(_ context.Context, f File) error {
			streamed[f.Layer] = append(streamed[f.Layer], f.Path)
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		var back LayerIndex
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		idxs = append(idxs, &back)
	}
	merged := map[string]string{}
	mfs, err := Merge(context.Background(), idxs, Limits{}, func(p, layer string) { merged[p] = layer })
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(direct, merged); d != "" {
		t.Errorf("visible files (-squash +merge):\n%s", d)
	}
	// IndexLayer streams every wanted file, hidden or not.
	l1 := streamed["L1"]
	sort.Strings(l1)
	if len(l1) != 7 {
		t.Errorf("L1 streamed %v, want all 7 files", l1)
	}
	for _, f := range []fs.FS{sq, mfs} {
		b, err := fs.ReadFile(f, "etc/os-release")
		if err != nil || string(b) != "ID=alpine" {
			t.Errorf("os-release through the link: %q %v", b, err)
		}
	}
	if _, err := mfs.Open("etc/keep"); err == nil {
		t.Errorf("etc/keep content was never recorded, Open must fail")
	}
}
