package golang

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	ecogolang "github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var elfMagic = []byte("\x7fELF")

// ParseBinary reads the Go build information of the ELF executable r. It
// returns no packages and no error for a file that is not ELF or not a Go
// binary.
func ParseBinary(r io.ReaderAt) (pkgs []inventory.Package, err error) {
	pkgs, _, err = parseBinary(r, -1, false)
	return pkgs, err
}

// ParseBinaryWithSymbols is ParseBinary plus the binary's function symbols
// (ReadSymbols) when it is a Go binary; size is the file's length.
func ParseBinaryWithSymbols(r io.ReaderAt, size int64) ([]inventory.Package, *inventory.SymbolTable, error) {
	return parseBinary(r, size, true)
}

func parseBinary(r io.ReaderAt, size int64, withSymbols bool) (pkgs []inventory.Package, gb *inventory.SymbolTable, err error) {
	var magic [4]byte
	if n, err := r.ReadAt(magic[:], 0); n < len(magic) {
		if err == nil || err == io.EOF {
			return nil, nil, nil // shorter than an ELF header: not ours
		}
		return nil, nil, err
	}
	if !bytes.Equal(magic[:], elfMagic) {
		return nil, nil, nil
	}
	defer func() {
		// debug/elf has had panics on crafted files; a hostile binary must
		// not take the scanner down.
		if v := recover(); v != nil {
			pkgs, gb, err = nil, nil, fmt.Errorf("read buildinfo: malformed ELF file (%v)", v)
		}
	}()
	bi, err := buildinfo.Read(r)
	if err != nil {
		if isNotGo(err) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("read buildinfo: %w", err)
	}
	pkgs = FromBuildInfo(bi)
	if withSymbols {
		gb = ReadSymbols(r, size, bi)
	}
	return pkgs, gb, nil
}

// isNotGo reports whether a buildinfo error says the file simply is not a
// Go binary (or has no build info: pre-module builds).
func isNotGo(err error) bool {
	var re *langutil.ReadError
	if errors.As(err, &re) {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "not a Go executable") || strings.Contains(s, "unrecognized file format") || strings.Contains(s, "no build info")
}

// FromBuildInfo converts build information into packages: the main module,
// its dependencies (replacements applied) and the standard library.
func FromBuildInfo(bi *debug.BuildInfo) []inventory.Package {
	var pkgs []inventory.Package
	if bi.Main.Path != "" {
		m := bi.Main
		if m.Replace != nil && m.Replace.Version != "" {
			m = *m.Replace
		}
		v := m.Version
		if v == "(devel)" {
			v = ""
		}
		pkgs = append(pkgs, inventory.Package{Name: m.Path, Version: v, Type: ecogolang.Type})
	}
	for _, d := range bi.Deps {
		if d == nil {
			continue
		}
		m := *d
		if d.Replace != nil {
			if d.Replace.Version == "" {
				continue // replaced by a local directory
			}
			m = *d.Replace
		}
		if m.Path == "" {
			continue
		}
		pkgs = append(pkgs, inventory.Package{Name: m.Path, Version: m.Version, Type: ecogolang.Type})
	}
	if v := StdlibVersion(bi.GoVersion); v != "" {
		pkgs = append(pkgs, inventory.Package{Name: "stdlib", Version: v, Type: ecogolang.Type})
	}
	return pkgs
}

// StdlibVersion returns the standard library version of a toolchain
// version string: "go1.26.8" stays, "go1.22.0 X:boringcrypto" and
// "go1.22.0+auto" become "go1.22.0", and "devel ..." or anything not
// starting with "go1" gives "".
func StdlibVersion(goVersion string) string {
	v, _, _ := strings.Cut(strings.TrimSpace(goVersion), " ")
	v, _, _ = strings.Cut(v, "+")
	if !strings.HasPrefix(v, "go1") {
		return ""
	}
	return v
}
