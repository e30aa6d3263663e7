package admission

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func seedDir(f *testing.F, dir string) {
	f.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeConfig: any input decodes to a valid config or an error,
// never a panic; a decoded config passes Validate again unchanged.
func FuzzDecodeConfig(f *testing.F) {
	seedDir(f, filepath.Join("testdata", "policy"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(c.AllowedRegistries) == 0 || c.Severity.Rank() == 0 || c.RequireScan == nil {
			t.Fatalf("accepted an invalid config: %+v", c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("a decoded config fails Validate: %v", err)
		}
	})
}

// FuzzDecodeReview: any body decodes or errors; the containers of a decoded
// review can be listed and each image reference parsed without a panic.
func FuzzDecodeReview(f *testing.F) {
	seedDir(f, filepath.Join("testdata", "reviews"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rv, err := DecodeReview(bytes.NewReader(data))
		if err != nil {
			return
		}
		cs, _, err := Containers(rv.Request.Kind, rv.Request.Object)
		if err != nil {
			return
		}
		for _, c := range cs {
			r, err := ParseImageRef(c.Image)
			if err == nil && (r.Host == "" || r.Path == "" || (r.Tag == "" && r.Digest == "")) {
				t.Fatalf("%q parsed to %+v", c.Image, r)
			}
		}
	})
}
