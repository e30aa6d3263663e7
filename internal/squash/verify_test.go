package squash

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// verified is a layer that is checked against its diffID (and digest).
func verified(diffID, digest string, blob []byte) Layer {
	return Layer{DiffID: diffID, Digest: digest, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }}
}

type permanent interface{ Permanent() bool }

// TestVerify: every layer is checked against the diffID the config claims
// and the digest the manifest names, in the one pass that reads it; a
// mismatch fails the walk, whatever the compression.
func TestVerify(t *testing.T) {
	plain := tarBytes(t, []tf{{name: "etc/os-release", body: "ID=debian"}, {name: "var/lib/dpkg/status", body: "Package: a"}})
	other := tarBytes(t, []tf{{name: "etc/os-release", body: "ID=alpine"}})
	gzBlob, zstBlob := gz(t, plain), zst(t, plain)
	diffID, otherID := digestOf(plain), digestOf(other)
	tests := []struct {
		name    string
		layer   Layer
		wantErr *DigestError
		errText string
	}{
		{name: "plain, diffID only", layer: verified(diffID, "", plain)},
		{name: "plain, digest equal to diffID", layer: verified(diffID, diffID, plain)},
		{name: "gzip, diffID and digest", layer: verified(diffID, digestOf(gzBlob), gzBlob)},
		{name: "zstd, diffID and digest", layer: verified(diffID, digestOf(zstBlob), zstBlob)},
		{name: "gzip, forged diffID", layer: verified(otherID, digestOf(gzBlob), gzBlob),
			wantErr: &DigestError{Layer: otherID, What: "diffID", Claimed: otherID, Actual: diffID}},
		{name: "plain, forged diffID", layer: verified(otherID, "", plain),
			wantErr: &DigestError{Layer: otherID, What: "diffID", Claimed: otherID, Actual: diffID}},
		{name: "gzip, blob not the named one", layer: verified(diffID, digestOf(zstBlob), gzBlob),
			wantErr: &DigestError{Layer: diffID, What: "digest", Claimed: digestOf(zstBlob), Actual: digestOf(gzBlob)}},
		{name: "plain, blob not the named one", layer: verified(diffID, otherID, plain),
			wantErr: &DigestError{Layer: diffID, What: "digest", Claimed: otherID, Actual: diffID}},
		{name: "malformed diffID", layer: verified("sha256:abc", "", plain), errText: `diffID: digest "sha256:abc" is malformed`},
		{name: "unknown algorithm", layer: verified("md5:"+strings.Repeat("0", 32), "", plain), errText: "unsupported algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"squash", "index"} {
				var err error
				if mode == "squash" {
					_, err = Squash(context.Background(), []Layer{tc.layer}, Options{Want: func(string, fs.FileInfo) Want { return Stream | Keep }})
				} else {
					_, err = IndexLayer(context.Background(), tc.layer, Options{Want: func(string, fs.FileInfo) Want { return Stream | Keep }})
				}
				switch {
				case tc.wantErr != nil:
					var de *DigestError
					if !errors.As(err, &de) {
						t.Fatalf("%s: err = %v, want a DigestError", mode, err)
					}
					if d := cmp.Diff(tc.wantErr, de); d != "" {
						t.Errorf("%s: DigestError (-want +got):\n%s", mode, d)
					}
				case tc.errText != "":
					if err == nil || !strings.Contains(err.Error(), tc.errText) {
						t.Fatalf("%s: err = %v, want %q", mode, err, tc.errText)
					}
				default:
					if err != nil {
						t.Fatalf("%s: %v", mode, err)
					}
					continue
				}
				var p permanent
				if !errors.As(err, &p) || !p.Permanent() {
					t.Errorf("%s: %v is not Permanent", mode, err)
				}
			}
		})
	}
}

func TestDigestErrorMessages(t *testing.T) {
	e := &DigestError{Layer: "sha256:aa", What: "diffID", Claimed: "sha256:aa", Actual: "sha256:bb"}
	if got, want := e.Error(), "layer sha256:aa: the image config claims diffID sha256:aa, but the layer's uncompressed content is sha256:bb"; got != want {
		t.Errorf("diffID message = %q, want %q", got, want)
	}
	e = &DigestError{Layer: "sha256:aa", What: "digest", Claimed: "sha256:cc", Actual: "sha256:dd"}
	if got, want := e.Error(), "layer sha256:aa: the manifest names blob sha256:cc, but the blob's content is sha256:dd"; got != want {
		t.Errorf("digest message = %q, want %q", got, want)
	}
}

// failingReader returns data, then an I/O error.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestReadErrorIsTransient: a storage or network error under the layer is
// not the image's fault, so it does not say Permanent, and it is named as a
// read error rather than a corrupt stream.
func TestReadErrorIsTransient(t *testing.T) {
	blob := gz(t, tarBytes(t, []tf{{name: "etc/a", body: strings.Repeat("x", 300000)}, {name: "etc/b", body: "b"}}))
	ioErr := errors.New("connection reset by peer")
	l := Layer{DiffID: digestOf(nil), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&failingReader{data: blob[:len(blob)/2], err: ioErr}), nil
	}}
	for _, mode := range []string{"squash", "index"} {
		var err error
		want := func(string, fs.FileInfo) Want { return Stream }
		if mode == "squash" {
			_, err = Squash(context.Background(), []Layer{l}, Options{Want: want})
		} else {
			_, err = IndexLayer(context.Background(), l, Options{Want: want})
		}
		if !errors.Is(err, ioErr) || !strings.Contains(err.Error(), "read blob") {
			t.Fatalf("%s: err = %v, want the read error", mode, err)
		}
		var p permanent
		if errors.As(err, &p) && p.Permanent() {
			t.Errorf("%s: %v says Permanent", mode, err)
		}
	}
}

// TestPermanentErrors: every error caused by the image's bytes says so.
func TestPermanentErrors(t *testing.T) {
	truncated := gz(t, tarBytes(t, []tf{{name: "etc/big", body: strings.Repeat("x", 100000)}}))
	truncated = truncated[:len(truncated)/2]
	cases := map[string][]byte{
		"truncated": truncated,
		"climbing":  tarBytes(t, []tf{{name: "../x", body: "x"}}),
		"hard link": tarBytes(t, []tf{{name: "x", typ: tar.TypeLink, link: "../../y"}}),
		"garbage":   gz(t, bytes.Repeat([]byte("garbage!"), 200)),
		"deep":      tarBytes(t, []tf{{name: strings.Repeat("a/", 2000) + "f", body: "x"}}),
	}
	for name, blob := range cases {
		_, err := Squash(context.Background(), []Layer{layerOf("L", blob)}, Options{Want: func(string, fs.FileInfo) Want { return Stream }})
		var p permanent
		if err == nil || !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("%s: err = %v, want a Permanent error", name, err)
		}
	}
}
