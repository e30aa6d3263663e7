// Package langutil holds what the language catalogers share: bounded readers
// that tell the caller's I/O errors apart from bad input, the conversion of a
// parse failure into a warning naming the file, and result finishing
// (dedupe, sort, Path and Cataloger filled in).
package langutil

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ErrTooLarge is wrapped by every size-limit error.
var ErrTooLarge = errors.New("input too large")

// ReadError wraps an error returned by the underlying reader (the layer
// being streamed), as opposed to a problem with the file's content. A
// cataloger returns it as an error; content problems become warnings.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read: " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// LimitReader returns a reader over r that fails with an error wrapping
// ErrTooLarge once more than max bytes are read (exactly max is fine).
func LimitReader(r io.Reader, max int64) io.Reader { return &limited{r: r, n: max, max: max} }

type limited struct {
	r      io.Reader
	n, max int64
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe one byte: input of exactly max bytes is fine.
		var b [1]byte
		n, err := l.r.Read(b[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, l.max)
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func wrapRead(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var re *ReadError
	if errors.As(err, &re) {
		return err
	}
	return &ReadError{Err: err}
}

// ReadAll reads all of r, failing with an error wrapping ErrTooLarge when r
// holds more than max bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	return io.ReadAll(LimitReader(r, max))
}

// Open returns a bounded reader over the file's content whose read errors
// are *ReadError. It fails when the declared size is already over max.
func Open(f catalog.File, max int64) (io.Reader, error) {
	if f.Size > max {
		return nil, TooLarge(f.Size, max)
	}
	return LimitReader(io.NewSectionReader(ReaderAt(f.R), 0, f.Size), max), nil
}

// Base returns the last element of a slash-separated path.
func Base(p string) string { return path.Base(p) }

// IsRegular reports whether info describes a regular file (nil info counts as
// regular: Required is sometimes asked about a path alone).
func IsRegular(info fs.FileInfo) bool { return info == nil || info.Mode().IsRegular() }

// IsExecutable reports whether info describes a regular file with an exec bit.
func IsExecutable(info fs.FileInfo) bool {
	return info != nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}

// Finish turns what a parser returned into the cataloger's result. Packages
// get Path and Cataloger (unless the parser set a Path, as nested archives
// do), are deduplicated on (name, version, type, path) and sorted. A parse
// error becomes a warning "<cataloger>: <path>: <err>"; a *ReadError or a
// context error is returned as an error instead. Packages parsed before an
// error are kept only when the error is a warning.
func Finish(ctx context.Context, name string, f catalog.File, pkgs []inventory.Package, warnings []string, err error) (catalog.Result, error) {
	if err != nil {
		var re *ReadError
		if errors.As(err, &re) {
			return catalog.Result{}, fmt.Errorf("%s: %s: %w", name, f.Path, err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return catalog.Result{}, ctxErr
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return catalog.Result{}, err
		}
		warnings = append(warnings, fmt.Sprintf("%s: %s: %v", name, f.Path, err))
	}
	for i := range pkgs {
		if pkgs[i].Path == "" {
			pkgs[i].Path = f.Path
		}
		pkgs[i].Cataloger = name
	}
	return catalog.Result{Packages: Dedupe(pkgs), Warnings: warnings}, nil
}

// Dedupe sorts packages by path, name, version and type and drops exact
// (path, name, version, type) repeats, keeping the first one's licenses.
func Dedupe(pkgs []inventory.Package) []inventory.Package {
	slices.SortStableFunc(pkgs, func(a, b inventory.Package) int {
		return cmp.Or(
			strings.Compare(a.Path, b.Path),
			strings.Compare(a.Name, b.Name),
			strings.Compare(a.Version, b.Version),
			strings.Compare(string(a.Type), string(b.Type)),
		)
	})
	return slices.CompactFunc(pkgs, func(a, b inventory.Package) bool {
		return a.Path == b.Path && a.Name == b.Name && a.Version == b.Version && a.Type == b.Type
	})
}

// Truncate shortens s for use in an error message.
func Truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// ReaderAt wraps r so that its errors other than io.EOF come back as
// *ReadError, telling a failing layer apart from bad content in parsers
// (such as archive/zip) that pass reader errors through.
func ReaderAt(r io.ReaderAt) io.ReaderAt { return readerAt{r} }

type readerAt struct{ r io.ReaderAt }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(p, off)
	return n, wrapRead(err)
}

// TooLarge is the error for a file whose size is over max.
func TooLarge(size, max int64) error {
	return fmt.Errorf("%w: file is %d bytes, the limit is %d", ErrTooLarge, size, max)
}

// Prefix returns the parser warnings ws as result warnings
// "<cataloger>: <path>: <warning>".
func Prefix(name, path string, ws []string) []string {
	if len(ws) == 0 {
		return nil
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = name + ": " + path + ": " + w
	}
	return out
}

// JSONText returns a JSON scalar the way a manifest wrote it: a string
// trimmed, a number as its literal; ok is false for anything else (an
// object, an array, a boolean). Absent and null give "" and true.
func JSONText(raw json.RawMessage) (s string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	switch c := raw[0]; {
	case c == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false
		}
		return n.String(), true
	}
	return "", false
}

// TOMLText returns a value decoded loosely from TOML (into any) the way the
// file wrote it: a string trimmed, a number formatted; ok is false for
// tables, arrays, booleans and dates. A missing value gives "" and true.
func TOMLText(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", true
	case string:
		return strings.TrimSpace(v), true
	case int64, float64:
		return fmt.Sprint(v), true
	}
	return "", false
}

// Resolver finds the package a lockfile's dependency entry names, by name
// and, when the entry gives one, version. The zero value is ready to use.
type Resolver struct {
	byName map[string][]inventory.PackageRef
}

// Add records a package of the file.
func (r *Resolver) Add(ref inventory.PackageRef) { r.AddAs(ref.Name, ref) }

// AddAs records a package of the file under another spelling of its name
// (a normalized one).
func (r *Resolver) AddAs(name string, ref inventory.PackageRef) {
	if r.byName == nil {
		r.byName = map[string][]inventory.PackageRef{}
	}
	r.byName[name] = append(r.byName[name], ref)
}

// Find returns the package named name at version, or, with an empty
// version (or none of that version), the first one of that name.
func (r *Resolver) Find(name, version string) (inventory.PackageRef, bool) {
	refs := r.byName[name]
	if len(refs) == 0 {
		return inventory.PackageRef{}, false
	}
	for _, ref := range refs {
		if ref.Version == version {
			return ref, true
		}
	}
	return refs[0], true
}
