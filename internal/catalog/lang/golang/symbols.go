package golang

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Limits of the symbol reader. An image author controls every byte of a
// binary: each cost is bounded, and a binary past a bound gets a Problem
// (its findings' symbol presence is UNKNOWN), never a failed scan.
const (
	// MaxPclntab bounds the pclntab read into memory (a 100 MB Kubernetes
	// binary has a pclntab of about 20 MB).
	MaxPclntab = 256 << 20
	// MaxFuncs bounds the functions of one binary.
	MaxFuncs = 1 << 21
	// MaxSymbols bounds the distinct (package, function) pairs kept.
	MaxSymbols = 1 << 20
	// MaxInlinePerFunc bounds one function's inline tree.
	MaxInlinePerFunc = 1 << 16
	// MaxInlineTotal bounds the inline-tree entries of one binary.
	MaxInlineTotal = 1 << 22
	// MaxDecode bounds the bytes of names and pc-value tables decoded for
	// one binary: a crafted table can point every function at the same
	// long name or table (a real binary decodes a few MB).
	MaxDecode = 256 << 20
	// maxName bounds one function name.
	maxName = 1 << 16
	// maxMagicScan bounds the bytes searched for the pclntab's magic when
	// no section names it.
	maxMagicScan = 512 << 20
)

// pclntab magic numbers (runtime/symtab.go, abi.PCLnTabMagic).
const (
	magic12  = 0xfffffffb
	magic116 = 0xfffffffa
	magic118 = 0xfffffff0
	magic120 = 0xfffffff1
)

// ReadSymbols reads the function symbols of the Go ELF binary r (size bytes,
// build information bi) from its pclntab, with the functions inlined into
// them. Every problem is recorded in the result, never returned: a binary
// whose symbols cannot be read still has its modules.
//
// How it finds the parts (facts as golang.org/x/vuln's internal/buildinfo
// and internal/gosym use them; the code is our own):
//
//   - the pclntab: the .gopclntab section, else .data.rel.ro.gopclntab,
//     else (section headers stripped or absent) the first valid pclntab
//     header found by its magic in the sections, or the segments, that
//     can hold it;
//   - function names: the pclntab's function table (Go 1.18 and later;
//     older binaries through debug/gosym, names only);
//   - inline trees: each function's FUNCDATA_InlTree, an offset from the
//     symbol "go:func.*", whose address comes from the ELF symbol table or,
//     in a stripped binary, from the runtime's moduledata (found as the
//     word that points at the pclntab);
//   - GOOS and GOARCH: the build settings, else the ELF header.
func ReadSymbols(r io.ReaderAt, size int64, bi *debug.BuildInfo) (out *inventory.SymbolTable) {
	out = &inventory.SymbolTable{}
	if bi != nil {
		for _, d := range bi.Deps {
			if d != nil && d.Replace != nil && d.Replace.Version != "" && d.Replace.Path != d.Path {
				if out.Replaced == nil {
					out.Replaced = map[string]string{}
				}
				out.Replaced[d.Replace.Path] = d.Path
			}
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS":
				out.GOOS = s.Value
			case "GOARCH":
				out.GOARCH = s.Value
			}
		}
	}
	defer func() {
		// debug/elf and debug/gosym have had panics on crafted files.
		if v := recover(); v != nil {
			*out = inventory.SymbolTable{GOOS: out.GOOS, GOARCH: out.GOARCH, Replaced: out.Replaced, Problem: fmt.Sprintf("malformed binary (%v)", v)}
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		out.Problem = "read ELF: " + err.Error()
		return out
	}
	if out.GOOS == "" || out.GOARCH == "" {
		goos, goarch := elfPlatform(f)
		if out.GOOS == "" {
			out.GOOS = goos
		}
		if out.GOARCH == "" {
			out.GOARCH = goarch
		}
	}
	mainPath := ""
	if bi != nil {
		mainPath = bi.Path
	}
	e := &exe{f: f, r: r, size: size}
	syms, complete, partial, err := e.symbols(mainPath)
	if err != nil {
		out.Problem = err.Error()
		return out
	}
	out.Symbols, out.Complete, out.Partial = syms, complete, partial
	return out
}

type exe struct {
	f    *elf.File
	r    io.ReaderAt
	size int64
}

// region is bytes of the file loaded at a virtual address.
type region struct {
	addr uint64
	data []byte
}

func (e *exe) symbols(mainPath string) (map[string][]string, bool, string, error) {
	tab, err := e.pclntab()
	if err != nil {
		return nil, false, "", err
	}
	if len(tab.data) < 8 {
		return nil, false, "", errors.New("pclntab: too short")
	}
	bo := e.f.ByteOrder
	magic := bo.Uint32(tab.data)
	set := newSymbolSet(mainPath)
	switch magic {
	case magic118, magic120:
		lt, err := parseLineTable(tab.data, bo, magic)
		if err != nil {
			return nil, false, "", err
		}
		gofunc, gfErr := e.goFunc(tab, lt)
		complete := gfErr == nil
		partial := ""
		if gfErr != nil {
			partial = "inline trees not read: " + gfErr.Error()
		}
		if err := lt.walk(set, func(off uint32, n int) ([]byte, error) {
			if !complete {
				return nil, nil
			}
			return e.readAt(gofunc+uint64(off), n)
		}); err != nil {
			return nil, false, "", err
		}
		if set.err != nil {
			return nil, false, "", set.err
		}
		return set.result(), complete, partial, nil
	case magic12, magic116:
		// Go 1.2 to 1.17: names through debug/gosym; their inline trees
		// are not read.
		var text uint64
		if s := e.f.Section(".text"); s != nil {
			text = s.Addr
		}
		t, err := gosym.NewTable(nil, gosym.NewLineTable(tab.data, text))
		if err != nil {
			return nil, false, "", fmt.Errorf("pclntab: %w", err)
		}
		if len(t.Funcs) > MaxFuncs {
			return nil, false, "", fmt.Errorf("pclntab: %d functions (more than %d)", len(t.Funcs), MaxFuncs)
		}
		for i := range t.Funcs {
			if t.Funcs[i].Sym != nil {
				set.add(t.Funcs[i].Sym.Name)
			}
		}
		if set.err != nil {
			return nil, false, "", set.err
		}
		return set.result(), false, "inline trees not read: binary built before Go 1.18", nil
	}
	return nil, false, "", fmt.Errorf("pclntab: unknown magic %#x", magic)
}

// pclntab finds the pclntab and reads it.
func (e *exe) pclntab() (region, error) {
	for _, name := range []string{".gopclntab", ".data.rel.ro.gopclntab"} {
		if s := e.f.Section(name); s != nil && s.Type != elf.SHT_NOBITS {
			data, err := e.sectionData(s.Offset, s.Size)
			if err != nil {
				return region{}, fmt.Errorf("pclntab: section %s: %w", name, err)
			}
			return region{addr: s.Addr, data: data}, nil
		}
	}
	// No section names it: search by the magic where it can live.
	scanned := uint64(0)
	try := func(addr, off, size uint64) (region, bool, error) {
		if size == 0 || scanned >= maxMagicScan {
			return region{}, false, nil
		}
		if size > maxMagicScan-scanned {
			size = maxMagicScan - scanned
		}
		scanned += size
		data, err := e.sectionData(off, size)
		if err != nil {
			return region{}, false, err
		}
		if i := findPclntab(data, e.f.ByteOrder); i >= 0 {
			return region{addr: addr + uint64(i), data: data[i:]}, true, nil
		}
		return region{}, false, nil
	}
	var tried bool
	for _, s := range e.f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_ALLOC == 0 || s.Flags&elf.SHF_EXECINSTR != 0 {
			continue
		}
		if s.Name != ".data.rel.ro" && s.Name != ".rodata" && s.Name != "" {
			continue
		}
		tried = true
		reg, ok, err := try(s.Addr, s.Offset, s.Size)
		if err != nil {
			return region{}, fmt.Errorf("pclntab: section %s: %w", s.Name, err)
		}
		if ok {
			return reg, nil
		}
	}
	if !tried {
		for _, p := range e.f.Progs {
			if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X != 0 {
				continue
			}
			reg, ok, err := try(p.Vaddr, p.Off, p.Filesz)
			if err != nil {
				return region{}, fmt.Errorf("pclntab: segment at %#x: %w", p.Vaddr, err)
			}
			if ok {
				return reg, nil
			}
		}
	}
	return region{}, errors.New("no pclntab found")
}

func (e *exe) sectionData(off, size uint64) ([]byte, error) {
	if size > MaxPclntab {
		return nil, fmt.Errorf("%d bytes (more than %d)", size, MaxPclntab)
	}
	if e.size >= 0 && (off > uint64(e.size) || size > uint64(e.size)-off) {
		return nil, fmt.Errorf("%d bytes at %d lie outside the file", size, off)
	}
	buf := make([]byte, size)
	n, err := e.r.ReadAt(buf, int64(off))
	if n == len(buf) {
		return buf, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

// readAt reads n bytes at virtual address addr of a loaded segment.
func (e *exe) readAt(addr uint64, n int) ([]byte, error) {
	for _, p := range e.f.Progs {
		if p.Type != elf.PT_LOAD || addr < p.Vaddr || addr-p.Vaddr >= p.Filesz {
			continue
		}
		if uint64(n) > p.Filesz-(addr-p.Vaddr) {
			return nil, fmt.Errorf("%d bytes at %#x run past their segment", n, addr)
		}
		buf := make([]byte, n)
		if _, err := e.r.ReadAt(buf, int64(p.Off+(addr-p.Vaddr))); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return nil, fmt.Errorf("address %#x is in no loaded segment", addr)
}

// findPclntab returns the offset of the first valid Go 1.18+ pclntab
// header in b (checked at every 4-byte boundary), or -1.
func findPclntab(b []byte, bo binary.ByteOrder) int {
	for i := 0; i+8 <= len(b); i += 4 {
		m := bo.Uint32(b[i:])
		if (m != magic118 && m != magic120) || b[i+4] != 0 || b[i+5] != 0 {
			continue
		}
		if _, err := parseLineTable(b[i:], bo, m); err == nil {
			return i
		}
	}
	return -1
}

// lineTable is a Go 1.18+ pclntab.
type lineTable struct {
	data     []byte
	bo       binary.ByteOrder
	ptrSize  int
	go120    bool
	nfunc    int
	funcname []byte
	pctab    []byte
	functab  []byte // pclntable: the function table, then the _func records
	// funcnameOff and the other offsets are from the header's start.
	funcnameOff uint64
	// decoded counts the name and pc-value bytes read (MaxDecode).
	decoded int
}

var errDecodeBudget = fmt.Errorf("pclntab: more than %d bytes of names and pc-value tables", MaxDecode)

func parseLineTable(b []byte, bo binary.ByteOrder, magic uint32) (*lineTable, error) {
	if len(b) < 8 {
		return nil, errors.New("pclntab: too short")
	}
	ps := int(b[7])
	if (b[6] != 1 && b[6] != 2 && b[6] != 4) || (ps != 4 && ps != 8) {
		return nil, fmt.Errorf("pclntab: bad header (instruction size %d, pointer size %d)", b[6], ps)
	}
	if len(b) < 8+8*ps {
		return nil, errors.New("pclntab: header truncated")
	}
	word := func(i int) uint64 {
		if ps == 4 {
			return uint64(bo.Uint32(b[8+i*ps:]))
		}
		return bo.Uint64(b[8+i*ps:])
	}
	t := &lineTable{data: b, bo: bo, ptrSize: ps, go120: magic == magic120}
	nfunc := word(0)
	if nfunc == 0 || nfunc > MaxFuncs {
		return nil, fmt.Errorf("pclntab: %d functions", nfunc)
	}
	t.nfunc = int(nfunc)
	// words: nfunc, nfiles, textStart (unused since 1.26), funcname, cu,
	// filetab, pctab, pcln offsets.
	offs := []uint64{word(3), word(4), word(5), word(6), word(7)}
	prev := uint64(8 + 8*ps)
	for _, o := range offs {
		if o < prev || o > uint64(len(b)) {
			return nil, errors.New("pclntab: table offsets out of order or past its end")
		}
		prev = o
	}
	t.funcnameOff = offs[0]
	t.funcname = b[offs[0]:offs[1]]
	t.pctab = b[offs[3]:offs[4]]
	t.functab = b[offs[4]:]
	if uint64(len(t.functab)) < (nfunc+1)*8 {
		return nil, errors.New("pclntab: function table truncated")
	}
	return t, nil
}

// funcName is the NUL-terminated name at off in the name table.
func (t *lineTable) funcName(off int32) (string, bool) {
	if off < 0 || int(off) >= len(t.funcname) {
		return "", false
	}
	s := t.funcname[off:]
	if len(s) > maxName {
		s = s[:maxName]
	}
	i := bytes.IndexByte(s, 0)
	if i < 0 {
		t.decoded += len(s)
		return "", false
	}
	t.decoded += i + 1
	return string(s[:i]), true
}

// Function record layout (runtime._func): entryOff, nameOff, args,
// deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset, startLine (Go
// 1.20+) as 4-byte words, then funcID, flag, a pad byte and nfuncdata; then
// pcdata [npcdata]uint32 and funcdata [nfuncdata]uint32.
const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

// walk adds every function's name and the names in its inline tree to set.
// readInl reads n bytes of the inline tree at an offset from go:func.*; it
// returns nil to skip inline trees.
func (t *lineTable) walk(set *symbolSet, readInl func(off uint32, n int) ([]byte, error)) error {
	fixed := 40
	inlSize := 20
	if t.go120 {
		fixed, inlSize = 44, 16
	}
	inlTotal := 0
	for i := 0; i < t.nfunc; i++ {
		funcoff := uint64(t.bo.Uint32(t.functab[i*8+4:]))
		if funcoff+uint64(fixed) > uint64(len(t.functab)) {
			return fmt.Errorf("pclntab: function %d lies past the table", i)
		}
		fn := t.functab[funcoff:]
		name, ok := t.funcName(int32(t.bo.Uint32(fn[4:])))
		if t.decoded > MaxDecode {
			return errDecodeBudget
		}
		if !ok {
			return fmt.Errorf("pclntab: function %d has a bad name offset", i)
		}
		set.add(name)
		npcdata := uint64(t.bo.Uint32(fn[28:]))
		nfuncdata := uint64(fn[fixed-1])
		if funcoff+uint64(fixed)+4*(npcdata+nfuncdata) > uint64(len(t.functab)) {
			return fmt.Errorf("pclntab: function %s: data tables past the table", name)
		}
		if npcdata <= pcdataInlTreeIndex || nfuncdata <= funcdataInlTree {
			continue
		}
		pcoff := t.bo.Uint32(fn[fixed+4*pcdataInlTreeIndex:])
		inlOff := t.bo.Uint32(fn[uint64(fixed)+4*npcdata+4*funcdataInlTree:])
		if pcoff == 0 || inlOff == ^uint32(0) {
			continue
		}
		n, err := t.maxValue(pcoff)
		if err != nil {
			return fmt.Errorf("pclntab: function %s: %w", name, err)
		}
		n++ // entries are indexed from 0
		if n <= 0 {
			continue
		}
		if n > MaxInlinePerFunc {
			return fmt.Errorf("pclntab: function %s: inline tree of %d entries (more than %d)", name, n, MaxInlinePerFunc)
		}
		if inlTotal += n; inlTotal > MaxInlineTotal {
			return fmt.Errorf("pclntab: more than %d inline-tree entries", MaxInlineTotal)
		}
		b, err := readInl(inlOff, n*inlSize)
		if err != nil {
			return fmt.Errorf("pclntab: function %s: inline tree: %w", name, err)
		}
		for j := 0; j+inlSize <= len(b); j += inlSize {
			var nameOff int32
			if t.go120 {
				nameOff = int32(t.bo.Uint32(b[j+4:])) // funcID, 3 pad bytes, nameOff
			} else {
				nameOff = int32(t.bo.Uint32(b[j+12:])) // parent, funcID, pad, file, line, func
			}
			in, ok := t.funcName(nameOff)
			if t.decoded > MaxDecode {
				return errDecodeBudget
			}
			if !ok {
				return fmt.Errorf("pclntab: function %s: inline tree names no function (offset %d)", name, nameOff)
			}
			set.add(in)
		}
		if set.err != nil {
			return set.err
		}
	}
	return nil
}

// maxValue is the largest value of the pc-value table at off in pctab
// (runtime.step's encoding: zig-zag value deltas and pc deltas as
// varints, ending with a zero value delta), or -1 for an empty table.
func (t *lineTable) maxValue(off uint32) (int, error) {
	if uint64(off) >= uint64(len(t.pctab)) {
		return 0, errors.New("pc-value table offset past the table")
	}
	p := t.pctab[off:]
	start := len(p)
	defer func() { t.decoded += start - len(p) }()
	val, max := int32(-1), int32(-1)
	for first := true; ; first = false {
		if t.decoded+start-len(p) > MaxDecode {
			return 0, errDecodeBudget
		}
		uv, n := binary.Uvarint(p)
		if n <= 0 || uv > 1<<32-1 {
			return 0, errors.New("bad pc-value table")
		}
		if uv == 0 && !first {
			break
		}
		p = p[n:]
		d := uint32(uv)
		val += int32(-(d & 1) ^ (d >> 1))
		if _, n = binary.Uvarint(p); n <= 0 {
			return 0, errors.New("bad pc-value table")
		}
		p = p[n:]
		if val > max {
			max = val
		}
	}
	return int(max), nil
}

// goFunc is the address of go:func.* (the base of FUNCDATA offsets): from
// the ELF symbol table, else from the runtime's moduledata.
func (e *exe) goFunc(tab region, lt *lineTable) (uint64, error) {
	if syms, err := e.f.Symbols(); err == nil {
		for _, s := range syms {
			if s.Name == "go:func.*" || s.Name == "go.func.*" {
				return s.Value, nil
			}
		}
	}
	return e.moduleGoFunc(tab, lt)
}

// moduleGoFunc finds runtime.firstmoduledata, whose first word points at
// the pclntab and whose next one at its function-name table, and returns
// its gofunc field: word 38 (Go 1.18, 1.19) or 40 (Go 1.20 and later,
// which added covctrs and ecovctrs) of runtime.moduledata.
func (e *exe) moduleGoFunc(tab region, lt *lineTable) (uint64, error) {
	ps := lt.ptrSize
	idx := 38
	if lt.go120 {
		idx = 40
	}
	need := (idx + 1) * ps
	search := func(off, size uint64) (uint64, bool) {
		data, err := e.sectionData(off, size)
		if err != nil {
			return 0, false
		}
		return findModuledata(data, e.f.ByteOrder, ps, need, idx, tab.addr, tab.addr+lt.funcnameOff)
	}
	for _, s := range e.f.Sections {
		if s.Type != elf.SHT_PROGBITS || s.Flags&elf.SHF_WRITE == 0 || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		// .go.module (Go 1.26), else .noptrdata; every writable section
		// is searched.
		if v, ok := search(s.Offset, s.Size); ok {
			return v, nil
		}
	}
	if len(e.f.Sections) == 0 {
		for _, p := range e.f.Progs {
			if p.Type != elf.PT_LOAD || p.Flags&elf.PF_W == 0 {
				continue
			}
			if v, ok := search(p.Off, p.Filesz); ok {
				return v, nil
			}
		}
	}
	return 0, errors.New("no symbol table and no moduledata found")
}

func findModuledata(data []byte, bo binary.ByteOrder, ps, need, idx int, pcHeader, funcnametab uint64) (uint64, bool) {
	word := func(b []byte) uint64 {
		if ps == 4 {
			return uint64(bo.Uint32(b))
		}
		return bo.Uint64(b)
	}
	for i := 0; i+need <= len(data); i += ps {
		if word(data[i:]) != pcHeader || word(data[i+ps:]) != funcnametab {
			continue
		}
		return word(data[i+idx*ps:]), true
	}
	return 0, false
}

// elfPlatform guesses GOOS and GOARCH from the ELF header.
func elfPlatform(f *elf.File) (goos, goarch string) {
	switch f.OSABI {
	case elf.ELFOSABI_FREEBSD:
		goos = "freebsd"
	case elf.ELFOSABI_NETBSD:
		goos = "netbsd"
	case elf.ELFOSABI_OPENBSD:
		goos = "openbsd"
	case elf.ELFOSABI_SOLARIS:
		goos = "solaris"
	default:
		goos = "linux"
	}
	le := f.ByteOrder == binary.LittleEndian
	switch f.Machine {
	case elf.EM_X86_64:
		goarch = "amd64"
	case elf.EM_386:
		goarch = "386"
	case elf.EM_AARCH64:
		goarch = "arm64"
	case elf.EM_ARM:
		goarch = "arm"
	case elf.EM_PPC64:
		goarch = map[bool]string{true: "ppc64le", false: "ppc64"}[le]
	case elf.EM_S390:
		goarch = "s390x"
	case elf.EM_RISCV:
		goarch = "riscv64"
	case elf.EM_LOONGARCH:
		goarch = "loong64"
	case elf.EM_MIPS:
		if f.Class == elf.ELFCLASS64 {
			goarch = map[bool]string{true: "mips64le", false: "mips64"}[le]
		} else {
			goarch = map[bool]string{true: "mipsle", false: "mips"}[le]
		}
	}
	return goos, goarch
}

// symbolSet collects (package, symbol) pairs, named as the Go vulnerability
// database names them.
type symbolSet struct {
	main string
	pkgs map[string]map[string]struct{}
	n    int
	err  error
}

func newSymbolSet(mainPath string) *symbolSet {
	return &symbolSet{main: mainPath, pkgs: map[string]map[string]struct{}{}}
}

func (s *symbolSet) add(name string) {
	if s.err != nil {
		return
	}
	pkg, sym, ok := SplitSymbol(name)
	if !ok {
		return
	}
	if pkg == "main" && s.main != "" {
		pkg = s.main
	}
	m := s.pkgs[pkg]
	if m == nil {
		m = map[string]struct{}{}
		s.pkgs[pkg] = m
	}
	if _, dup := m[sym]; dup {
		return
	}
	if s.n++; s.n > MaxSymbols {
		s.err = fmt.Errorf("more than %d symbols", MaxSymbols)
		return
	}
	m[sym] = struct{}{}
}

func (s *symbolSet) result() map[string][]string {
	out := make(map[string][]string, len(s.pkgs))
	for p, m := range s.pkgs {
		l := make([]string, 0, len(m))
		for k := range m {
			l = append(l, k)
		}
		sort.Strings(l)
		out[p] = l
	}
	return out
}

// SplitSymbol splits a linker symbol name into its package's import path
// and the symbol as the Go vulnerability database writes it: a method's
// receiver without its pointer ("(*Server).Serve" -> "Server.Serve"), as
// debug/gosym splits it, and the "[...]" of generic instantiations
// dropped ("(*List[...]).Push" -> "List.Push"; govulncheck keeps them). Path escapes in the
// package ("gopkg.in/yaml%2ev2") are undone. ok is false for names that
// belong to no package.
func SplitSymbol(name string) (pkg, sym string, ok bool) {
	s := &gosym.Sym{Name: name}
	pkg = s.PackageName()
	if pkg == "" || strings.HasPrefix(name, "go:") || strings.HasPrefix(name, "type:") {
		return "", "", false
	}
	sym = s.BaseName()
	if r := s.ReceiverName(); r != "" {
		r = strings.TrimSuffix(strings.TrimPrefix(r, "(*"), ")")
		sym = r + "." + sym
	}
	// Instantiations: the database names the generic function ("Map"),
	// the linker its shape ("Map[...]").
	sym = strings.ReplaceAll(sym, "[...]", "")
	if p, err := url.PathUnescape(pkg); err == nil {
		pkg = p
	}
	return pkg, sym, sym != ""
}
