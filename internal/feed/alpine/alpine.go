// Package alpine is the feed updater for the Alpine Linux security database
// (secdb, https://secdb.alpinelinux.org/): one JSON file per branch and
// repository, vX.Y/main.json and vX.Y/community.json.
//
// Policy choices:
//
//   - Namespace: the branch directory, "v3.19" -> "alpine:3.19", "edge" ->
//     "alpine:edge". main and community of one branch share the namespace.
//   - Package: the secdb package name, which is the apk origin (source
//     package); Affected.Kind is source.
//   - One Advisory per (vulnerability id, branch), aggregating every package
//     of main and community that lists it, emitted sorted by id.
//   - secfixes maps a fixed version to id strings. Each string is split into
//     ids: CVE ids are normalized to CVE-YYYY-NNNN (CVE_2019-1, CVE-...-1
//     and CVE-....patch forms included) and each CVE becomes its own
//     Advisory; the other ids of the same string (XSA-*, TALOS-*, GHSA-*,
//     ...) become its aliases. A string without a CVE is filed under its
//     first other id. Parenthesised comments are dropped, and placeholders
//     (CVE-????-?????, "CVE N/A") are ignored. A token that looks like no
//     id at all (CVE-46838) is reported in Stats.Malformed; the rest of the
//     record is kept.
//   - The version key "0" means "never affected in this branch": the
//     package gets Status not-affected. A comment that starts with "(not"
//     ("CVE-2020-14342 (not actually applicable)") is read the same way.
//   - An id listed under several fixed versions of one package (typically a
//     regression fix) keeps one range per fixed version, so the package is
//     reported until the highest of them: the conservative reading. When
//     one package has both "0" and a fix for an id, the fix wins.
//   - secdb has no severity, no CVSS and no dates, so Advisory.Severity and
//     Published/Modified stay empty and Stats.Newest is zero.
//   - Branches: the list is fixed (DefaultBranches, v3.2 ... v3.21 and edge;
//     pass others to New) because secdb's HTTP index cannot be listed
//     through feed.Source and a mirror directory lists files, not
//     branches. Within a branch, a mirror directory is listed; over HTTP
//     main.json is required and community.json optional (v3.2 has only main).
package alpine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// MaxFileSize caps one secdb JSON file (the largest is under 1 MB).
const MaxFileSize = 64 << 20

// Repositories are the secdb files of one branch, in parse order.
var repositories = [...]string{"main.json", "community.json"}

// DefaultBranches lists the secdb branches fetched by default.
func DefaultBranches() []string {
	out := []string{"edge"}
	for minor := 2; minor <= 21; minor++ {
		out = append(out, fmt.Sprintf("v3.%d", minor))
	}
	return out
}

// Updater fetches and parses Alpine secdb.
type Updater struct {
	branches []string
}

var _ feed.Updater = (*Updater)(nil)

// New returns the Alpine updater for the given branches ("v3.19", "edge");
// none means DefaultBranches.
func New(branches ...string) *Updater {
	if len(branches) == 0 {
		branches = DefaultBranches()
	}
	return &Updater{branches: append([]string(nil), branches...)}
}

// Name implements feed.Updater.
func (*Updater) Name() string { return "alpine" }

// Upstream implements feed.Updater.
func (*Updater) Upstream() string { return "https://secdb.alpinelinux.org/" }

// MirrorDir implements feed.Updater.
func (*Updater) MirrorDir() string { return "alpine/secdb" }

// Fetch implements feed.Updater. See the package doc for how files are found.
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	var paths []string
	optional := map[string]bool{}
	for _, b := range u.branches {
		if !validBranch(b) {
			return feed.Snapshot{}, fmt.Errorf("alpine: fetch: invalid branch %q", b)
		}
		listed, err := src.List(ctx, b)
		switch {
		case err == nil:
			for _, p := range listed {
				for _, r := range repositories {
					if path.Base(p) == r {
						paths = append(paths, path.Join(b, r))
					}
				}
			}
		case errors.Is(err, fs.ErrNotExist):
			// The mirror does not carry this branch.
		case errors.Is(err, errors.ErrUnsupported):
			paths = append(paths, path.Join(b, "main.json"), path.Join(b, "community.json"))
			optional[path.Join(b, "community.json")] = true
		default:
			return feed.Snapshot{}, fmt.Errorf("alpine: fetch: list %s: %w", b, err)
		}
	}
	if len(paths) == 0 {
		return feed.Snapshot{}, fmt.Errorf("alpine: fetch: no secdb files found for %d branches", len(u.branches))
	}
	snap, err := feed.FetchFiles(ctx, src, paths, prev, func(p string) bool { return optional[p] })
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("alpine: %w", err)
	}
	return snap, nil
}

var branchRe = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

func validBranch(b string) bool { return b == "edge" || branchRe.MatchString(b) }

// Namespace returns the namespace of a secdb branch directory ("v3.19" ->
// "alpine:3.19", "edge" -> "alpine:edge").
func Namespace(branch string) string {
	return "alpine:" + strings.TrimPrefix(branch, "v")
}

// Parse implements feed.Updater: it reads <branch>/{main,community}.json
// for every branch directory at the root of fsys.
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return st, fmt.Errorf("alpine: parse: %w", err)
	}
	var branches []string
	for _, e := range entries {
		if e.IsDir() && validBranch(e.Name()) {
			branches = append(branches, e.Name())
		}
	}
	sort.Strings(branches)
	files := 0
	for _, b := range branches {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		agg := newAggregate(Namespace(b))
		for _, r := range repositories {
			name := path.Join(b, r)
			f, err := fsys.Open(name)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return st, fmt.Errorf("alpine: parse %s: %w", name, err)
			}
			files++
			perr := parseFile(f, name, agg, &st)
			f.Close()
			if perr != nil {
				st.Malformed = append(st.Malformed, feed.Malformed{File: name, Err: perr.Error()})
			}
		}
		for _, a := range agg.sorted() {
			if err := emit(a); err != nil {
				return st, fmt.Errorf("alpine: emit %s: %w", a.ID, err)
			}
			st.Records++
		}
	}
	if files == 0 {
		return st, errors.New("alpine: parse: no secdb files (<branch>/main.json) found")
	}
	return st, nil
}

type secdbFile struct {
	DistroVersion string            `json:"distroversion"`
	RepoName      string            `json:"reponame"`
	Packages      []json.RawMessage `json:"packages"`
}

type secdbPackage struct {
	Pkg struct {
		Name     string                     `json:"name"`
		Secfixes map[string]json.RawMessage `json:"secfixes"`
	} `json:"pkg"`
}

// parseFile adds one secdb file to agg. An error means the file as a whole
// could not be read; bad records inside it are added to st.Malformed.
func parseFile(r io.Reader, name string, agg *aggregate, st *feed.Stats) error {
	lr := &io.LimitedReader{R: r, N: MaxFileSize + 1}
	var doc secdbFile
	if err := json.NewDecoder(lr).Decode(&doc); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("file exceeds %d bytes", MaxFileSize)
		}
		return fmt.Errorf("decode: %w", err)
	}
	bad := func(id, msg string) {
		st.Malformed = append(st.Malformed, feed.Malformed{File: name, ID: id, Err: msg})
	}
	for i, raw := range doc.Packages {
		var p secdbPackage
		if err := json.Unmarshal(raw, &p); err != nil {
			bad(fmt.Sprintf("packages[%d]", i), "decode package: "+err.Error())
			continue
		}
		pkg := strings.TrimSpace(p.Pkg.Name)
		if pkg == "" || strings.ContainsAny(pkg, " \t\n/") {
			bad(fmt.Sprintf("packages[%d]", i), fmt.Sprintf("invalid package name %q", p.Pkg.Name))
			continue
		}
		vers := make([]string, 0, len(p.Pkg.Secfixes))
		for v := range p.Pkg.Secfixes {
			vers = append(vers, v)
		}
		sort.Strings(vers)
		for _, ver := range vers {
			var ids []string
			if err := json.Unmarshal(p.Pkg.Secfixes[ver], &ids); err != nil {
				bad(pkg+" "+ver, "decode secfixes ids: "+err.Error())
				continue
			}
			if ver != "0" && !versionRe.MatchString(ver) {
				bad(pkg+" "+ver, fmt.Sprintf("invalid fixed version %q", ver))
				continue
			}
			for _, s := range ids {
				ref := ParseIDs(s)
				for _, b := range ref.Bad {
					bad(pkg+" "+ver, fmt.Sprintf("unrecognized id %q in %q", b, s))
				}
				status := advisory.StatusFixed
				if ver == "0" || ref.NotAffected {
					status = advisory.StatusNotAffected
				}
				for _, id := range ref.Vulns() {
					agg.add(id, ref.aliasesFor(id), pkg, ver, status)
				}
			}
		}
	}
	return nil
}

var versionRe = regexp.MustCompile(`^[0-9][0-9A-Za-z._+~-]*$`)

// aggregate collects the advisories of one namespace.
type aggregate struct {
	ns   string
	advs map[string]*advisory.Advisory
}

func newAggregate(ns string) *aggregate {
	return &aggregate{ns: ns, advs: map[string]*advisory.Advisory{}}
}

func (g *aggregate) add(id string, aliases []string, pkg, ver string, status advisory.Status) {
	a := g.advs[id]
	if a == nil {
		a = &advisory.Advisory{ID: id, Source: "alpine"}
		if ref := referenceURL(id); ref != "" {
			a.References = []string{ref}
		}
		g.advs[id] = a
	}
	for _, al := range aliases {
		if al != id && !slices.Contains(a.Aliases, al) {
			a.Aliases = append(a.Aliases, al)
		}
	}
	var af *advisory.Affected
	for i := range a.Affected {
		if a.Affected[i].Package == pkg {
			af = &a.Affected[i]
			break
		}
	}
	if af == nil {
		a.Affected = append(a.Affected, advisory.Affected{Namespace: g.ns, Package: pkg, Kind: advisory.KindSource, Status: status})
		af = &a.Affected[len(a.Affected)-1]
	}
	switch {
	case status == advisory.StatusFixed:
		af.Status = advisory.StatusFixed // a fix wins over "0"
		for _, r := range af.Ranges {
			if r.Events[1].Fixed == ver {
				return
			}
		}
		af.Ranges = append(af.Ranges, advisory.Range{Events: []advisory.Event{{Introduced: "0"}, {Fixed: ver}}})
	case af.Status != advisory.StatusFixed:
		af.Status = advisory.StatusNotAffected
	}
}

func (g *aggregate) sorted() []*advisory.Advisory {
	out := make([]*advisory.Advisory, 0, len(g.advs))
	for _, a := range g.advs {
		sort.Strings(a.Aliases)
		sort.Slice(a.Affected, func(i, j int) bool { return a.Affected[i].Package < a.Affected[j].Package })
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// referenceURL is Alpine's security tracker page for a CVE, or nothing.
func referenceURL(id string) string {
	if strings.HasPrefix(id, "CVE-") {
		return "https://security.alpinelinux.org/vuln/" + id
	}
	return ""
}
