// Package nvd is the feed updater for the NVD JSON 1.1 data feeds
// (https://nvd.nist.gov/feeds/json/cve/1.1/): nvdcve-1.1-<year>.json.gz for
// 2002 through the current year plus nvdcve-1.1-modified and -recent, each
// with a .meta file (lastModifiedDate and the SHA-256 of the decompressed
// JSON).
//
// NVD is used for enrichment only: every CVE becomes one namespace-less
// Advisory (no Affected entries) with its English description, CVSS v3
// and v2 (score, vector, source "nvd"), reference URLs and
// published/modified dates. The matcher looks these up by CVE id when a
// distro record lacks CVSS.
//
// A CVE whose English description is the CVE program's rejection notice
// (advisory.RejectNotice: "Rejected reason: DO NOT USE THIS CANDIDATE
// NUMBER ..." in the 2025 feeds, "** REJECT ** ..." in older copies; the
// 1.1 format has no status field) is emitted with Rejected set: the DB then
// stores no record of that id from any source (see internal/vulndb).
//
// Fetch reads the .meta files first (conditional GETs); when none changed
// the result is Unchanged and no feed is downloaded. Otherwise every feed
// whose .meta exists is fetched. A missing .meta is tolerated (the shared
// mirror lacks 2018-2024, whose feeds were too large to snapshot), so the
// set of yearly feeds is whatever the source has; at least one must exist.
// NVD retired these 1.1 feeds in favour of the CVE API 2.0, which this
// package does not speak.
//
// Parse streams each gzip'd feed through a json.Decoder, walking tokens to
// CVE_Items and decoding one item at a time, so memory does not grow with
// the file. It checks the SHA-256 in the .meta, when present, against the
// decompressed bytes, and a mismatch fails the Parse (a torn download).
// A CVE in several feeds (a yearly feed and modified/recent) is emitted
// once, from the copy with the newest lastModifiedDate: modified and recent
// (a few thousand CVEs) are read first and held in memory, then the yearly
// feeds are streamed. An item that does not decode is reported in
// Stats.Malformed and skipped.
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

// Updater reads the NVD JSON 1.1 feeds.
type Updater struct {
	now func() time.Time
}

var _ feed.Updater = (*Updater)(nil)

// New returns the NVD updater.
func New() *Updater { return &Updater{now: time.Now} }

// Name implements feed.Updater.
func (*Updater) Name() string { return "nvd" }

// Upstream implements feed.Updater.
func (*Updater) Upstream() string { return "https://nvd.nist.gov/feeds/json/cve/1.1/" }

// MirrorDir implements feed.Updater.
func (*Updater) MirrorDir() string { return "nvd/feeds/json/cve/1.1" }

// feeds names the feeds for the years up to the current one.
func (u *Updater) feeds() []string {
	var out []string
	for y := FirstYear; y <= u.now().Year(); y++ {
		out = append(out, fmt.Sprint(y))
	}
	return append(out, "modified", "recent")
}

func metaName(feed string) string { return "nvdcve-1.1-" + feed + ".meta" }
func gzName(feed string) string   { return "nvdcve-1.1-" + feed + ".json.gz" }

// Fetch implements feed.Updater (see the package doc).
func (u *Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	var metas []string
	for _, f := range u.feeds() {
		metas = append(metas, metaName(f))
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
	for _, f := range u.feeds() {
		if _, ok := ms.State[metaName(f)]; ok {
			paths = append(paths, metaName(f), gzName(f))
		}
	}
	snap, err := feed.FetchFiles(ctx, src, paths, nil, nil)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("nvd: %w", err)
	}
	return snap, nil
}

var feedRe = regexp.MustCompile(`^nvdcve-1\.1-([0-9]{4}|modified|recent)\.json\.gz$`)

// Parse implements feed.Updater.
func (u *Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return st, fmt.Errorf("nvd: parse: %w", err)
	}
	var overlay, yearly []string
	for _, e := range entries {
		m := feedRe.FindStringSubmatch(e.Name())
		switch {
		case m == nil || e.IsDir():
		case m[1] == "modified" || m[1] == "recent":
			overlay = append(overlay, e.Name())
		default:
			yearly = append(yearly, e.Name())
		}
	}
	if len(overlay)+len(yearly) == 0 {
		return st, errors.New("nvd: parse: no nvdcve-1.1-*.json.gz feed found")
	}
	sort.Strings(overlay)
	sort.Strings(yearly)
	out := func(a *advisory.Advisory) error {
		if err := emit(a); err != nil {
			return fmt.Errorf("nvd: emit %s: %w", a.ID, err)
		}
		st.Records++
		if a.Modified.After(st.Newest) {
			st.Newest = a.Modified
		}
		return nil
	}
	newer := map[string]*advisory.Advisory{}
	for _, name := range overlay {
		err := parseFeed(ctx, fsys, name, &st, func(a *advisory.Advisory) error {
			if old := newer[a.ID]; old == nil || a.Modified.After(old.Modified) {
				newer[a.ID] = a
			}
			return nil
		})
		if err != nil {
			return st, err
		}
	}
	for _, name := range yearly {
		err := parseFeed(ctx, fsys, name, &st, func(a *advisory.Advisory) error {
			if n := newer[a.ID]; n != nil {
				delete(newer, a.ID)
				if !a.Modified.After(n.Modified) {
					a = n
				}
			}
			return out(a)
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
		if err := out(newer[id]); err != nil {
			return st, err
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

func parseFeed(ctx context.Context, fsys fs.FS, name string, st *feed.Stats, fn func(*advisory.Advisory) error) error {
	wantSum, err := readMeta(fsys, name)
	if err != nil {
		return fmt.Errorf("nvd: parse %s: meta: %w", name, err)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("nvd: parse %s: %w", name, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return fmt.Errorf("nvd: parse %s: gzip: %w", name, err)
	}
	h := sha256.New()
	lr := &io.LimitedReader{R: io.TeeReader(zr, h), N: MaxDecompressed + 1}
	err = Decode(ctx, lr, func(raw json.RawMessage) error {
		a, err := convert(raw)
		if err != nil {
			st.Malformed = append(st.Malformed, feed.Malformed{File: name, ID: idOf(raw), Err: err.Error()})
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
			return fmt.Errorf("nvd: parse %s: sha256 of the JSON is %s, the .meta says %s", name, got, wantSum)
		}
	}
	return nil
}

// Decode walks an NVD 1.1 feed document to its CVE_Items array and hands
// each item, undecoded, to fn. Keys other than CVE_Items are skipped.
func Decode(ctx context.Context, r io.Reader, fn func(json.RawMessage) error) error {
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
		if key != "CVE_Items" {
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
				return fmt.Errorf("json: CVE_Items: %w", err)
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
		return errors.New("json: no CVE_Items")
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

type item struct {
	CVE struct {
		Meta struct {
			ID string `json:"ID"`
		} `json:"CVE_data_meta"`
		References struct {
			Data []struct {
				URL string `json:"url"`
			} `json:"reference_data"`
		} `json:"references"`
		Description struct {
			Data []struct {
				Lang  string `json:"lang"`
				Value string `json:"value"`
			} `json:"description_data"`
		} `json:"description"`
	} `json:"cve"`
	Impact struct {
		V3 *struct {
			CVSS cvss `json:"cvssV3"`
		} `json:"baseMetricV3"`
		V2 *struct {
			CVSS cvss `json:"cvssV2"`
		} `json:"baseMetricV2"`
	} `json:"impact"`
	Published    string `json:"publishedDate"`
	LastModified string `json:"lastModifiedDate"`
}

type cvss struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
}

var cveRe = regexp.MustCompile(`^CVE-[0-9]{4}-[0-9]{4,}$`)

func idOf(raw json.RawMessage) string {
	var it struct {
		CVE struct {
			Meta struct {
				ID any `json:"ID"`
			} `json:"CVE_data_meta"`
		} `json:"cve"`
	}
	_ = json.Unmarshal(raw, &it)
	if s, ok := it.CVE.Meta.ID.(string); ok && len(s) < 64 {
		return s
	}
	return ""
}

func convert(raw json.RawMessage) (*advisory.Advisory, error) {
	var it item
	if err := json.Unmarshal(raw, &it); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	id := strings.TrimSpace(it.CVE.Meta.ID)
	if !cveRe.MatchString(id) {
		return nil, fmt.Errorf("invalid CVE id %q", id)
	}
	a := &advisory.Advisory{ID: id, Source: "nvd"}
	for _, d := range it.CVE.Description.Data {
		if d.Lang == "en" {
			a.Description = d.Value
			break
		}
	}
	a.Rejected = advisory.RejectNotice(a.Description)
	for _, r := range it.CVE.References.Data {
		if u := strings.TrimSpace(r.URL); u != "" {
			a.References = append(a.References, u)
		}
	}
	if v3 := it.Impact.V3; v3 != nil && v3.CVSS.VectorString != "" {
		if !strings.HasPrefix(v3.CVSS.Version, "3") || v3.CVSS.BaseScore < 0 || v3.CVSS.BaseScore > 10 {
			return nil, fmt.Errorf("invalid CVSS v3 %+v", v3.CVSS)
		}
		a.CVSS = append(a.CVSS, advisory.CVSS{Version: v3.CVSS.Version, Vector: v3.CVSS.VectorString, Score: v3.CVSS.BaseScore, Source: "nvd"})
	}
	if v2 := it.Impact.V2; v2 != nil && v2.CVSS.VectorString != "" {
		if v2.CVSS.BaseScore < 0 || v2.CVSS.BaseScore > 10 {
			return nil, fmt.Errorf("invalid CVSS v2 %+v", v2.CVSS)
		}
		a.CVSS = append(a.CVSS, advisory.CVSS{Version: "2.0", Vector: v2.CVSS.VectorString, Score: v2.CVSS.BaseScore, Source: "nvd"})
	}
	var err error
	if a.Published, err = parseDate(it.Published); err != nil {
		return nil, fmt.Errorf("publishedDate: %w", err)
	}
	if a.Modified, err = parseDate(it.LastModified); err != nil {
		return nil, fmt.Errorf("lastModifiedDate: %w", err)
	}
	return a, nil
}

// parseDate reads NVD's "2017-03-14T14:59Z".
func parseDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04Z07:00", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", s)
}
