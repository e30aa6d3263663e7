package testutil

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// SharedImage is one row of ../shared/images/manifest.json.
type SharedImage struct {
	File      string `json:"file"`
	PackageDB string `json:"package_db"`
	Packages  int    `json:"packages"`
}

// SharedImages returns the images directory and the manifest rows whose
// package DB kind starts with kind ("dpkg", "apk", "rpm"), skipping the test
// when ../shared is absent.
func SharedImages(t testing.TB, kind string) (string, []SharedImage) {
	t.Helper()
	dir := Shared(t, "images")
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Images []SharedImage `json:"images"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("images/manifest.json: %v", err)
	}
	var out []SharedImage
	for _, im := range m.Images {
		if strings.HasPrefix(im.PackageDB, kind) {
			out = append(out, im)
		}
	}
	if len(out) == 0 {
		t.Fatalf("images/manifest.json lists no %s image", kind)
	}
	return dir, out
}

// LoadImage opens a docker-archive (*.tar) or the first image of an OCI
// layout directory (*.oci).
func LoadImage(p string) (v1.Image, error) {
	if strings.HasSuffix(p, ".tar") {
		return tarball.ImageFromPath(p, nil)
	}
	idx, err := layout.ImageIndexFromPath(p)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, errors.New("empty OCI index")
	}
	return idx.Image(im.Manifests[0].Digest)
}

// ExtractFiles squashes the image with go-containerregistry's
// mutate.Extract (an implementation independent of Stowaway's squasher) and
// returns the regular files (root-relative path to content) for which want
// is true.
func ExtractFiles(t testing.TB, imagePath string, want func(string) bool) map[string][]byte {
	t.Helper()
	img, err := LoadImage(imagePath)
	if err != nil {
		t.Fatalf("load %s: %v", imagePath, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("extract %s: %v", imagePath, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag != tar.TypeReg || !want(name) {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			t.Fatalf("extract %s: %s: %v", imagePath, name, err)
		}
		out[name] = b
	}
	return out
}

// ExtractFile returns the one file p of the image.
func ExtractFile(t testing.TB, imagePath, p string) []byte {
	t.Helper()
	files := ExtractFiles(t, imagePath, func(n string) bool { return n == p })
	b, ok := files[p]
	if !ok {
		t.Fatalf("%s: no %s in the squashed image", imagePath, p)
	}
	return b
}
