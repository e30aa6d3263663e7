// Package kev is the feed updater for CISA's Known Exploited
// Vulnerabilities catalog (KEV): the CVEs that CISA knows to be exploited
// in the wild.
//
// Layout: one file, known_exploited_vulnerabilities.json, at
// https://www.cisa.gov/sites/default/files/feeds/ upstream and under kev/
// in a mirror (cisagov/kev-data keeps the same names). Fetch is the shared
// conditional fetch (feed.FetchFiles): an unchanged file (ETag,
// Last-Modified, or the same SHA-256) is not parsed again.
//
// Records: each entry of "vulnerabilities" becomes one exploit-context
// record (advisory.Advisory with ID the cveID and Exploit.KEV set, no
// affected packages): dateAdded, dueDate, knownRansomwareCampaignUse,
// vendorProject, product, vulnerabilityName and requiredAction. The
// catalog's catalogVersion is Stats.Version ("catalogVersion 2025.08.25")
// and its dateReleased (else the newest dateAdded) Stats.Newest.
//
// The document is read as a stream (encoding/json Decoder, one entry
// decoded at a time) of at most MaxFileSize bytes. An entry with a cveID
// that is not a CVE id, a dateAdded or dueDate that is not a date, a
// knownRansomwareCampaignUse other than Known or Unknown, or a value of
// the wrong JSON type is reported in Stats.Malformed and left out; text
// fields are clipped to MaxText bytes. A syntax error or a document that
// is not a catalog fails the Parse (the previous records are kept).
package kev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Limits on untrusted input.
const (
	MaxFileSize = 64 << 20 // bytes of the catalog (the real one is about 1.5 MB)
	MaxText     = 4096     // bytes kept of each text field
)

// Upstream is the directory of CISA's feed files.
const Upstream = "https://www.cisa.gov/sites/default/files/feeds/"

// File is the catalog's file name, upstream and in the mirror.
const File = "known_exploited_vulnerabilities.json"

// Updater reads the KEV catalog.
type Updater struct{}

var _ feed.Updater = (*Updater)(nil)

// New returns the KEV updater.
func New() *Updater { return &Updater{} }

// Name implements feed.Updater.
func (*Updater) Name() string { return "kev" }

// Upstream implements feed.Updater.
func (*Updater) Upstream() string { return Upstream }

// MirrorDir implements feed.Updater.
func (*Updater) MirrorDir() string { return "kev" }

// Fetch implements feed.Updater.
func (*Updater) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	snap, err := feed.FetchFiles(ctx, src, []string{File}, prev, nil)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("kev: %w", err)
	}
	return snap, nil
}

// entry is one catalog entry as CISA writes it.
type entry struct {
	CVEID             string `json:"cveID"`
	VendorProject     string `json:"vendorProject"`
	Product           string `json:"product"`
	VulnerabilityName string `json:"vulnerabilityName"`
	DateAdded         string `json:"dateAdded"`
	RequiredAction    string `json:"requiredAction"`
	DueDate           string `json:"dueDate"`
	Ransomware        string `json:"knownRansomwareCampaignUse"`
}

// Parse implements feed.Updater (see the package doc).
func (*Updater) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	f, err := fsys.Open(File)
	if err != nil {
		return st, fmt.Errorf("kev: %w", err)
	}
	defer f.Close()
	lr := &io.LimitedReader{R: f, N: MaxFileSize + 1}
	st, err = parse(ctx, lr, emit)
	if lr.N <= 0 {
		return st, fmt.Errorf("kev: %s: larger than %d bytes", File, MaxFileSize)
	}
	return st, err
}

func parse(ctx context.Context, r io.Reader, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	var st feed.Stats
	dec := json.NewDecoder(r)
	fail := func(err error) (feed.Stats, error) {
		return st, fmt.Errorf("kev: %s: offset %d: %w", File, dec.InputOffset(), err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(fmt.Errorf("not a catalog: %w", err))
	}
	var version string
	var released, newest time.Time
	sawList := false
	declared := -1
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		switch key {
		case "catalogVersion":
			if err := dec.Decode(&version); err != nil {
				return fail(fmt.Errorf("catalogVersion: %w", err))
			}
			version = clip(version, 64)
		case "dateReleased":
			var s string
			if err := dec.Decode(&s); err != nil {
				return fail(fmt.Errorf("dateReleased: %w", err))
			}
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				released = t
			} else {
				st.Malformed = append(st.Malformed, feed.Malformed{File: File, Err: fmt.Sprintf("dateReleased %q is not a time", clip(s, 64))})
			}
		case "count":
			if err := dec.Decode(&declared); err != nil {
				return fail(fmt.Errorf("count: %w", err))
			}
		case "vulnerabilities":
			sawList = true
			if err := expectDelim(dec, '['); err != nil {
				return fail(fmt.Errorf("vulnerabilities: %w", err))
			}
			for i := 0; dec.More(); i++ {
				if err := ctx.Err(); err != nil {
					return st, err
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fail(fmt.Errorf("vulnerabilities[%d]: %w", i, err))
				}
				a, err := record(raw)
				if err != nil {
					st.Malformed = append(st.Malformed, feed.Malformed{File: File, ID: idOf(raw, i), Err: err.Error()})
					continue
				}
				if a.Exploit.KEV.DateAdded.After(newest) {
					newest = a.Exploit.KEV.DateAdded
				}
				st.Records++
				if err := emit(a); err != nil {
					return st, err
				}
			}
			if _, err := dec.Token(); err != nil { // ]
				return fail(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // }
		return fail(err)
	}
	if !sawList {
		return fail(errors.New(`not a catalog: no "vulnerabilities" list`))
	}
	if declared >= 0 && declared != st.Records+len(st.Malformed) {
		st.Malformed = append(st.Malformed, feed.Malformed{File: File, Err: fmt.Sprintf("count says %d entries, the list holds %d", declared, st.Records+len(st.Malformed))})
	}
	if version != "" {
		st.Version = "catalogVersion " + version
	}
	st.Newest = newest
	if !released.IsZero() {
		st.Newest = released.UTC()
	}
	return st, nil
}

// record converts one entry.
func record(raw json.RawMessage) (*advisory.Advisory, error) {
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("entry: %w", err)
	}
	id := strings.TrimSpace(e.CVEID)
	if !advisory.IsCVEID(id) {
		return nil, fmt.Errorf("cveID %q is not a CVE id", clip(e.CVEID, 64))
	}
	added, err := date("dateAdded", e.DateAdded)
	if err != nil {
		return nil, err
	}
	var due time.Time
	if e.DueDate != "" {
		if due, err = date("dueDate", e.DueDate); err != nil {
			return nil, err
		}
	}
	switch e.Ransomware {
	case "Known", "Unknown", "":
	default:
		return nil, fmt.Errorf("knownRansomwareCampaignUse %q is neither Known nor Unknown", clip(e.Ransomware, 64))
	}
	k := &advisory.KEV{DateAdded: added, DueDate: due, KnownRansomwareCampaignUse: e.Ransomware,
		VendorProject: clip(e.VendorProject, MaxText), Product: clip(e.Product, MaxText),
		VulnerabilityName: clip(e.VulnerabilityName, MaxText), RequiredAction: clip(e.RequiredAction, MaxText)}
	return &advisory.Advisory{ID: id, Source: "kev", Summary: k.VulnerabilityName, Published: added, Exploit: &advisory.Exploit{KEV: k}}, nil
}

func date(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not a date (YYYY-MM-DD)", field, clip(s, 64))
	}
	return t, nil
}

// idOf is the cveID of a malformed entry, when it has a string one.
func idOf(raw json.RawMessage, i int) string {
	var e struct {
		CVEID any `json:"cveID"`
	}
	if json.Unmarshal(raw, &e) == nil {
		if s, ok := e.CVEID.(string); ok && s != "" {
			return clip(s, 64)
		}
	}
	return fmt.Sprintf("vulnerabilities[%d]", i)
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("expected %q, found %v", d, tok)
	}
	return nil
}

// clip bounds s to n bytes, dropping a rune cut at the end.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
