// Package osv holds the feed updaters for osv.dev's ecosystem dumps
// (https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip):
// one updater per ecosystem, named "osv-<Ecosystem>".
//
// Namespaces and packages:
//
//   - Language ecosystems (PyPI, npm, Maven, Go, crates.io, RubyGems, NuGet,
//     Packagist, ...) -> "osv:<Ecosystem>", Kind language. Only the
//     affected entries of the updater's own ecosystem are kept: a GHSA that
//     covers several ecosystems is in each of their zips and each updater
//     stores its part. Go's "stdlib" and "toolchain" stay as they are.
//   - "Debian:12" -> "debian:12", Kind source. The "Alpine:vX.Y" entries
//     inside Debian's CVE records are skipped (Alpine comes from secdb).
//     GIT ranges and the package-less GIT entries of osv.dev's CVE
//     conversion are skipped.
//   - An ecosystem whose conventions belong to its distribution's feed
//     package gets its updater from NewWithOptions with a Mapper, which
//     maps that ecosystem's entries: Ubuntu's ("ubuntu-osv") is built in
//     internal/feed/ubuntu. This package gives it the parsing above
//     (archive, record, dates, aliases, CVSS, ranges, withdrawn and
//     rejected records) and counts what the Mapper skips on purpose in
//     Stats.Skipped.
//
// Records:
//
//   - MAL-* (malicious package) and withdrawn records are not emitted: a
//     record its source retracted is never a finding. Withdrawn records
//     (a non-empty "withdrawn", even one whose date does not parse) are
//     counted in Stats.Withdrawn. A withdrawn record withdraws itself
//     only: a withdrawn GHSA says nothing about the CVE it aliases.
//   - A record whose details are the CVE program's rejection notice
//     ("** REJECT ** ...", which a few GHSA records and Debian's CVE
//     records copy) is emitted with Rejected set. For a CVE id the DB then
//     drops every source's records of that CVE; a GHSA or other id is
//     dropped alone, as withdrawn (the DB's rule for non-CVE ids).
//   - Affected entries of one (namespace, package) are merged: their
//     ranges are kept side by side (GHSA writes one entry per range).
//     Status is fixed when a range has a fixed event, else affected
//     (introduced "0" and no fix means every version, unfixed).
//   - versions[] is kept for language ecosystems and dropped for Debian and
//     Mapper ecosystems, whose lists are most of the feed and are not
//     needed to match.
//   - Aliases are OSV aliases plus the upstream and related ids that are
//     CVEs (and, for Debian, its DSA/DLA/DTSA); other distributions'
//     related advisories are dropped.
//   - Severity: GHSA's database_specific.severity (LOW, MODERATE, HIGH,
//     CRITICAL; MODERATE -> MEDIUM) is the advisory's vendor severity.
//     Debian's ecosystem_specific.urgency is per package (Affected.Severity):
//     unimportant -> INFORMATIONAL (ECR's Clair scan reported it as
//     Negligible), low/medium/high -> LOW/MEDIUM/HIGH, "not yet assigned"
//     and "end-of-life" -> none (CVSS decides). An "end-of-life" package
//     without a fix is will-not-fix: Debian stopped supporting it in that
//     release.
//   - severity[] CVSS v2/v3/v4 vectors are scored with
//     github.com/pandatix/go-cvss. Their source is "nvd" for Debian (osv.dev
//     copies NVD's vectors into its Debian CVE records), "ghsa" for GHSA and
//     otherwise the record's id prefix ("rustsec", "pysec", "go").
//
// Debian: upstream the updater reads Debian/all.zip. The shared mirror
// (debian/osv) holds tar.bz2 bundles instead, because osv.dev dropped
// Debian 10 from its records after buster's LTS ended (2024-06-30):
//
//   - Debian-all.osv.tar.bz2 (or Debian/all.zip) is the current feed and
//     supplies every Debian release except those that have a frozen bundle;
//   - Debian-<N>-<date>.osv.tar.bz2 is a frozen older state that supplies
//     debian:<N> only (Debian-10-2024-06-29 for buster).
//
// A record present in both gets the current record's text and the frozen
// bundle's debian:<N> entries; frozen-only records are emitted at the end.
//
// Archives are untrusted: entry count, per-entry and total uncompressed
// sizes are capped (MaxEntries, MaxEntrySize, MaxTotalSize). A record that
// cannot be read or decoded is reported in Stats.Malformed with its
// archive!entry name; a broken archive fails the Parse.
package osv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
)

// Upstream is osv.dev's public bucket.
const Upstream = "https://osv-vulnerabilities.storage.googleapis.com/"

// LanguageEcosystems are the language ecosystems with a dump in the mirror.
func LanguageEcosystems() []string {
	return []string{"PyPI", "npm", "Maven", "Go", "crates.io", "RubyGems", "NuGet", "Packagist"}
}

// Defaults returns the updaters of this package's own ecosystems: the
// language ecosystems and Debian. (Ubuntu's dump is read by
// internal/feed/ubuntu's "ubuntu-osv".)
func Defaults() []feed.Updater {
	var out []feed.Updater
	for _, e := range LanguageEcosystems() {
		out = append(out, New(e))
	}
	return append(out, New("Debian"))
}

// Updater reads one osv.dev ecosystem dump.
type Updater struct {
	eco  string
	opts Options
}

var _ feed.Updater = (*Updater)(nil)

// Options configure an updater made with NewWithOptions.
type Options struct {
	// Name is the updater's name ("osv-<Ecosystem>" when empty).
	Name string
	// MirrorDir is the directory holding <Ecosystem>/all.zip in a mirror
	// ("osv" when empty).
	MirrorDir string
	// OwnDir makes the ecosystem's directory the updater's: its mirror
	// directory is <MirrorDir>/<Ecosystem> and its upstream
	// Upstream+"<Ecosystem>/", both holding all.zip. A mirror without that
	// directory then skips the source (keeping its previous data) instead of
	// failing it, as a mirror made before the ecosystem was read does.
	OwnDir bool
	// Mapper, when set, maps the ecosystem's entries (see Mapper); the
	// entries' versions lists are then not decoded.
	Mapper Mapper
	// Bzip2 decompresses the tar.bz2 bundles (the zero value: Go's
	// compress/bzip2).
	Bzip2 bz2.Decompressor
}

// New returns the updater for one osv.dev ecosystem ("PyPI", "Debian",
// ...), spelled as osv.dev spells it.
func New(ecosystem string) *Updater { return &Updater{eco: ecosystem} }

// NewWithOptions returns the updater of one osv.dev ecosystem's
// <Ecosystem>/all.zip, configured by opts: a distribution's feed package
// uses it to read its ecosystem's dump with its own Mapper.
func NewWithOptions(ecosystem string, opts Options) *Updater {
	return &Updater{eco: ecosystem, opts: opts}
}

// Name implements feed.Updater.
func (u *Updater) Name() string {
	if u.opts.Name != "" {
		return u.opts.Name
	}
	return "osv-" + u.eco
}

// Upstream implements feed.Updater.
func (u *Updater) Upstream() string {
	if u.opts.OwnDir {
		return Upstream + u.eco + "/"
	}
	return Upstream
}

// MirrorDir implements feed.Updater: "debian/osv" for Debian's bundles,
// "osv" for the rest.
func (u *Updater) MirrorDir() string {
	if u.opts.OwnDir {
		return path.Join(cmp.Or(u.opts.MirrorDir, "osv"), u.eco)
	}
	if u.opts.MirrorDir != "" {
		return u.opts.MirrorDir
	}
	if u.eco == "Debian" {
		return "debian/osv"
	}
	return "osv"
}

func (u *Updater) zipPath() string {
	if u.opts.OwnDir {
		return "all.zip"
	}
	return u.eco + "/all.zip"
}

// debianBundles are the bundle names tried when the source cannot list.
var debianBundles = []string{"Debian-all.osv.tar.bz2", "Debian-10-2024-06-29.osv.tar.bz2"}

var (
	bundleRe = regexp.MustCompile(`^Debian-all\.osv\.tar\.bz2$`)
	frozenRe = regexp.MustCompile(`^Debian-([0-9]+)-[0-9-]+\.osv\.tar\.bz2$`)
)

// Fetch implements feed.Updater. Language ecosystems fetch <Ecosystem>/all.zip.
// Debian lists the mirror for bundles; a source that cannot list (HTTP) is
// asked for Debian/all.zip and the known bundle names, all optional, and at
// least one current feed must be found.
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	if u.eco != "Debian" {
		snap, err := feed.FetchFiles(ctx, src, []string{u.zipPath()}, prev, nil)
		if err != nil {
			return feed.Snapshot{}, fmt.Errorf("%s: %w", u.Name(), err)
		}
		return snap, nil
	}
	var paths []string
	listed, err := src.List(ctx, ".")
	switch {
	case err == nil:
		for _, p := range listed {
			if b := path.Base(p); bundleRe.MatchString(b) || frozenRe.MatchString(b) {
				paths = append(paths, b)
			}
		}
		if sub, err := src.List(ctx, "Debian"); err == nil && slices.Contains(sub, u.zipPath()) {
			paths = append(paths, u.zipPath())
		}
	case errors.Is(err, errors.ErrUnsupported):
		paths = append([]string{u.zipPath()}, debianBundles...)
	default:
		return feed.Snapshot{}, fmt.Errorf("%s: fetch: list: %w", u.Name(), err)
	}
	if len(paths) == 0 {
		return feed.Snapshot{}, fmt.Errorf("%s: fetch: no Debian OSV bundle or Debian/all.zip found", u.Name())
	}
	snap, err := feed.FetchFiles(ctx, src, paths, prev, func(string) bool { return true })
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("%s: %w", u.Name(), err)
	}
	_, hasZip := snap.State[u.zipPath()]
	_, hasBundle := snap.State[debianBundles[0]]
	if !hasZip && !hasBundle {
		if snap.Close != nil {
			_ = snap.Close()
		}
		return feed.Snapshot{}, fmt.Errorf("%s: fetch: neither %s nor %s found: %w", u.Name(), u.zipPath(), debianBundles[0], fs.ErrNotExist)
	}
	return snap, nil
}

// Parse implements feed.Updater.
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	p := &parser{
		ctx: ctx, emit: emit, dec: u.opts.Bzip2,
		conv: converter{source: u.Name(), eco: u.eco, keepVersions: u.eco != "Debian" && u.opts.Mapper == nil, mapper: u.opts.Mapper},
	}
	if u.eco == "Debian" {
		return p.st, p.debian(fsys, u.zipPath())
	}
	if err := p.archive(fsys, u.zipPath(), p.emitOne); err != nil {
		return p.st, err
	}
	return p.st, nil
}

type parser struct {
	ctx  context.Context
	emit func(*advisory.Advisory) error
	conv converter
	st   feed.Stats
	dec  bz2.Decompressor // of the tar.bz2 bundles
}

// archive converts every record of one archive and hands it to sink.
func (p *parser) archive(fsys fs.FS, name string, sink func(*advisory.Advisory) error) error {
	err := walkArchive(p.ctx, fsys, name, p.dec, func(entry string, data []byte, entryErr error) error {
		file := name + "!" + entry
		id := strings.TrimSuffix(path.Base(entry), ".json")
		if entryErr != nil {
			p.malformed(file, id, entryErr.Error())
			return nil
		}
		var r record
		if err := p.conv.decode(data, &r); err != nil {
			p.malformed(file, id, "decode: "+err.Error())
			return nil
		}
		if r.ID != "" {
			id = r.ID
		}
		a, problems, skipped, err := p.conv.convert(&r)
		if err != nil {
			p.malformed(file, id, err.Error())
			return nil
		}
		for _, pr := range problems {
			p.malformed(file, id, pr)
		}
		for _, s := range skipped {
			if p.st.Skipped == nil {
				p.st.Skipped = map[string]int{}
			}
			p.st.Skipped[s]++
		}
		if a == nil {
			return nil
		}
		if !a.Withdrawn.IsZero() || strings.TrimSpace(r.Withdrawn) != "" {
			// Withdrawn, even when its date did not parse.
			p.st.Withdrawn++
			return nil
		}
		return sink(a)
	})
	if err != nil {
		return fmt.Errorf("%s: parse %s: %w", p.conv.source, name, err)
	}
	return nil
}

func (p *parser) emitOne(a *advisory.Advisory) error {
	if err := p.emit(a); err != nil {
		return fmt.Errorf("emit %s: %w", a.ID, err)
	}
	p.st.Records++
	if a.Modified.After(p.st.Newest) {
		p.st.Newest = a.Modified
	}
	return nil
}

func (p *parser) malformed(file, id, msg string) {
	p.st.Malformed = append(p.st.Malformed, feed.Malformed{File: file, ID: id, Err: msg})
}

// debian merges the current feed with the frozen per-release bundles (see
// the package doc).
func (p *parser) debian(fsys fs.FS, zipPath string) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("%s: parse: %w", p.conv.source, err)
	}
	current := ""
	if _, err := fs.Stat(fsys, zipPath); err == nil {
		current = zipPath
	}
	type frozenBundle struct{ name, ns string }
	var frozen []frozenBundle
	for _, e := range entries {
		switch n := e.Name(); {
		case e.IsDir():
		case bundleRe.MatchString(n) && current == "":
			current = n
		case frozenRe.MatchString(n):
			frozen = append(frozen, frozenBundle{n, "debian:" + frozenRe.FindStringSubmatch(n)[1]})
		}
	}
	if current == "" && len(frozen) == 0 {
		return fmt.Errorf("%s: parse: no %s, Debian-all.osv.tar.bz2 or Debian-<N>-<date>.osv.tar.bz2 found", p.conv.source, zipPath)
	}
	sort.Slice(frozen, func(i, j int) bool { return frozen[i].name < frozen[j].name })
	frozenNS := map[string]bool{}
	kept := map[string]*advisory.Advisory{}
	for _, fb := range frozen {
		if frozenNS[fb.ns] {
			p.malformed(fb.name, "", "a second frozen bundle for "+fb.ns+" is ignored")
			continue
		}
		frozenNS[fb.ns] = true
		err := p.archive(fsys, fb.name, func(a *advisory.Advisory) error {
			a.Affected = onlyNamespace(a.Affected, func(ns string) bool { return ns == fb.ns })
			if len(a.Affected) == 0 {
				return nil
			}
			if prev := kept[a.ID]; prev != nil {
				prev.Affected = append(prev.Affected, a.Affected...)
				return nil
			}
			kept[a.ID] = a
			return nil
		})
		if err != nil {
			return err
		}
	}
	if current != "" {
		err := p.archive(fsys, current, func(a *advisory.Advisory) error {
			a.Affected = onlyNamespace(a.Affected, func(ns string) bool { return !frozenNS[ns] })
			if old := kept[a.ID]; old != nil {
				a.Affected = append(a.Affected, old.Affected...)
				delete(kept, a.ID)
			}
			if len(a.Affected) == 0 {
				return nil
			}
			return p.emitOne(a)
		})
		if err != nil {
			return err
		}
	}
	ids := make([]string, 0, len(kept))
	for id := range kept {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := p.emitOne(kept[id]); err != nil {
			return err
		}
	}
	return nil
}

func onlyNamespace(in []advisory.Affected, keep func(string) bool) []advisory.Affected {
	out := in[:0]
	for _, a := range in {
		if keep(a.Namespace) {
			out = append(out, a)
		}
	}
	return out
}
