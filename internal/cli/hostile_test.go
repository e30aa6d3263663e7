package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

type entry struct {
	name, body, link string
	typ              byte
}

func layerTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

// writeArchive writes a docker archive whose single layer blob is exactly blob.
func writeArchive(t *testing.T, blob []byte) string {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (ioReadCloser, error) { return nopCloser{bytes.NewReader(blob)}, nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	tag, _ := name.NewTag("hostile/test:1")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// truncateLayers rewrites a docker archive with every layer blob cut to a
// third of its length.
func truncateLayers(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tr := tar.NewReader(bytes.NewReader(b))
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(tr)
		if strings.HasSuffix(h.Name, ".tar.gz") || (len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b) {
			body = body[:len(body)/3]
		}
		h.Size = int64(len(body))
		tw.WriteHeader(h)
		tw.Write(body)
	}
	tw.Close()
	q := p + ".truncated.tar"
	if err := os.WriteFile(q, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return q
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, errb.String()
}

func TestHostileInputs(t *testing.T) {
	osRelease := entry{name: "etc/os-release", body: "ID=alpine\nVERSION_ID=3.19.1\n"}
	tests := []struct {
		name    string
		path    func(t *testing.T) string
		wantErr string
	}{
		{"truncated gzip", func(t *testing.T) string {
			// Corrupt the layer after the archive is written so that its
			// recorded digest still matches the truncated blob's prefix.
			full := gzipped(layerTar(t, []entry{osRelease, {name: "big", body: strings.Repeat("x", 1<<20)}}))
			return truncateLayers(t, writeArchive(t, full))
		}, "unexpected EOF"},
		{"dot-dot entry", func(t *testing.T) string {
			return writeArchive(t, gzipped(layerTar(t, []entry{osRelease, {name: "../../../tmp/pwned", body: "x"}})))
		}, `climbs out of the image root`},
		{"symlink loop", func(t *testing.T) string {
			return writeArchive(t, gzipped(layerTar(t, []entry{
				{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
				{name: "usr/lib/os-release", typ: tar.TypeSymlink, link: "/etc/os-release"},
			})))
		}, "too many levels of symbolic links"},
		{"link escaping the root", func(t *testing.T) string {
			return writeArchive(t, gzipped(layerTar(t, []entry{
				{name: "etc/os-release", typ: tar.TypeSymlink, link: "../../../../../etc/os-release"},
			})))
		}, "etc/os-release -> ../../../../../etc/os-release: symlink leads out of the image root"},
		{"missing manifest", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "nomanifest.tar")
			os.WriteFile(p, layerTar(t, []entry{{name: "blobs/sha256/abc", body: "x"}}), 0o644)
			return "docker-archive:" + p
		}, "manifest.json"},
		{"not an archive at all", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "junk.tar")
			os.WriteFile(p, bytes.Repeat([]byte{0xff}, 4096), 0o644)
			return p
		}, "not a readable tar archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := run(t, "sbom", tc.path(t), "--format", "json")
			if code == ExitOK {
				t.Fatalf("exit code 0, want an error; stderr: %s", stderr)
			}
			t.Logf("stderr: %s", stderr)
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantErr)
			}
		})
	}
}

var _ v1.Image = empty.Image
