// Package amazon is the feed updater for Amazon Linux security advisories
// (ALAS), read from the yum updateinfo.xml.gz of each repository.
//
// Layout: Parse reads <release>/<repo...>/updateinfo.xml.gz, the layout of
// the shared mirror: al2/core, al2/extras/<topic>, al2023/core and
// al2023/kernel-livepatch. "al2" is namespace amzn:2, "al2023" amzn:2023;
// Extras topics install into Amazon Linux 2 and share amzn:2.
//
// Upstream (https://cdn.amazonlinux.com/) has no such fixed paths. Each
// repository publishes a mirror list, e.g. 2/core/latest/x86_64/mirror.list
// or al2023/core/mirrors/latest/x86_64/mirror.list, whose first line is the
// URL of the current repository snapshot (.../2/core/2.0/x86_64/<hash>/ or
// .../al2023/core/guids/<guid>/x86_64/); that snapshot's
// repodata/repomd.xml names the updateinfo file (<data type="updateinfo">
// <location href=.../>). Fetch first asks the source for the mirror layout
// (a mirror directory or mirror URL); when al2/core/updateinfo.xml.gz is
// not there it resolves every repository through its mirror list and
// repomd.xml and fetches the real file, stored under the mirror-layout
// name. The repository list is fixed (DefaultRepos: the repositories the
// mirror carries) because neither a mirror directory (which lists files,
// not directories) nor the CDN can enumerate them; the x86_64 mirror list
// is used since the updateinfo of a repository covers all architectures.
//
// Records: each <update> becomes one Advisory with the ALAS id (ALAS2-*,
// ALAS2023-*, ALAS2DOCKER-*, ALASKERNEL-5.10-* ...), the CVE ids of its
// references as aliases, <severity> as vendor severity (lower-case in AL2,
// capitalised in AL2023; critical/important/medium/low map to
// CRITICAL/HIGH/MEDIUM/LOW), issued/updated as published/modified. Every
// binary package listed is an Affected entry (Kind binary, Status fixed)
// with one range {introduced 0, fixed [epoch:]version-release} (epoch 0 is
// omitted) and the architectures it was published for; packages of one
// name with different versions (rare, per-architecture rebuilds) get one
// entry per version.
//
// The XML is read as a stream (encoding/xml Decoder.Token, one <update>
// decoded at a time) from a gzip stream capped at MaxDecompressed bytes.
// An update without an id or a package without name/version is reported
// in Stats.Malformed; an XML syntax error ends that file (also reported),
// and the other files are still parsed.
package amazon

import (
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Limits on untrusted input.
const (
	MaxDecompressed = 1 << 30 // bytes of XML per updateinfo file
	maxSmallFile    = 1 << 20 // mirror.list and repomd.xml
)

// Upstream is the Amazon Linux CDN.
const Upstream = "https://cdn.amazonlinux.com/"

// Repo is one Amazon Linux repository.
type Repo struct {
	// Dir is the repository's directory in the mirror layout ("al2/core").
	Dir string
	// MirrorList is the upstream path of its x86_64 mirror list.
	MirrorList string
}

// DefaultRepos are the repositories the shared mirror carries: AL2 core,
// the 41 AL2 extras topics, AL2023 core and AL2023 kernel-livepatch.
func DefaultRepos() []Repo {
	out := []Repo{
		{"al2/core", "2/core/latest/x86_64/mirror.list"},
		{"al2023/core", "al2023/core/mirrors/latest/x86_64/mirror.list"},
		{"al2023/kernel-livepatch", "al2023/kernel-livepatch/mirrors/latest/x86_64/mirror.list"},
	}
	for _, topic := range []string{
		"GraphicsMagick1.3", "R3.4", "R4", "ansible2", "aws-nitro-enclaves-cli", "corretto8", "dnsmasq",
		"docker", "ecs", "firefox", "golang1.19", "haproxy2", "httpd_modules", "java-openjdk11",
		"kernel-5.10", "kernel-5.15", "kernel-5.4", "libreoffice", "livepatch", "lynis", "mariadb10.5",
		"mate-desktop1.x", "mono", "nginx1", "php8.0", "php8.1", "php8.2", "postgresql11", "postgresql12",
		"postgresql13", "postgresql14", "python3.8", "redis6", "ruby2.6", "ruby3.0", "selinux-ng", "squid4",
		"tomcat8.5", "tomcat9", "unbound1.13", "unbound1.17",
	} {
		out = append(out, Repo{"al2/extras/" + topic, "2/extras/" + topic + "/latest/x86_64/mirror.list"})
	}
	return out
}

// Updater reads ALAS updateinfo.
type Updater struct {
	repos []Repo
}

var _ feed.Updater = (*Updater)(nil)

// New returns the Amazon Linux updater for repos; none means DefaultRepos.
func New(repos ...Repo) *Updater {
	if len(repos) == 0 {
		repos = DefaultRepos()
	}
	return &Updater{repos: append([]Repo(nil), repos...)}
}

// Name implements feed.Updater.
func (*Updater) Name() string { return "amazon" }

// Upstream implements feed.Updater.
func (*Updater) Upstream() string { return Upstream }

// MirrorDir implements feed.Updater.
func (*Updater) MirrorDir() string { return "amazon" }

const updateinfo = "updateinfo.xml.gz"

// Fetch implements feed.Updater (see the package doc). Core repositories
// are required; extras and kernel-livepatch are optional.
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	paths := make([]string, len(u.repos))
	optional := map[string]bool{}
	for i, r := range u.repos {
		paths[i] = path.Join(r.Dir, updateinfo)
		if !strings.HasSuffix(r.Dir, "/core") {
			optional[paths[i]] = true
		}
	}
	isOptional := func(p string) bool { return optional[p] }
	snap, err := feed.FetchFiles(ctx, src, paths, prev, isOptional)
	if err == nil {
		return snap, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return feed.Snapshot{}, fmt.Errorf("amazon: %w", err)
	}
	// Not a mirror layout: resolve the real repository paths upstream.
	mapped := &mappedSource{src: src, paths: map[string]string{}}
	for i, r := range u.repos {
		real, err := resolve(ctx, src, r.MirrorList)
		if err != nil {
			if optional[paths[i]] && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return feed.Snapshot{}, fmt.Errorf("amazon: resolve %s: %w", r.Dir, err)
		}
		mapped.paths[paths[i]] = real
	}
	snap, err = feed.FetchFiles(ctx, mapped, paths, prev, isOptional)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("amazon: %w", err)
	}
	return snap, nil
}

// resolve follows a repository's mirror list and repomd.xml to the path of
// its updateinfo file, relative to the upstream root.
func resolve(ctx context.Context, src feed.Source, mirrorList string) (string, error) {
	b, err := getSmall(ctx, src, mirrorList)
	if err != nil {
		return "", err
	}
	var base string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			base = line
			break
		}
	}
	rel, ok := strings.CutPrefix(base, Upstream)
	if !ok {
		return "", fmt.Errorf("mirror list %s: first mirror %q is not under %s", mirrorList, base, Upstream)
	}
	rel = strings.Trim(rel, "/")
	repomd := path.Join(rel, "repodata/repomd.xml")
	b, err = getSmall(ctx, src, repomd)
	if err != nil {
		return "", err
	}
	var md struct {
		Data []struct {
			Type     string `xml:"type,attr"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"data"`
	}
	if err := xml.Unmarshal(b, &md); err != nil {
		return "", fmt.Errorf("%s: %w", repomd, err)
	}
	for _, d := range md.Data {
		if d.Type == "updateinfo" && d.Location.Href != "" {
			p := path.Clean(path.Join(rel, d.Location.Href))
			if !fs.ValidPath(p) {
				return "", fmt.Errorf("%s: invalid updateinfo location %q", repomd, d.Location.Href)
			}
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no updateinfo: %w", repomd, fs.ErrNotExist)
}

func getSmall(ctx context.Context, src feed.Source, p string) ([]byte, error) {
	rc, _, err := src.Get(ctx, p, feed.Validator{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSmallFile+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", p, err)
	}
	if len(b) > maxSmallFile {
		return nil, fmt.Errorf("get %s: larger than %d bytes", p, maxSmallFile)
	}
	return b, nil
}

// mappedSource serves mirror-layout paths from their resolved upstream paths.
type mappedSource struct {
	src   feed.Source
	paths map[string]string
}

func (m *mappedSource) Get(ctx context.Context, p string, prev feed.Validator) (io.ReadCloser, feed.Validator, error) {
	real, ok := m.paths[p]
	if !ok {
		return nil, feed.Validator{}, fmt.Errorf("%s: not resolved upstream: %w", p, fs.ErrNotExist)
	}
	return m.src.Get(ctx, real, prev)
}

func (m *mappedSource) List(context.Context, string) ([]string, error) {
	return nil, errors.ErrUnsupported
}

// Namespace maps the top directory of the mirror layout to a namespace.
func Namespace(release string) string {
	switch release {
	case "al2":
		return "amzn:2"
	case "al2023":
		return "amzn:2023"
	}
	return ""
}

// Parse implements feed.Updater: it reads every updateinfo.xml.gz below
// al2/ and al2023/.
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	var files []string
	for _, rel := range []string{"al2", "al2023"} {
		err := fs.WalkDir(fsys, rel, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == rel && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipDir
				}
				return err
			}
			if !d.IsDir() && d.Name() == updateinfo {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("amazon: parse: %w", err)
		}
	}
	if len(files) == 0 {
		return st, errors.New("amazon: parse: no al2/.../updateinfo.xml.gz or al2023/.../updateinfo.xml.gz found")
	}
	sort.Strings(files)
	for _, name := range files {
		ns := Namespace(strings.SplitN(name, "/", 2)[0])
		if err := parseFile(ctx, fsys, name, ns, &st, emit); err != nil {
			return st, err
		}
	}
	return st, nil
}

// emitError marks an error from emit, which aborts the Parse.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }
func (e emitError) Unwrap() error { return e.err }

func parseFile(ctx context.Context, fsys fs.FS, name, ns string, st *feed.Stats, emit func(*advisory.Advisory) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("amazon: parse %s: %w", name, err)
	}
	defer f.Close()
	lastID := ""
	err = func() error {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		lr := &io.LimitedReader{R: zr, N: MaxDecompressed + 1}
		err = Decode(ctx, lr, func(up *Update) error {
			lastID = up.ID
			a, problems := up.Advisory(ns)
			for _, p := range problems {
				st.Malformed = append(st.Malformed, feed.Malformed{File: name, ID: up.ID, Err: p})
			}
			if a == nil {
				return nil
			}
			if err := emit(a); err != nil {
				return emitError{fmt.Errorf("amazon: emit %s: %w", a.ID, err)}
			}
			st.Records++
			if t := a.Modified; t.After(st.Newest) {
				st.Newest = t
			} else if t := a.Published; t.After(st.Newest) {
				st.Newest = t
			}
			return nil
		})
		if lr.N <= 0 {
			return fmt.Errorf("decompressed XML exceeds %d bytes", int64(MaxDecompressed))
		}
		return err
	}()
	var ee emitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee.err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	id := ""
	if lastID != "" {
		id = "after " + lastID
	}
	st.Malformed = append(st.Malformed, feed.Malformed{File: name, ID: id, Err: err.Error()})
	return nil
}

// Update is one <update> element of updateinfo.xml.
type Update struct {
	Type        string      `xml:"type,attr"`
	Status      string      `xml:"status,attr"`
	ID          string      `xml:"id"`
	Title       string      `xml:"title"`
	Issued      dateAttr    `xml:"issued"`
	Updated     dateAttr    `xml:"updated"`
	Severity    string      `xml:"severity"`
	Description string      `xml:"description"`
	References  []Reference `xml:"references>reference"`
	Packages    []Package   `xml:"pkglist>collection>package"`
}

type dateAttr struct {
	Date string `xml:"date,attr"`
}

// Reference is one <reference>.
type Reference struct {
	Href  string `xml:"href,attr"`
	ID    string `xml:"id,attr"`
	Title string `xml:"title,attr"`
	Type  string `xml:"type,attr"`
}

// Package is one fixed binary package of an update.
type Package struct {
	Name     string `xml:"name,attr"`
	Epoch    string `xml:"epoch,attr"`
	Version  string `xml:"version,attr"`
	Release  string `xml:"release,attr"`
	Arch     string `xml:"arch,attr"`
	Filename string `xml:"filename"`
}

// Decode streams the <update> elements of an updateinfo.xml document to fn,
// decoding one at a time. It stops at the first XML error or fn error.
func Decode(ctx context.Context, r io.Reader, fn func(*Update) error) error {
	dec := xml.NewDecoder(r)
	dec.Strict = true
	depth := 0
	for {
		if depth == 1 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		tok, err := dec.Token()
		if err == io.EOF {
			if depth != 0 {
				return fmt.Errorf("xml: unexpected EOF")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 && t.Name.Local != "updates" {
				return fmt.Errorf("xml: root element <%s>, want <updates>", t.Name.Local)
			}
			if depth == 1 && t.Name.Local == "update" {
				var up Update
				if err := dec.DecodeElement(&up, &t); err != nil {
					return fmt.Errorf("xml: %w", err)
				}
				if err := fn(&up); err != nil {
					return err
				}
				continue
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
}

// Advisory converts an update; a nil result means the update is unusable.
// problems lists what was dropped.
func (up *Update) Advisory(ns string) (*advisory.Advisory, []string) {
	id := strings.TrimSpace(up.ID)
	if id == "" {
		return nil, []string{"update without an id"}
	}
	var problems []string
	a := &advisory.Advisory{
		ID: id, Source: "amazon",
		Summary:        strings.TrimSpace(up.Title),
		Description:    strings.TrimSpace(up.Description),
		VendorSeverity: strings.TrimSpace(up.Severity),
		Severity:       Severity(up.Severity),
	}
	var err error
	if a.Published, err = parseDate(up.Issued.Date); err != nil {
		problems = append(problems, "issued: "+err.Error())
	}
	if a.Modified, err = parseDate(up.Updated.Date); err != nil {
		problems = append(problems, "updated: "+err.Error())
	}
	for _, r := range up.References {
		if strings.EqualFold(r.Type, "cve") {
			if cve := strings.TrimSpace(r.ID); cve != "" && cve != id && !slices.Contains(a.Aliases, cve) {
				a.Aliases = append(a.Aliases, cve)
			}
		}
		if h := strings.TrimSpace(r.Href); h != "" && !slices.Contains(a.References, h) {
			a.References = append(a.References, h)
		}
	}
	sort.Strings(a.Aliases)
	type key struct{ name, evr string }
	idx := map[key]int{}
	for i, p := range up.Packages {
		name := strings.TrimSpace(p.Name)
		evr, err := p.EVR()
		if name == "" || err != nil {
			if err == nil {
				err = errors.New("no name")
			}
			problems = append(problems, fmt.Sprintf("package[%d] %q: %v", i, name, err))
			continue
		}
		k := key{name, evr}
		j, ok := idx[k]
		if !ok {
			j = len(a.Affected)
			idx[k] = j
			a.Affected = append(a.Affected, advisory.Affected{
				Namespace: ns, Package: name, Kind: advisory.KindBinary, Status: advisory.StatusFixed,
				Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: evr}}}},
			})
		}
		if arch := strings.TrimSpace(p.Arch); arch != "" && !slices.Contains(a.Affected[j].Arches, arch) {
			a.Affected[j].Arches = append(a.Affected[j].Arches, arch)
		}
	}
	if len(a.Affected) == 0 {
		return nil, append(problems, "update without usable packages")
	}
	for i := range a.Affected {
		sort.Strings(a.Affected[i].Arches)
	}
	sort.SliceStable(a.Affected, func(i, j int) bool { return a.Affected[i].Package < a.Affected[j].Package })
	return a, problems
}

// EVR is the package's "[epoch:]version-release" (epoch 0 omitted).
func (p Package) EVR() (string, error) {
	v, r, e := strings.TrimSpace(p.Version), strings.TrimSpace(p.Release), strings.TrimSpace(p.Epoch)
	switch {
	case v == "" || r == "":
		return "", errors.New("missing version or release")
	case strings.ContainsAny(v+r+e, " \t\n:") || strings.Contains(v, "-"):
		return "", fmt.Errorf("invalid version %q release %q epoch %q", v, r, e)
	}
	if e != "" && e != "0" {
		for _, c := range e {
			if c < '0' || c > '9' {
				return "", fmt.Errorf("invalid epoch %q", e)
			}
		}
		return e + ":" + v + "-" + r, nil
	}
	return v + "-" + r, nil
}

// Severity maps an ALAS severity to an ECR level ("" when unknown).
func Severity(s string) severity.Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return severity.Critical
	case "important":
		return severity.High
	case "medium", "moderate":
		return severity.Medium
	case "low":
		return severity.Low
	}
	return ""
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", s)
}
