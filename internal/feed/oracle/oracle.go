// Package oracle is the feed updater for Oracle Linux ELSA OVAL
// (com.oracle.elsa-all.xml.bz2 at https://linux.oracle.com/security/oval/,
// mirror directory "oracle").
//
// No real Oracle data exists in the shared mirror (see feeds/SOURCES.md: the
// file is in no stored repository). The parser and its fixtures are written
// from the published OVAL 5 format of Oracle's feed: oval_definitions with
// class="patch" definitions (id oval:com.oracle.elsa:def:YYYYNNNN, title
// "ELSA-YYYY-NNNN: ... (SEVERITY)", references to the ELSA and its CVEs, an
// advisory with severity, issued date and cve elements, affected family unix
// platform "Oracle Linux N"), criteria trees whose criterions point at
// red-def:rpminfo_test tests with rpminfo_object package names and
// rpminfo_state states (evr "less than", signature_keyid, arch pattern), and
// the "Oracle Linux N is installed" / "Oracle Linux arch is X" / "Module
// name:stream is enabled" criterions. The testdata fixture is ours, not
// Oracle's bytes; the first run against the real file should be checked.
//
// # Mapping
//
//   - One advisory per ELSA: ID is the ELSA id, Aliases are its CVEs (the
//     matcher expands a vendor advisory into its CVEs).
//   - Namespace "ol:N" from the "Oracle Linux N is installed" criterion in
//     scope (else the definition's single platform). Definitions whose
//     criteria say "<pkg> is ksplice-based" (Ksplice userspace builds) go to
//     "ol:N-ksplice" so that their ".ksplice1" fixes never compete with the
//     regular packages.
//   - Every rpminfo_test with an evr "less than" state is a fix: Package is
//     the binary rpm name (Kind binary), the Fixed event is the state's EVR
//     with a zero epoch dropped ("0:1.2-3.el9" -> "1.2-3.el9", as the redhat
//     updater writes it). Arches come from the state's arch pattern
//     ("aarch64|x86_64") or else from the "Oracle Linux arch is X" criterion in
//     scope; entries that differ only by arch are merged.
//   - "Module nodejs:18 is enabled" in scope sets Affected.Module.
//   - <severity> (LOW, MODERATE, IMPORTANT, CRITICAL, any case) is
//     VendorSeverity and maps to LOW, MEDIUM, HIGH, CRITICAL. When the ELSA
//     names exactly one CVE, its cvss3 attribute ("7.5/CVSS:3.1/...") becomes a
//     CVSS entry with Source "oracle".
package oracle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
)

// FileName is the OVAL file's path relative to Upstream and MirrorDir.
const FileName = "com.oracle.elsa-all.xml.bz2"

// DefaultMaxFileSize caps the decompressed OVAL document.
const DefaultMaxFileSize = 4 << 30

// Options tune the updater.
type Options struct {
	// MaxFileSize caps the decompressed document.
	MaxFileSize int64
	// Bzip2 decompresses the .bz2 file (the zero value: Go's
	// compress/bzip2).
	Bzip2 bz2.Decompressor
}

// Updater is the Oracle Linux ELSA OVAL updater.
type Updater struct{ opts Options }

// New returns the updater with default options.
func New() *Updater { return NewWithOptions(Options{}) }

// NewWithOptions returns the updater with opts.
func NewWithOptions(opts Options) *Updater {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	return &Updater{opts: opts}
}

// Name is the source name stored with each record.
func (u *Updater) Name() string { return "oracle" }

// Upstream is Oracle's OVAL directory.
func (u *Updater) Upstream() string { return "https://linux.oracle.com/security/oval" }

// MirrorDir is the updater's directory in a mirror.
func (u *Updater) MirrorDir() string { return "oracle" }

// Fetch gets the OVAL file with a conditional GET.
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	snap, err := feed.FetchFiles(ctx, src, []string{FileName}, prev, nil)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("oracle: %w", err)
	}
	return snap, nil
}

// Parse streams com.oracle.elsa-all.xml.bz2 (or an uncompressed
// com.oracle.elsa-all.xml) and emits one advisory per ELSA.
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	name := FileName
	f, err := fsys.Open(name)
	var r io.Reader
	switch {
	case err == nil:
		defer f.Close()
		rc, err := u.opts.Bzip2.NewReader(ctx, f, name)
		if err != nil {
			return st, fmt.Errorf("oracle: parse: %w", err)
		}
		defer rc.Close()
		r = rc
	case errors.Is(err, fs.ErrNotExist):
		name = "com.oracle.elsa-all.xml"
		if f, err = fsys.Open(name); err != nil {
			return st, fmt.Errorf("oracle: parse: neither %s nor %s: %w", FileName, name, err)
		}
		defer f.Close()
		r = f
	default:
		return st, fmt.Errorf("oracle: parse: %w", err)
	}
	doc, err := readOVAL(ctx, &limitReader{r: r, max: u.opts.MaxFileSize})
	if err != nil {
		return st, fmt.Errorf("oracle: parse %s: %w", name, err)
	}
	for _, d := range doc.Definitions {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		a, bad := doc.convert(d)
		for _, b := range bad {
			b.File = name
			st.Malformed = append(st.Malformed, b)
		}
		if a == nil {
			continue
		}
		if a.Published.After(st.Newest) {
			st.Newest = a.Published
		}
		if a.Modified.After(st.Newest) {
			st.Newest = a.Modified
		}
		st.Records++
		if err := emit(a); err != nil {
			return st, fmt.Errorf("oracle: emit %s: %w", a.ID, err)
		}
	}
	return st, nil
}

// errTooLarge is wrapped when the document exceeds its cap.
var errTooLarge = errors.New("exceeds the size limit")

type limitReader struct {
	r      io.Reader
	n, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n > l.max {
		return 0, fmt.Errorf("decompressed data %w of %d bytes", errTooLarge, l.max)
	}
	if rem := l.max + 1 - l.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, fmt.Errorf("decompressed data %w of %d bytes", errTooLarge, l.max)
	}
	return n, err
}
