package rust

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// section is one section of a generated ELF file.
type section struct {
	name string
	data []byte
}

// minimalELF builds a little-endian ELF64 x86-64 executable holding only
// the given PROGBITS sections and a section name table: enough for
// debug/elf and for cargo-auditable's layout.
func minimalELF(secs ...section) []byte {
	const ehsize, shentsize = 64, 64
	var body bytes.Buffer
	shstrtab := []byte{0}
	type hdr struct {
		name      uint32
		typ       uint32
		off, size uint64
		addralign uint64
	}
	hdrs := []hdr{{}}
	for _, s := range secs {
		hdrs = append(hdrs, hdr{name: uint32(len(shstrtab)), typ: uint32(elf.SHT_PROGBITS), off: uint64(ehsize + body.Len()), size: uint64(len(s.data)), addralign: 1})
		shstrtab = append(append(shstrtab, s.name...), 0)
		body.Write(s.data)
	}
	nameOff := uint32(len(shstrtab))
	shstrtab = append(append(shstrtab, ".shstrtab"...), 0)
	hdrs = append(hdrs, hdr{name: nameOff, typ: uint32(elf.SHT_STRTAB), off: uint64(ehsize + body.Len()), size: uint64(len(shstrtab)), addralign: 1})
	body.Write(shstrtab)
	for body.Len()%8 != 0 {
		body.WriteByte(0)
	}
	shoff := uint64(ehsize + body.Len())

	var out bytes.Buffer
	le := binary.LittleEndian
	out.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), 0, 0, 0, 0, 0, 0, 0, 0, 0})
	binary.Write(&out, le, uint16(elf.ET_EXEC))
	binary.Write(&out, le, uint16(elf.EM_X86_64))
	binary.Write(&out, le, uint32(elf.EV_CURRENT))
	binary.Write(&out, le, uint64(0)) // entry
	binary.Write(&out, le, uint64(0)) // phoff
	binary.Write(&out, le, shoff)     // shoff
	binary.Write(&out, le, uint32(0)) // flags
	binary.Write(&out, le, uint16(ehsize))
	binary.Write(&out, le, uint16(56)) // phentsize
	binary.Write(&out, le, uint16(0))  // phnum
	binary.Write(&out, le, uint16(shentsize))
	binary.Write(&out, le, uint16(len(hdrs)))
	binary.Write(&out, le, uint16(len(hdrs)-1)) // shstrndx
	out.Write(body.Bytes())
	for _, h := range hdrs {
		binary.Write(&out, le, h.name)
		binary.Write(&out, le, h.typ)
		binary.Write(&out, le, uint64(0)) // flags
		binary.Write(&out, le, uint64(0)) // addr
		binary.Write(&out, le, h.off)
		binary.Write(&out, le, h.size)
		binary.Write(&out, le, uint32(0)) // link
		binary.Write(&out, le, uint32(0)) // info
		binary.Write(&out, le, h.addralign)
		binary.Write(&out, le, uint64(0)) // entsize
	}
	return out.Bytes()
}

func zlibBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const auditJSON = `{"packages":[` +
	`{"name":"fixture-rs","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},` +
	`{"name":"regex","version":"1.5.4","source":"crates.io","dependencies":[2]},` +
	`{"name":"regex-syntax","version":"0.6.25","source":"crates.io"},` +
	`{"name":"cc","version":"1.0.73","source":"crates.io","kind":"build"},` +
	`{"name":"forked","version":"0.2.0","source":"git"}]}`

// binaries returns the generated executables of testdata/crates/root.
func binaries(t testing.TB) map[string][]byte {
	text := section{".text", []byte{0xc3}}
	return map[string][]byte{
		"usr/local/bin/auditable-app": minimalELF(text, section{".dep-v0", zlibBytes(t, []byte(auditJSON))}),
		"usr/local/bin/plain-elf":     minimalELF(text),
		"usr/local/bin/bad-dep":       minimalELF(text, section{".dep-v0", []byte("not zlib")}),
		"usr/local/bin/bad-json":      minimalELF(text, section{".dep-v0", zlibBytes(t, []byte(`{"packages":[{"name":"x"}]}`))}),
	}
}

// TestFixtures checks the committed executables against their generator
// (section names and inflated contents, so a new compress/flate does not
// break it) and rewrites them with -update.
func TestFixtures(t *testing.T) {
	root := filepath.Join("testdata", "crates", "root")
	for p, b := range binaries(t) {
		fp := filepath.Join(root, filepath.FromSlash(p))
		if *update {
			if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fp, b, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(fp, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(fp)
		if err != nil {
			t.Fatalf("%v (run with -update to generate)", err)
		}
		if d := cmp.Diff(sections(t, b), sections(t, have)); d != "" {
			t.Errorf("%s differs from its generator (-generated +committed):\n%s", p, d)
		}
	}
}

func sections(t *testing.T, b []byte) []string {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range f.Sections {
		data, _ := s.Data()
		if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
			if inflated, err := io.ReadAll(zr); err == nil {
				data = inflated
			}
		}
		out = append(out, s.Name+": "+string(data))
	}
	sort.Strings(out)
	return out
}
