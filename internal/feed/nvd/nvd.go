// Package nvd is the feed updater for NVD's CVE data feeds
// (https://nvd.nist.gov/feeds/json/cve/): the JSON 2.0 feeds
// 2.0/nvdcve-2.0-<year|modified|recent>.json.gz, which hold records in the
// CVE API 2.0 shape, and, for old mirrors, the JSON 1.1 feeds
// 1.1/nvdcve-1.1-<year|modified|recent>.json.gz that NVD removed on
// 2025-08-20. Every feed has a .meta file (lastModifiedDate, sizes and the
// SHA-256 of the decompressed JSON). Upstream and MirrorDir are the cve/
// directory, so one source holds both formats.
//
// NVD is used for enrichment only: every CVE becomes one namespace-less
// Advisory (no Affected entries) with its English description, CVSS
// scores, reference URLs and published/modified dates. The matcher looks
// these up by CVE id when a distro record lacks CVSS.
//
// # CVSS and the severity they give
//
// The matcher rates a finding from the first CVSS v3 entry it sees, else
// the first v2 entry (internal/match: severity); it ignores v4. Parse
// therefore orders an advisory's CVSS as: v3.1 then v3.0 scored by NVD
// itself (type Primary, source nvd@nist.gov, recorded with source "nvd"),
// then the v3.1/v3.0 of other scorers (type Secondary: the CNA, recorded
// with its NVD source identifier, an e-mail address or UUID, so a finding's
// severity_source names who scored it), then v2 (NVD's, then others'), and
// CVSS v4.0 last (Version "4.0"). v4 is recorded for reports and APIs but
// picks no severity: NVD's own rating has been v3.x since 2016, and letting
// v4 (which CNAs, not NVD, mostly supply, and whose scores run higher for
// the same flaw) win would silently change existing findings' severity. A
// 1.1 record yields the same entries as before (its single v3 and v2, both
// NVD's). For a CVE that NVD has not scored, a CNA's v3 from the 2.0 record
// now rates the finding where the 1.1 path fell back to v2 or to other
// feeds' scores (internal/scan: Enrichment).
//
// # Rejected CVEs
//
// A 2.0 record with vulnStatus "Rejected", or any record whose English
// description is the CVE program's rejection notice (advisory.RejectNotice;
// the 1.1 format has no status field), is emitted with Rejected set: the DB
// then stores no record of that id from any source (see internal/vulndb).
//
// # Fetch
//
// Fetch reads the .meta files first (conditional GETs); when none changed
// the result is Unchanged and no feed is downloaded. Otherwise every feed
// whose .meta exists is fetched. A missing .meta is tolerated (the shared
// mirror has 2.0 only for 2022 and 2023, and 1.1 only for 2002-2017), so
// the set of yearly feeds is whatever the source has; at least one must
// exist. The 2.0 feeds are always read. The 1.1 feeds are read only when
// the source has 1.1/nvdcve-1.1-modified.meta (an old mirror): online
// that one probe answers 404 and nothing else of 1.1 is asked for.
//
// NVD's CVE API 2.0 (services.nvd.nist.gov, lastModStartDate paging) is not
// used: the feeds' modified file carries the last eight days of changes and
// the .meta files make a no-change update cost 27 small requests.
//
// # Parse
//
// Parse streams each gzip'd feed through a json.Decoder, walking tokens to
// the record array (vulnerabilities in 2.0, CVE_Items in 1.1) and decoding
// one record at a time, so memory does not grow with the file. It checks
// the SHA-256 in the .meta, when present, against the decompressed bytes,
// and a mismatch fails the Parse (a torn download). Each CVE is emitted
// once: a 2.0 record wins over a 1.1 record of the same id whatever their
// dates (the 2.0 feeds are what NVD maintains), and within a format the
// copy with the newest lastModified wins (modified and recent, a few
// thousand CVEs, are read first and held in memory, then the yearly feeds
// are streamed). The ids emitted from 2.0 are held in memory only when 1.1
// feeds are present too. A record that does not decode is reported in
// Stats.Malformed and skipped. Stats.Parts counts the emitted CVEs per
// format ("nvd-2.0", "nvd-1.1").
package nvd

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Limits on untrusted input.
const (
	MaxDecompressed = 2 << 30 // bytes of JSON per feed (the largest is ~300 MB)
	maxMeta         = 4 << 10
)

// FirstYear is the first yearly feed.
const FirstYear = 2002

// Part names: the keys of Stats.Parts. PartAPI counts the records whose
// newest copy came from a CVE API 2.0 page.
const (
	Part20  = "nvd-2.0"
	Part11  = "nvd-1.1"
	PartAPI = "nvd-2.0-api"
)

// Updater reads the NVD JSON 2.0 feeds, and the 1.1 feeds of old mirrors.
type Updater struct {
	now func() time.Time
	// api, when set, turns on the CVE API 2.0 path (NewAPI).
	api *APIOptions
}

var _ feed.Updater = (*Updater)(nil)

// New returns the NVD updater.
func New() *Updater { return &Updater{now: time.Now} }

// Name implements feed.Updater.
func (*Updater) Name() string { return "nvd" }

// Upstream implements feed.Updater.
func (*Updater) Upstream() string { return "https://nvd.nist.gov/feeds/json/cve/" }

// MirrorDir implements feed.Updater.
func (*Updater) MirrorDir() string { return "nvd/feeds/json/cve" }

// format is one NVD feed format: its directory and file prefix, the
// Stats.Parts key, and its record decoder.
type format struct {
	dir, prefix, part string
	decode            func(ctx context.Context, r io.Reader, fn func(json.RawMessage) error) error
	convert           func(json.RawMessage) (*advisory.Advisory, error)
	idOf              func(json.RawMessage) string
	re                *regexp.Regexp
}

// formats in order of preference: a CVE emitted from one is skipped in the
// later ones.
var formats = []format{
	{dir: "2.0", prefix: "nvdcve-2.0-", part: Part20, decode: Decode20, convert: convert20, idOf: idOf20,
		re: regexp.MustCompile(`^nvdcve-2\.0-([0-9]{4}|modified|recent)\.json\.gz$`)},
	{dir: "1.1", prefix: "nvdcve-1.1-", part: Part11, decode: Decode, convert: convert, idOf: idOf,
		re: regexp.MustCompile(`^nvdcve-1\.1-([0-9]{4}|modified|recent)\.json\.gz$`)},
}

func (f format) meta(name string) string { return f.dir + "/" + f.prefix + name + ".meta" }
func (f format) gz(name string) string   { return f.dir + "/" + f.prefix + name + ".json.gz" }

// feeds names the feeds for the years up to the current one.
func (u *Updater) feeds() []string {
	var out []string
	for y := FirstYear; y <= u.now().Year(); y++ {
		out = append(out, fmt.Sprint(y))
	}
	return append(out, "modified", "recent")
}

// hasLegacy reports whether src holds the 1.1 feeds, by their modified
// feed's .meta (a conditional GET against prev).
func hasLegacy(ctx context.Context, src feed.Source, prev feed.State) (bool, error) {
	p := formats[1].meta("modified")
	rc, _, err := src.Get(ctx, p, prev[p])
	switch {
	case err == nil:
		rc.Close()
		return true, nil
	case errors.Is(err, feed.ErrNotModified):
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("probe %s: %w", p, err)
}

// Fetch implements feed.Updater (see the package doc).
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	use := formats[:1]
	legacy, err := hasLegacy(ctx, src, prev)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("nvd: fetch: %w", err)
	}
	if legacy {
		use = formats
	}
	var metas []string
	for _, f := range use {
		for _, name := range u.feeds() {
			metas = append(metas, f.meta(name))
		}
	}
	if u.api != nil {
		return u.fetchWithAPI(ctx, src, prev, use, metas)
	}
	prevMeta := feed.State{}
	for p, v := range prev {
		if strings.HasSuffix(p, ".meta") {
			prevMeta[p] = v
		}
	}
	ms, err := feed.FetchFiles(ctx, src, metas, prevMeta, func(string) bool { return true })
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("nvd: meta: %w", err)
	}
	if ms.Close != nil {
		defer ms.Close()
	}
	if len(ms.State) == 0 {
		return feed.Snapshot{}, fmt.Errorf("nvd: fetch: none of the %d .meta files exists: %w", len(metas), fs.ErrNotExist)
	}
	if ms.Unchanged {
		return feed.Snapshot{State: prev, Unchanged: true}, nil
	}
	var paths []string
	for _, f := range use {
		for _, name := range u.feeds() {
			if _, ok := ms.State[f.meta(name)]; ok {
				paths = append(paths, f.meta(name), f.gz(name))
			}
		}
	}
	snap, err := feed.FetchFiles(ctx, src, paths, nil, nil)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("nvd: %w", err)
	}
	return snap, nil
}

// feedFiles lists one format's feeds in fsys: modified/recent (overlay) and
// yearly, each sorted. A missing directory has none.
func feedFiles(fsys fs.FS, f format) (overlay, yearly []string, err error) {
	entries, err := fs.ReadDir(fsys, f.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		m := f.re.FindStringSubmatch(e.Name())
		switch {
		case m == nil || e.IsDir():
		case m[1] == "modified" || m[1] == "recent":
			overlay = append(overlay, f.dir+"/"+e.Name())
		default:
			yearly = append(yearly, f.dir+"/"+e.Name())
		}
	}
	sort.Strings(overlay)
	sort.Strings(yearly)
	return overlay, yearly, nil
}

var apiPageRe = regexp.MustCompile(`^nvdcve-2\.0-api-[0-9]+-[0-9]+\.json$`)

// apiPages lists the CVE API pages Fetch stored under api/, sorted.
func apiPages(fsys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(fsys, apiDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && apiPageRe.MatchString(e.Name()) {
			out = append(out, apiDir+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Parse implements feed.Updater (see the package doc).
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	st := feed.Stats{Parts: map[string]int{}}
	type files struct{ api, overlay, yearly []string }
	var all []files
	total := 0
	for i, f := range formats {
		o, y, err := feedFiles(fsys, f)
		if err != nil {
			return st, fmt.Errorf("nvd: parse: %w", err)
		}
		var api []string
		if i == 0 {
			if api, err = apiPages(fsys); err != nil {
				return st, fmt.Errorf("nvd: parse: %w", err)
			}
		}
		all = append(all, files{api, o, y})
		total += len(api) + len(o) + len(y)
	}
	if total == 0 {
		return st, errors.New("nvd: parse: no feed found (2.0/nvdcve-2.0-*.json.gz or 1.1/nvdcve-1.1-*.json.gz)")
	}
	// done holds the ids emitted from earlier formats, kept only while a
	// later format has feeds to read.
	var done map[string]struct{}
	for i, f := range formats {
		fl := all[i]
		if len(fl.api)+len(fl.overlay)+len(fl.yearly) == 0 {
			continue
		}
		later := false
		for _, n := range all[i+1:] {
			later = later || len(n.overlay)+len(n.yearly) > 0
		}
		if later && done == nil {
			done = map[string]struct{}{}
		}
		var mine []string
		out := func(a *advisory.Advisory, part string) error {
			if err := emit(a); err != nil {
				return fmt.Errorf("nvd: emit %s: %w", a.ID, err)
			}
			st.Records++
			st.Parts[part]++
			if a.Modified.After(st.Newest) {
				st.Newest = a.Modified
			}
			if later {
				mine = append(mine, a.ID)
			}
			return nil
		}
		skip := func(id string) bool { _, ok := done[id]; return ok }
		// newer holds the newest copy of each record of the API pages and
		// the modified/recent feeds (API pages first: they win ties).
		type copyOf struct {
			a    *advisory.Advisory
			part string
		}
		newer := map[string]copyOf{}
		for j, name := range append(slices.Clone(fl.api), fl.overlay...) {
			part := f.part
			if j < len(fl.api) {
				part = PartAPI
			}
			err := parseFeed(ctx, fsys, f, name, &st, func(a *advisory.Advisory) error {
				if skip(a.ID) {
					return nil
				}
				if old, ok := newer[a.ID]; !ok || a.Modified.After(old.a.Modified) {
					newer[a.ID] = copyOf{a, part}
				}
				return nil
			})
			if err != nil {
				return st, err
			}
		}
		for _, name := range fl.yearly {
			err := parseFeed(ctx, fsys, f, name, &st, func(a *advisory.Advisory) error {
				if skip(a.ID) {
					return nil
				}
				part := f.part
				if n, ok := newer[a.ID]; ok {
					delete(newer, a.ID)
					if !a.Modified.After(n.a.Modified) {
						a, part = n.a, n.part
					}
				}
				return out(a, part)
			})
			if err != nil {
				return st, err
			}
		}
		ids := make([]string, 0, len(newer))
		for id := range newer {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := out(newer[id].a, newer[id].part); err != nil {
				return st, err
			}
		}
		for _, id := range mine {
			done[id] = struct{}{}
		}
	}
	return st, nil
}

// readMeta returns the sha256 of the .meta next to a feed, or "".
func readMeta(fsys fs.FS, gz string) (string, error) {
	name := strings.TrimSuffix(gz, ".json.gz") + ".meta"
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMeta+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxMeta {
		return "", fmt.Errorf("%s: larger than %d bytes", name, maxMeta)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "sha256:"); ok {
			return strings.ToLower(v), nil
		}
	}
	return "", fmt.Errorf("%s: no sha256 line", name)
}

// parseFeed reads one feed (gzip'd, with an optional .meta) or one API
// page (plain .json, no .meta).
func parseFeed(ctx context.Context, fsys fs.FS, fm format, name string, st *feed.Stats, fn func(*advisory.Advisory) error) error {
	plain := !strings.HasSuffix(name, ".json.gz")
	wantSum := ""
	if !plain {
		var err error
		if wantSum, err = readMeta(fsys, name); err != nil {
			return fmt.Errorf("nvd: parse %s: meta: %w", name, err)
		}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("nvd: parse %s: %w", name, err)
	}
	defer f.Close()
	var zr io.Reader = bufio.NewReaderSize(f, 1<<16)
	if !plain {
		if zr, err = gzip.NewReader(zr); err != nil {
			return fmt.Errorf("nvd: parse %s: gzip: %w", name, err)
		}
	}
	h := sha256.New()
	lr := &io.LimitedReader{R: io.TeeReader(zr, h), N: MaxDecompressed + 1}
	err = fm.decode(ctx, lr, func(raw json.RawMessage) error {
		a, err := fm.convert(raw)
		if err != nil {
			st.Malformed = append(st.Malformed, feed.Malformed{File: name, ID: fm.idOf(raw), Err: err.Error()})
			return nil
		}
		return fn(a)
	})
	if lr.N <= 0 {
		return fmt.Errorf("nvd: parse %s: decompressed JSON exceeds %d bytes", name, int64(MaxDecompressed))
	}
	if err != nil {
		return fmt.Errorf("nvd: parse %s: %w", name, err)
	}
	if wantSum != "" {
		// Drain what follows the JSON object so the sum covers the file.
		if _, err := io.Copy(io.Discard, lr); err != nil {
			return fmt.Errorf("nvd: parse %s: %w", name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != wantSum {
			return fmt.Errorf("nvd: parse %s: sha256 of the JSON is %s, the .meta says %s (a torn or altered download)", name, got, wantSum)
		}
	}
	return nil
}

// walk decodes a feed document: an object whose key array names the record
// array. Each record is handed, undecoded, to fn; other keys go to other
// (nil skips them).
func walk(ctx context.Context, r io.Reader, array string, other func(key string, dec *json.Decoder) error, fn func(json.RawMessage) error) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	items := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("json: unexpected %v", tok)
		}
		if key != array {
			if other != nil {
				if err := other(key, dec); err != nil {
					return err
				}
				continue
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("json: %s: %w", key, err)
			}
			continue
		}
		items = true
		if err := expectDelim(dec, '['); err != nil {
			return err
		}
		for dec.More() {
			if err := ctx.Err(); err != nil {
				return err
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fmt.Errorf("json: %s: %w", array, err)
			}
			if err := fn(raw); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !items {
		return fmt.Errorf("json: no %s", array)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("json: got %v, want %v", tok, want)
	}
	return nil
}

var cveRe = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// parseDate reads NVD's dates: "2017-03-14T14:59Z" (1.1) and
// "2022-08-31T16:15:09.347" (2.0, UTC without a zone).
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04Z07:00", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", s)
}
