// Command mkimage writes a synthetic docker-archive image for benchmarks: N
// gzip layers adding up to about SIZE bytes uncompressed, holding a dpkg
// status database, node_modules and Python dist-info trees, text files that
// compress like source code and incompressible blobs. The content is derived
// from a fixed seed, so every run builds the same image.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	out := flag.String("o", "bench/out/synthetic.tar", "output docker-archive")
	size := flag.Int64("size", 1<<30, "total uncompressed bytes")
	layers := flag.Int("layers", 8, "number of layers")
	flag.Parse()
	if err := run(*out, *size, *layers); err != nil {
		log.Fatal(err)
	}
}

var words = []string{"func", "return", "if", "err", "nil", "for", "range", "package", "import", "struct", "string", "int", "context", "value", "error", "the", "a", "of", "to", "config", "server", "client", "handler", "request", "response"}

func text(r *rand.Rand, n int) []byte {
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(8) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func run(out string, total int64, nLayers int) error {
	r := rand.New(rand.NewPCG(1, 2))
	per := total / int64(nLayers)
	img := v1.Image(empty.Image)
	for i := 0; i < nLayers; i++ {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add := func(name string, body []byte, mode int64) {
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))})
			tw.Write(body)
		}
		if i == 0 {
			add("etc/os-release", []byte("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"), 0o644)
			var st bytes.Buffer
			for p := 0; p < 400; p++ {
				desc := bytes.ReplaceAll(text(r, 120), []byte("\n"), []byte(" "))
				fmt.Fprintf(&st, "Package: pkg%d\nStatus: install ok installed\nArchitecture: amd64\nSource: src%d\nVersion: 1.%d-%d\nDescription: synthetic package %d\n %s\n\n", p, p/3, p, p%7, p, desc)
			}
			add("var/lib/dpkg/status", st.Bytes(), 0o644)
		}
		written := int64(0)
		for f := 0; written < per; f++ {
			var body []byte
			var name string
			mode := int64(0o644)
			switch f % 10 {
			case 0:
				name = fmt.Sprintf("app%d/node_modules/mod%d/package.json", i, f)
				body = []byte(fmt.Sprintf(`{"name":"mod%d","version":"1.%d.0","description":%q}`, f, f%50, text(r, 200)))
			case 1:
				name = fmt.Sprintf("usr/lib/python3/site-packages/lib%d_%d-2.%d.dist-info/METADATA", i, f, f%9)
				body = []byte(fmt.Sprintf("Metadata-Version: 2.1\nName: lib%d-%d\nVersion: 2.%d\n\n%s", i, f, f%9, text(r, 300)))
			case 2:
				name = fmt.Sprintf("opt/blob%d/%d.bin", i, f)
				body = make([]byte, 256<<10)
				for j := range body {
					body[j] = byte(r.Uint32())
				}
			default:
				name = fmt.Sprintf("src%d/dir%d/file%d.go", i, f/100, f)
				body = text(r, 64<<10)
			}
			add(name, body, mode)
			written += int64(len(body))
		}
		tw.Close()
		blob := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return err
		}
	}
	tag, _ := name.NewTag("bench/synthetic:latest")
	if err := os.MkdirAll("bench/out", 0o755); err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}
