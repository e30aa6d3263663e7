// Package binary is the binary classifier: it identifies software that no
// package manager installed (OpenSSL copied into /opt/app/lib, a static
// curl, a Node.js tarball unpacked into /usr/local) by the version strings
// in its files, as Grype and Syft do, and reports each as a package of
// type generic (pkg:generic/openssl@1.1.1w) with its CPEs and cataloger
// "binary-classifier". Such packages are matched against NVD's CPE
// configurations (namespace nvd:cpe), never against a distribution's
// advisories.
//
// # What is a candidate
//
// Files are chosen by base name alone (Required never reads a file): each
// rule names the files its product ships as (openssl, libssl*.so*,
// libcrypto*.so*, curl, libcurl*.so*, busybox, bash, node, python3.11,
// libpython3.11.so*, a JDK's release file, $GOROOT/VERSION, redis-server,
// nginx, httpd, apache2, postgres, mysqld, mariadbd, php*, ruby,
// libruby*.so*, perl, libperl.so*, haproxy, memcached, sqlite3,
// libsqlite3*.so*, libz.so*), and a file is read only by the rule its
// name picks: the OpenSSL version inside curl or node says nothing about
// curl or node.
//
// # What is not reported
//
// The classifier runs on every candidate; the indexer then drops each of
// its packages whose file an OS package owns (dpkg's info/*.list, rpm file
// lists, apk's F:/R: entries, with the usr-merge aliases), or that a
// language cataloger already attributed to a package (a Go binary's build
// info, a cargo-auditable binary, a jar). A library that only lies in a
// language tree (a wheel's bundled libssl) is reported: the wheel's
// advisories do not cover it. See internal/indexer.
//
// # Cost on hostile input
//
// Only regular files up to MaxFileSize are candidates, so a 2 GB file
// named libssl.so is never read. In an ELF file only the sections that
// hold string constants (.rodata, .data and their variants) are scanned,
// at most MaxScan bytes per file, in chunks of 1 MiB: each matcher looks
// for a literal anchor with bytes.Index and runs its regular expression
// on at most a few hundred bytes around each hit, so a file costs time
// linear in the bytes scanned and memory of one chunk. Text rules (release,
// VERSION) read at most MaxTextSize bytes. A malformed ELF file is scanned
// whole (up to MaxScan) as an unknown file; nothing in a file fails the
// scan: a read error of the layer is the only error, and a canceled
// context stops between chunks.
package binary

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/generic"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Name is the cataloger's name, the Cataloger of its packages.
const Name = "binary-classifier"

// Limits.
const (
	// MaxFileSize is the largest candidate file.
	MaxFileSize = 512 << 20
	// MaxScan is the most bytes of one file scanned.
	MaxScan = 256 << 20
	// MaxTextSize is the most bytes read of a text rule's file.
	MaxTextSize = 64 << 10
	// chunk is the size of one read.
	chunk = 1 << 20
)

// Cataloger is the binary classifier.
type Cataloger struct {
	rules []rule
}

// New returns the binary classifier.
func New() *Cataloger { return &Cataloger{rules: rules()} }

// Name implements catalog.Cataloger.
func (*Cataloger) Name() string { return Name }

// Version implements catalog.Cataloger.
func (*Cataloger) Version() int { return 1 }

// Required implements catalog.Cataloger: a regular file of a candidate
// base name, not empty and at most MaxFileSize.
func (c *Cataloger) Required(p string, info fs.FileInfo) bool {
	if info != nil && (!info.Mode().IsRegular() || info.Size() <= 0 || info.Size() > MaxFileSize) {
		return false
	}
	_, ok := c.ruleFor(path.Base(p))
	return ok
}

func (c *Cataloger) ruleFor(base string) (*rule, bool) {
	for i := range c.rules {
		if c.rules[i].names(base) {
			return &c.rules[i], true
		}
	}
	return nil, false
}

// CatalogFile implements catalog.FileCataloger.
func (c *Cataloger) CatalogFile(ctx context.Context, f catalog.File) (catalog.Result, error) {
	p, err := c.Classify(ctx, f.Path, f.R, f.Size)
	if err != nil || p == nil {
		return catalog.Result{}, err
	}
	p.Path = f.Path
	return catalog.Result{Packages: []inventory.Package{*p}}, nil
}

// Classify identifies the file at path p (slash separated; its base name
// picks the rule) from its content r of size bytes. It returns nil when no
// rule's name fits or no version is found, and an error only when r fails
// or ctx is canceled.
func (c *Cataloger) Classify(ctx context.Context, p string, r io.ReaderAt, size int64) (*inventory.Package, error) {
	base := path.Base(p)
	ru, ok := c.ruleFor(base)
	if !ok || size <= 0 {
		return nil, nil
	}
	ms := ru.matchers
	if ru.dynamic != nil {
		ms = ru.dynamic(base)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	var spans []span
	if ru.text {
		spans = []span{{0, min(size, MaxTextSize)}}
	} else {
		spans = scanSpans(r, size)
	}
	product, v, err := find(ctx, r, size, spans, ms)
	if err != nil || v == "" {
		return nil, err
	}
	if product == "" {
		product = ru.product
	}
	if ru.clean != nil {
		v = ru.clean(v)
	}
	return newPackage(product, v), nil
}

// newPackage is the package of a product found at version v.
func newPackage(product, v string) *inventory.Package {
	pkg := &inventory.Package{Name: product, Version: v, Type: generic.Type, Cataloger: Name}
	if prod, ok := advisory.CPEProductNamed(product); ok {
		for _, c := range prod.CPEs {
			pkg.CPEs = append(pkg.CPEs, c.URI(v))
		}
	}
	return pkg
}

// span is a byte range [off, off+n) of a file.
type span struct{ off, n int64 }

// stringSections are the ELF sections that hold string constants.
var stringSections = map[string]bool{".rodata": true, ".rodata1": true, ".data": true, ".data.rel.ro": true, ".rdata": true}

// scanSpans is what to scan of a file: the string sections of an ELF
// file (clipped to the file and to MaxScan in all), else its first MaxScan
// bytes.
func scanSpans(r io.ReaderAt, size int64) []span {
	whole := []span{{0, min(size, MaxScan)}}
	var magic [4]byte
	if n, _ := r.ReadAt(magic[:], 0); n < 4 || string(magic[:]) != elf.ELFMAG {
		return whole
	}
	secs, ok := elfSections(r, size)
	if !ok {
		return whole
	}
	var out []span
	var total int64
	for _, s := range secs {
		if s.off < 0 || s.n <= 0 || s.off >= size {
			continue
		}
		n := min(s.n, size-s.off, MaxScan-total)
		if n <= 0 {
			break
		}
		out = append(out, span{s.off, n})
		total += n
	}
	if len(out) == 0 {
		return whole
	}
	return out
}

// elfSections returns the string sections of an ELF file; ok is false when
// its headers cannot be read (debug/elf has panicked on crafted files).
func elfSections(r io.ReaderAt, size int64) (out []span, ok bool) {
	defer func() {
		if recover() != nil {
			out, ok = nil, false
		}
	}()
	f, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, false
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_PROGBITS && stringSections[s.Name] {
			out = append(out, span{int64(s.Offset), int64(s.Size)})
		}
	}
	return out, true
}

// find scans spans of r for the matchers and returns the version (and
// the matcher's product, "" for the rule's) of the first matcher, in
// matcher order, that matched anywhere.
func find(ctx context.Context, r io.ReaderAt, size int64, spans []span, ms []matcher) (product, v string, err error) {
	best := len(ms)
	// One buffer per file, no larger than the file: most candidates are
	// small, and a hostile image may hold many.
	buf := make([]byte, min(int64(maxBefore+chunk+window), size))
	for _, s := range spans {
		for off := s.off; off < s.off+s.n; off += chunk {
			if err := ctx.Err(); err != nil {
				return "", "", err
			}
			// Read maxBefore bytes before the chunk and window after it,
			// so that an anchor in the chunk has its whole window.
			start := max(off-maxBefore, 0)
			end := min(off+chunk+window, size)
			b := buf[:end-start]
			n, err := r.ReadAt(b, start)
			if err != nil && !(errors.Is(err, io.EOF) && int64(n) == end-start) {
				return "", "", fmt.Errorf("binary: read at %d: %w", start, err)
			}
			lo := int(off - start)
			hi := lo + int(min(chunk, s.off+s.n-off))
			for i := 0; i < best; i++ {
				if got, ok := ms[i].find(b, lo, hi); ok {
					best, product, v = i, ms[i].product, got
					break
				}
			}
			if best == 0 {
				return product, v, nil
			}
		}
	}
	return product, v, nil
}

// find returns the version of the first anchor hit in b[lo:hi] whose
// window matches.
func (m *matcher) find(b []byte, lo, hi int) (string, bool) {
	anchor := []byte(m.anchor)
	for i := lo; i < hi; {
		j := bytes.Index(b[i:min(hi+len(anchor)-1, len(b))], anchor)
		if j < 0 {
			return "", false
		}
		at := i + j
		if m.first && at != 0 {
			return "", false
		}
		w := b[max(at-m.before, 0):min(at+window, len(b))]
		if sm := m.re.FindSubmatch(w); len(sm) > 1 && len(sm[1]) > 0 {
			return string(sm[1]), true
		}
		i = at + 1
	}
	return "", false
}
