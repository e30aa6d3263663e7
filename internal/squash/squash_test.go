package squash

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

// tf is one tar entry of a test layer.
type tf struct {
	name, body, link string
	typ              byte
	mode             int64
	size             int64 // header size override (for lying headers)
	pax              map[string]string
}

func tarBytes(t testing.TB, entries []tf) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Size: int64(len(e.body)), PAXRecords: e.pax}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("header %s: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil && e.size == 0 {
			t.Fatalf("body %s: %v", e.name, err)
		}
	}
	if err := tw.Close(); err != nil && !strings.Contains(err.Error(), "missed writing") {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// layerOf is a test layer named by a label, not verified.
func layerOf(id string, blob []byte) Layer {
	return Layer{DiffID: id, NoVerify: true, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }}
}

// collect squashes layers, streaming every file, and returns path -> "layer:body".
func collect(t *testing.T, layers []Layer) (map[string]string, *FS, error) {
	got := map[string]string{}
	f, err := Squash(context.Background(), layers, Options{
		Want: func(string, fs.FileInfo) Want { return Stream | Keep },
		OnFile: func(_ context.Context, f File) error {
			b := make([]byte, f.Size)
			f.R.ReadAt(b, 0)
			got[f.Path] = f.Layer + ":" + string(b)
			return nil
		},
	})
	return got, f, err
}

func TestSquashWhiteouts(t *testing.T) {
	dir := func(n string) tf { return tf{name: n, typ: tar.TypeDir, mode: 0o755} }
	l1 := tarBytes(t, []tf{
		dir("etc/"), {name: "etc/motd", body: "hello"}, {name: "etc/keep", body: "k1"},
		dir("app/"), dir("app/node_modules/"), {name: "app/node_modules/minimist/package.json", body: "m"},
		{name: "app/node_modules/lodash/package.json", body: "l1"},
		dir("site/"), {name: "site/requests/METADATA", body: "r1"}, {name: "site/old/METADATA", body: "o1"},
		dir("opt/"), {name: "opt/x/file", body: "x1"},
		{name: "./usr/lib/os-release", body: "ID=alpine"},
	})
	l2 := tarBytes(t, []tf{
		{name: "etc/.wh.motd"},
		{name: "app/node_modules/.wh.minimist"},
		{name: "app/node_modules/lodash/package.json", body: "l2"},
		{name: "site/.wh..wh..opq"}, {name: "site/requests/METADATA", body: "r2"},
		{name: "opt/x", typ: tar.TypeSymlink, link: "/etc"},
		{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
	})
	l3 := tarBytes(t, []tf{{name: "/etc/keep", body: "k3"}})
	got, f, err := collect(t, []Layer{layerOf("L1", gz(t, l1)), layerOf("L2", l2), layerOf("L3", gz(t, l3))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"etc/keep":                             "L3:k3",
		"app/node_modules/lodash/package.json": "L2:l2",
		"site/requests/METADATA":               "L2:r2",
		"usr/lib/os-release":                   "L1:ID=alpine",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("visible files (-want +got):\n%s", d)
	}
	b, err := fs.ReadFile(f, "etc/os-release")
	if err != nil || string(b) != "ID=alpine" {
		t.Errorf("etc/os-release via symlink = %q, %v", b, err)
	}
	if l := f.Layer("etc/os-release"); l != "L2" {
		t.Errorf("Layer(etc/os-release) = %q, want L2 (the link)", l)
	}
	if l := f.Layer("usr/lib/os-release"); l != "L1" {
		t.Errorf("Layer(usr/lib/os-release) = %q", l)
	}
	if _, err := f.Stat("opt/x/file"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opt/x/file should be hidden by the upper symlink, got %v", err)
	}
	if err := fstest.TestFS(f, "etc/keep", "usr/lib/os-release", "site/requests/METADATA"); err != nil {
		t.Errorf("fstest: %v", err)
	}
}

func TestSquashHostile(t *testing.T) {
	ctx := context.Background()
	okLayer := tarBytes(t, []tf{{name: "etc/os-release", body: "ID=debian"}})
	truncated := gz(t, tarBytes(t, []tf{{name: "etc/big", body: strings.Repeat("x", 100000)}}))
	truncated = truncated[:len(truncated)/2]

	tests := []struct {
		name    string
		layers  []Layer
		limits  Limits
		want    func(string, fs.FileInfo) Want
		wantErr string
	}{
		{name: "truncated gzip", layers: []Layer{layerOf("T", truncated)}, wantErr: "layer T"},
		{name: "dot-dot entry", layers: []Layer{layerOf("D", tarBytes(t, []tf{{name: "../../etc/passwd", body: "x"}}))}, wantErr: `entry "../../etc/passwd" climbs out of the image root`},
		{name: "nested dot-dot entry", layers: []Layer{layerOf("D", tarBytes(t, []tf{{name: "a/../../x", body: "x"}}))}, wantErr: "climbs out of the image root"},
		{name: "hard link out of root", layers: []Layer{layerOf("H", tarBytes(t, []tf{{name: "etc/shadow", typ: tar.TypeLink, link: "../../etc/shadow"}}))}, wantErr: "hard link etc/shadow"},
		{name: "not a tar", layers: []Layer{layerOf("N", gz(t, bytes.Repeat([]byte("garbage!"), 200)))}, wantErr: "layer N"},
		{name: "entry count", layers: []Layer{layerOf("E", okLayer), layerOf("E2", tarBytes(t, []tf{{name: "a"}, {name: "b"}, {name: "c"}}))}, limits: Limits{MaxEntries: 2}, wantErr: "entry count"},
		{name: "oversize wanted file", layers: []Layer{layerOf("O", tarBytes(t, []tf{{name: "var/lib/dpkg/status", body: strings.Repeat("x", 2048)}}))}, limits: Limits{MaxFileSize: 1024}, wantErr: "var/lib/dpkg/status: file size 2.0 KiB exceeds the limit of 1.0 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == nil {
				want = func(string, fs.FileInfo) Want { return Keep }
			}
			_, err := Squash(ctx, tc.layers, Options{Limits: tc.limits, Want: want})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestSymlinkLoopAndEscape(t *testing.T) {
	l := tarBytes(t, []tf{
		{name: "a", typ: tar.TypeSymlink, link: "b"},
		{name: "b", typ: tar.TypeSymlink, link: "a"},
		{name: "etc/os-release", typ: tar.TypeSymlink, link: "../../../../host/etc/os-release"},
		{name: "etc/abs", typ: tar.TypeSymlink, link: "/../../usr/lib/os-release"},
		{name: "usr/lib/os-release", body: "ID=alpine"},
	})
	f, err := Squash(context.Background(), []Layer{layerOf("L", l)}, Options{Want: func(string, fs.FileInfo) Want { return Keep }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Open("a"); !errors.Is(err, ErrLoop) {
		t.Errorf("open loop: %v, want ErrLoop", err)
	}
	_, err = f.Open("etc/os-release")
	if !errors.Is(err, ErrEscape) || !strings.Contains(err.Error(), "etc/os-release -> ../../../../host/etc/os-release") {
		t.Errorf("open escaping link: %v, want ErrEscape naming the link", err)
	}
	// Absolute targets are rooted at the image root, as in a chroot.
	if b, err := fs.ReadFile(f, "etc/abs"); err != nil || string(b) != "ID=alpine" {
		t.Errorf("absolute link: %q, %v", b, err)
	}
}

// TestSparseFileSkipped: a 10 GiB sparse file costs nothing when no cataloger
// wants it, and is refused with a size error when one does.
func TestSparseFile(t *testing.T) {
	blob := sparseTar(t, "var/log/lastlog", 10<<30)
	_, err := Squash(context.Background(), []Layer{layerOf("S", blob)}, Options{Want: func(string, fs.FileInfo) Want { return Skip }})
	if err != nil {
		t.Fatalf("skipped sparse file: %v", err)
	}
	_, err = Squash(context.Background(), []Layer{layerOf("S", blob)}, Options{Want: func(string, fs.FileInfo) Want { return Stream }})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "file size" || le.Got != 10<<30 {
		t.Fatalf("wanted sparse file: %v, want a file size LimitError", err)
	}
}

// sparseTar hand-writes a PAX 1.0 sparse entry of the given logical size that
// holds one byte of data (Go's tar writer cannot write sparse files).
func sparseTar(t *testing.T, name string, size int64) []byte {
	t.Helper()
	rec := func(k, v string) string {
		line := " " + k + "=" + v + "\n"
		n := len(line)
		for {
			l := len(strconv.Itoa(n+len(strconv.Itoa(n)))) + len(line)
			if l == n {
				break
			}
			n = l
		}
		return strconv.Itoa(n) + line
	}
	pax := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", name) + rec("GNU.sparse.realsize", strconv.FormatInt(size, 10))
	smap := []byte("1\n" + strconv.FormatInt(size-1, 10) + "\n1\n")
	body := append(append(smap, make([]byte, 512-len(smap))...), 'x')
	var out []byte
	out = append(out, ustarHeader("PaxHeaders/x", 'x', int64(len(pax)))...)
	out = append(out, pad512([]byte(pax))...)
	out = append(out, ustarHeader("GNUSparseFile.0/x", '0', int64(len(body)))...)
	out = append(out, pad512(body)...)
	out = append(out, make([]byte, 1024)...)
	tr := tar.NewReader(bytes.NewReader(out))
	rh, err := tr.Next()
	if err != nil || rh.Size != size || rh.Name != name {
		t.Fatalf("sparse fixture: %+v %v", rh, err)
	}
	return out
}

func pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

func ustarHeader(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:], name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	copy(h[124:], []byte(leftPad(strconv.FormatInt(size, 8), 11)+"\x00"))
	copy(h[136:], "00000000000\x00")
	h[156] = typ
	copy(h[257:], "ustar\x0000")
	copy(h[148:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:], leftPad(strconv.FormatInt(int64(sum), 8), 6)+"\x00 ")
	return h
}

func leftPad(s string, n int) string { return strings.Repeat("0", n-len(s)) + s }

// TestGzipBomb: a layer of zeros that expands far beyond its size is stopped
// once it passes the ratio floor.
func TestGzipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 300 MiB expansion")
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	const size = 300 << 20
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	// Stream the zeros through gzip without holding them.
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write(tb.Bytes())
	zero := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		zw.Write(zero)
	}
	zw.Close()
	_, err := Squash(context.Background(), []Layer{layerOf("BOMB", zb.Bytes())}, Options{Limits: Limits{RatioFloor: 64 << 20, MaxRatio: 200}})
	var le *LimitError
	if !errors.As(err, &le) || le.What != "compression ratio" {
		t.Fatalf("err = %v, want a compression ratio LimitError", err)
	}
	if !strings.Contains(err.Error(), "decompression bomb") {
		t.Errorf("message %q should say decompression bomb", err)
	}
}

func TestDirEntriesNeverLeaveRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/os-release"), []byte("ID=alpine"), 0o644)
	os.Symlink(outside, filepath.Join(root, "escape"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "etc/secret"))
	it, err := DirEntries(root)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	f, err := SquashEntries(context.Background(), it, "dir", Options{
		Want:   func(string, fs.FileInfo) Want { return Stream | Keep },
		OnFile: func(_ context.Context, f File) error { seen = append(seen, f.Path); return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(seen)
	if d := cmp.Diff([]string{"etc/os-release"}, seen); d != "" {
		t.Errorf("files read (-want +got):\n%s", d)
	}
	if _, err := f.ReadFile("etc/secret"); err == nil {
		t.Errorf("read through a link to outside the root")
	}
}
