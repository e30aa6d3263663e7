package golang

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// symProgram is the source of the test binaries: a main package with a
// function only ever inlined (add), one never called (unused), a method
// called through a pointer, and a standard-library call (net/url.Parse).
const symProgram = `package main

import (
	"fmt"
	"net/url"
	"os"
)

type T struct{ n int }

//go:noinline
func (t *T) Bump() int { t.n++; return t.n }

func add(a, b int) int { return a + b }

func unused() string { return "never called" }

func main() {
	u, err := url.Parse(os.Args[0])
	t := &T{}
	fmt.Println(u, err, add(len(os.Args), 2), t.Bump())
}
`

type builtBinaries struct {
	full, stripped, pie string
	err                 error
}

var (
	buildOnce sync.Once
	built     builtBinaries
)

// testBinaries builds symProgram three ways (with the symbol table, with
// -s -w, and as -s -w PIE) once per test binary; it skips when the go
// command is not available.
func testBinaries(t testing.TB) builtBinaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stowaway-gosym-")
		if err != nil {
			built.err = err
			return
		}
		// Left for the OS: the binaries are shared by the tests and fuzz
		// seeds of this test binary. Removed by TestMain.
		builtDir = dir
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/symtest\n\ngo 1.22\n"), 0o644); err != nil {
			built.err = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(symProgram), 0o644); err != nil {
			built.err = err
			return
		}
		b := builtBinaries{full: filepath.Join(dir, "full"), stripped: filepath.Join(dir, "stripped"), pie: filepath.Join(dir, "pie")}
		for _, args := range [][]string{
			{"build", "-o", b.full, "."},
			{"build", "-ldflags=-s -w", "-trimpath", "-o", b.stripped, "."},
			{"build", "-buildmode=pie", "-ldflags=-s -w", "-o", b.pie, "."},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				if args[1] == "-buildmode=pie" {
					b.pie = "" // PIE needs a linker setup some machines lack
					continue
				}
				built.err = &buildError{string(out), err}
				return
			}
		}
		built = b
	})
	if built.err != nil {
		t.Skipf("cannot build the test binaries with the go command: %v", built.err)
	}
	return built
}

var builtDir string

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

func readFileSymbols(t testing.TB, path string) *inventory.SymbolTable {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, gb, err := ParseBinaryWithSymbols(f, st.Size())
	if err != nil || len(pkgs) == 0 || gb == nil {
		t.Fatalf("ParseBinaryWithSymbols(%s) = %d packages, %v, %v", path, len(pkgs), gb, err)
	}
	return gb
}

func TestReadSymbolsBuiltBinaries(t *testing.T) {
	b := testBinaries(t)
	full := readFileSymbols(t, b.full)
	if full.Problem != "" || !full.Complete {
		t.Fatalf("full binary: problem %q, complete %v (%s)", full.Problem, full.Complete, full.Partial)
	}
	if full.GOOS != "linux" || full.GOARCH != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", full.GOOS, full.GOARCH)
	}
	for _, tc := range []struct {
		pkg, sym string
		want     bool
	}{
		{"net/url", "Parse", true},
		{"example.com/symtest", "T.Bump", true},  // pointer receiver, not inlined
		{"example.com/symtest", "add", true},     // only ever inlined: from the inline tree
		{"example.com/symtest", "main", true},    // "main" is the main package's path
		{"example.com/symtest", "unused", false}, // dead code
		{"archive/zip", "OpenReader", false},     // not linked
		{"fmt", "Println", true},
	} {
		if got := full.Has(tc.pkg, tc.sym); got != tc.want {
			t.Errorf("Has(%q, %q) = %v, want %v", tc.pkg, tc.sym, got, tc.want)
		}
	}
	if full.HasPackage("archive/zip") {
		t.Error("archive/zip is not in the binary")
	}

	// A stripped binary (no symbol table: go:func.* comes from the
	// moduledata) and a stripped PIE give the same set.
	for name, path := range map[string]string{"stripped": b.stripped, "pie": b.pie} {
		if path == "" {
			continue
		}
		got := readFileSymbols(t, path)
		if got.Problem != "" || !got.Complete {
			t.Errorf("%s: problem %q, complete %v (%s)", name, got.Problem, got.Complete, got.Partial)
		}
		if d := cmp.Diff(full.Symbols, got.Symbols); d != "" {
			t.Errorf("%s binary's symbols differ from the full binary's (-full +%s):\n%s", name, name, d)
		}
	}

	// With the section headers gone too, the pclntab is found by its magic
	// and the moduledata in the writable segments.
	raw, err := os.ReadFile(b.stripped)
	if err != nil {
		t.Fatal(err)
	}
	noSections := dropSectionHeaders(t, raw)
	bi, err := buildinfo.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := ReadSymbols(bytes.NewReader(noSections), int64(len(noSections)), bi)
	if got.Problem != "" || !got.Complete {
		t.Fatalf("no section headers: problem %q, complete %v (%s)", got.Problem, got.Complete, got.Partial)
	}
	if d := cmp.Diff(full.Symbols, got.Symbols); d != "" {
		t.Errorf("without section headers the symbols differ (-full +got):\n%s", d)
	}
}

// dropSectionHeaders zeroes an ELF64 file's section header fields (e_shoff,
// e_shnum, e_shstrndx), as sstrip does.
func dropSectionHeaders(t *testing.T, b []byte) []byte {
	t.Helper()
	out := bytes.Clone(b)
	if out[elf.EI_CLASS] != byte(elf.ELFCLASS64) {
		t.Fatal("not ELF64")
	}
	binary.LittleEndian.PutUint64(out[0x28:], 0) // e_shoff
	binary.LittleEndian.PutUint16(out[0x3c:], 0) // e_shnum
	binary.LittleEndian.PutUint16(out[0x3e:], 0) // e_shstrndx
	return out
}

// TestReadSymbolsMatchesGosym: every top-level function debug/gosym finds
// in the pclntab is in our set, under the name SplitSymbol gives it.
func TestReadSymbolsMatchesGosym(t *testing.T) {
	b := testBinaries(t)
	gb := readFileSymbols(t, b.full)
	f, err := elf.Open(b.full)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := f.Section(".gopclntab").Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, f.Section(".text").Addr))
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, fn := range tab.Funcs {
		pkg, sym, ok := SplitSymbol(fn.Name)
		if !ok {
			continue
		}
		if pkg == "main" {
			pkg = "example.com/symtest"
		}
		if !gb.Has(pkg, sym) {
			missing = append(missing, pkg+" "+sym)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d functions of debug/gosym's table are missing, e.g. %q", len(missing), missing[:min(5, len(missing))])
	}
	if n := gb.SymbolCount(); n <= len(tab.Funcs)/2 {
		t.Errorf("%d symbols for %d functions", n, len(tab.Funcs))
	}
}

func TestSplitSymbol(t *testing.T) {
	for _, tc := range []struct {
		in, pkg, sym string
		ok           bool
	}{
		{"golang.org/x/text/language.Parse", "golang.org/x/text/language", "Parse", true},
		{"net/http.(*Server).Serve", "net/http", "Server.Serve", true},
		{"golang.org/x/text/language.Tag.String", "golang.org/x/text/language", "Tag.String", true},
		{"gopkg.in/yaml%2ev2.Unmarshal", "gopkg.in/yaml.v2", "Unmarshal", true},
		{"main.main", "main", "main", true},
		{"main.main.func1", "main", "main.func1", true},
		{"example.com/m.Map[...]", "example.com/m", "Map", true},
		{"example.com/m.(*List[...]).Push", "example.com/m", "List.Push", true},
		{"go:buildid", "", "", false},
		{"type:.eq.[2]interface {}", "", "", false},
	} {
		pkg, sym, ok := SplitSymbol(tc.in)
		if pkg != tc.pkg || sym != tc.sym || ok != tc.ok {
			t.Errorf("SplitSymbol(%q) = %q, %q, %v; want %q, %q, %v", tc.in, pkg, sym, ok, tc.pkg, tc.sym, tc.ok)
		}
	}
}

// TestReadSymbolsHostile: malformed binaries give a Problem, never a panic
// or a partial claim of completeness.
func TestReadSymbolsHostile(t *testing.T) {
	b := testBinaries(t)
	raw, err := os.ReadFile(b.stripped)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	pcln := f.Section(".gopclntab")
	nfuncOff := int(pcln.Offset) + 8
	cases := map[string]func([]byte){
		"truncated":          func(b []byte) {},
		"pclntab magic gone": func(b []byte) { copy(b[pcln.Offset:], []byte{0, 0, 0, 0}) },
		"huge nfunc":         func(b []byte) { binary.LittleEndian.PutUint64(b[nfuncOff:], 1<<40) },
		"offsets reversed":   func(b []byte) { binary.LittleEndian.PutUint64(b[nfuncOff+3*8:], 1<<30) },
		"function table garbage": func(b []byte) {
			off := binary.LittleEndian.Uint64(b[nfuncOff+7*8:])
			for i := range 64 {
				b[int(pcln.Offset)+int(off)+8+i] = 0xff
			}
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(raw)
			if name == "truncated" {
				b = b[:pcln.Offset+pcln.Size/2]
			} else {
				mutate(b)
			}
			got := ReadSymbols(bytes.NewReader(b), int64(len(b)), nil)
			if got.Problem == "" {
				t.Errorf("no problem reported; complete %v, %d symbols", got.Complete, got.SymbolCount())
			}
			if got.Complete || len(got.Symbols) > 0 {
				t.Errorf("problem %q with complete %v and %d symbols", got.Problem, got.Complete, got.SymbolCount())
			}
		})
	}
}

// FuzzReadSymbols: any bytes give a result, never a panic, and a result
// with a problem holds no symbols.
func FuzzReadSymbols(f *testing.F) {
	b := testBinaries(f)
	raw, err := os.ReadFile(b.stripped)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)/3])
	f.Add(raw[:64])
	f.Fuzz(func(t *testing.T, data []byte) {
		got := ReadSymbols(bytes.NewReader(data), int64(len(data)), nil)
		if got.Problem != "" && (got.Complete || len(got.Symbols) > 0) {
			t.Fatalf("problem %q with symbols", got.Problem)
		}
	})
}

// FuzzLineTable fuzzes the pclntab reader alone (a smaller input than a
// whole binary), with inline trees read from the same bytes.
func FuzzLineTable(f *testing.F) {
	b := testBinaries(f)
	ef, err := elf.Open(b.stripped)
	if err != nil {
		f.Fatal(err)
	}
	data, err := ef.Section(".gopclntab").Data()
	ef.Close()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 8 {
			return
		}
		lt, err := parseLineTable(data, binary.LittleEndian, binary.LittleEndian.Uint32(data))
		if err != nil {
			return
		}
		set := newSymbolSet("example.com/x")
		_ = lt.walk(set, func(off uint32, n int) ([]byte, error) {
			if uint64(off)+uint64(n) > uint64(len(data)) {
				return nil, os.ErrInvalid
			}
			return data[off : int(off)+n], nil
		})
	})
}

// BenchmarkReadSymbols reads the stripped test binary's symbols and inline
// trees (set STOWAWAY_BENCH_BINARY to read another Go binary).
func BenchmarkReadSymbols(b *testing.B) {
	path := os.Getenv("STOWAWAY_BENCH_BINARY")
	if path == "" {
		path = testBinaries(b).stripped
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	bi, err := buildinfo.Read(bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		gb := ReadSymbols(bytes.NewReader(raw), int64(len(raw)), bi)
		if gb.Problem != "" {
			b.Fatal(gb.Problem)
		}
	}
}

// TestDecodeBudget: names and pc-value tables that every function of a
// crafted pclntab could share are decoded against one budget per binary.
func TestDecodeBudget(t *testing.T) {
	lt := &lineTable{funcname: bytes.Repeat([]byte("a"), 2*maxName)}
	if _, ok := lt.funcName(0); ok || lt.decoded != maxName {
		t.Fatalf("a name without its NUL: ok %v, %d bytes counted, want %d", ok, lt.decoded, maxName)
	}
	for lt.decoded <= MaxDecode {
		lt.funcName(1)
	}
	pc := &lineTable{pctab: bytes.Repeat([]byte{2, 1}, 1<<20), decoded: MaxDecode - 100}
	if _, err := pc.maxValue(0); !errors.Is(err, errDecodeBudget) {
		t.Errorf("maxValue past the budget: %v, want %v", err, errDecodeBudget)
	}
	pc = &lineTable{pctab: []byte{2, 1, 4, 1, 1, 1, 0}}
	if n, err := pc.maxValue(0); err != nil || n != 2 || pc.decoded != 6 {
		t.Errorf("maxValue = %d, %v (%d bytes), want 2 (-1+1+2-1), 6 bytes before the end mark", n, err, pc.decoded)
	}
}
