// Package hostile builds the images of the hostile-image suite in Go, with no
// data from ../shared: images whose configs lie about their layers, layers
// that poison a shared cache, path-depth and decompression bombs, links and
// names that leave the root, unparseable versions beside vulnerable packages,
// and the rest of DESIGN.md's threat model (Appendix C). Each Case says what a
// scan must do with it: fail with a named error, or report what the same
// image without the attack reports.
//
// The suite runs through the CLI (internal/cli, hostile_suite_test.go) and
// through `serve` (pushed with go-containerregistry's remote.Write, which
// does not check what a config claims; scanned on push; read back with the
// AWS SDK for Go v2), on SQLite and PostgreSQL. Mirror writes the small
// vulnerability feed mirror the cases are matched against.
package hostile

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Entry is one tar entry of a hand-made layer.
type Entry struct {
	Name, Body, Link string
	Type             byte // tar.TypeReg when 0
	// Size, when set, is written in the header instead of len(Body): a
	// header that lies (a sparse or truncated file).
	Size int64
}

// File is a regular file entry.
func File(name, body string) Entry { return Entry{Name: name, Body: body} }

// Dir is a directory entry.
func Dir(name string) Entry { return Entry{Name: name, Type: tar.TypeDir} }

// Symlink is a symbolic link entry.
func Symlink(name, target string) Entry {
	return Entry{Name: name, Link: target, Type: tar.TypeSymlink}
}

// Tar writes entries as an uncompressed tar stream (PAX headers where the
// names need them).
func Tar(entries ...Entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: 0o644, Size: int64(len(e.Body)),
			ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.Size != 0 {
			h.Size = e.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			panic(fmt.Sprintf("hostile: tar header %q: %v", e.Name, err))
		}
		tw.Write([]byte(e.Body)) // a lying header leaves the body short
	}
	tw.Close()
	return buf.Bytes()
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Digest is the sha256 digest of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Layer is one layer of a hand-made image: its blob exactly as stored (gzip
// or plain tar) and the diffID the config claims for it.
type Layer struct {
	Blob []byte
	// DiffID is the claim; empty means the true diffID (computed from the
	// blob, decompressed).
	DiffID string
	// Uncompressed marks a plain tar blob.
	Uncompressed bool
}

// GzipLayer is a gzip layer of entries that tells the truth.
func GzipLayer(entries ...Entry) Layer { return Layer{Blob: Gzip(Tar(entries...))} }

// TrueDiffID is the digest of the layer's uncompressed stream.
func (l Layer) TrueDiffID() string {
	if l.Uncompressed {
		return Digest(l.Blob)
	}
	zr, err := gzip.NewReader(bytes.NewReader(l.Blob))
	if err != nil {
		return Digest(l.Blob) // not gzip: the claim cannot be true anyway
	}
	h := sha256.New()
	io.Copy(h, zr)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Image builds an OCI image of layers (bottom first) whose config claims
// the given diffIDs. Writing it with go-containerregistry (tarball, layout,
// remote) copies the claims as they are.
func Image(layers ...Layer) (v1.Image, error) {
	cf := v1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Created: v1.Time{Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		RootFS:  v1.RootFS{Type: "layers"},
		Config:  v1.Config{Env: []string{"PATH=/usr/bin:/bin"}},
	}
	core := &image{}
	for _, l := range layers {
		claim := l.DiffID
		if claim == "" {
			claim = l.TrueDiffID()
		}
		h, err := v1.NewHash(claim)
		if err != nil {
			return nil, fmt.Errorf("hostile: diffID %q: %w", claim, err)
		}
		cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, h)
		mt := types.OCILayer
		if l.Uncompressed {
			mt = types.OCIUncompressedLayer
		}
		core.layers = append(core.layers, blob{data: l.Blob, mt: mt})
	}
	cfg, err := json.Marshal(cf)
	if err != nil {
		return nil, fmt.Errorf("hostile: config: %w", err)
	}
	core.config = cfg
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: descriptor(cfg, types.OCIConfigJSON)}
	for _, b := range core.layers {
		m.Layers = append(m.Layers, descriptor(b.data, b.mt))
	}
	if core.manifest, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("hostile: manifest: %w", err)
	}
	return partial.CompressedToImage(core)
}

func descriptor(b []byte, mt types.MediaType) v1.Descriptor {
	h, _ := v1.NewHash(Digest(b))
	return v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: h}
}

// image implements partial.CompressedImageCore over raw bytes.
type image struct {
	config, manifest []byte
	layers           []blob
}

func (i *image) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *image) RawManifest() ([]byte, error)        { return i.manifest, nil }

func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h.String() == Digest(i.config) {
		return blob{data: i.config, mt: types.OCIConfigJSON}, nil
	}
	for _, b := range i.layers {
		if Digest(b.data) == h.String() {
			return b, nil
		}
	}
	return nil, fmt.Errorf("hostile: no blob %s", h)
}

type blob struct {
	data []byte
	mt   types.MediaType
}

func (b blob) Digest() (v1.Hash, error) { return v1.NewHash(Digest(b.data)) }
func (b blob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b.data)), nil
}
func (b blob) Size() (int64, error)                { return int64(len(b.data)), nil }
func (b blob) MediaType() (types.MediaType, error) { return b.mt, nil }
