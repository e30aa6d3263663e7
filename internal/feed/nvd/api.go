package nvd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// The CVE API 2.0 (https://nvd.nist.gov/developers/vulnerabilities).
const (
	// DefaultAPIURL is the CVE API endpoint.
	DefaultAPIURL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
	// APIKeyEnv is the environment variable the CLI reads the key from.
	APIKeyEnv = "NVD_API_KEY"
	// apiPageSize is the resultsPerPage asked for (the API's maximum).
	apiPageSize = 2000
	// apiMaxWindow is the longest lastModStartDate..lastModEndDate range
	// the API accepts.
	apiMaxWindow = 120 * 24 * time.Hour
	// apiMaxWindows bounds how far back one fetch asks (4 windows: 480
	// days); older feeds are refused rather than paged through.
	apiMaxWindows = 4
	// apiMaxPages bounds the pages of one fetch (200,000 records), and
	// apiMaxPageBytes each page.
	apiMaxPages     = 100
	apiMaxPageBytes = 256 << 20
	// apiMargin is how far before the modified feed's lastModifiedDate the
	// window starts, so a change made while the feed was generated is not
	// missed.
	apiMargin = time.Hour
	// apiRetries is how often a 403, 429 or 5xx answer is retried (NVD
	// answers 403 when the rate limit is exceeded).
	apiRetries = 3
	// apiStateKey is the State entry of the API: LastModified is the start
	// of the window, SHA256 the digest of the ids and lastModified dates
	// the API returned.
	apiStateKey = "api"
	apiDir      = "api"
)

// Rate limits of the CVE API: requests per rolling 30 s window.
const (
	RateWithoutKey = 5
	RateWithKey    = 50
	ratePeriod     = 30 * time.Second
)

// Doer sends HTTP requests (*http.Client).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// APIOptions turn on the CVE API 2.0 path (see NewAPI).
type APIOptions struct {
	// URL is the endpoint; DefaultAPIURL when empty.
	URL string
	// Key is sent in the apiKey header and raises the rate limit from
	// RateWithoutKey to RateWithKey requests per 30 s. The CLI fills it
	// from $NVD_API_KEY, never from a flag (flags show in ps).
	Key string
	// Client sends the requests; an http.Client with a 10-minute timeout
	// per request when nil.
	Client Doer
	// UserAgent is sent with every request when set.
	UserAgent string

	// now and sleep replace the clock (tests).
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// NewAPI returns the NVD updater that also asks the CVE API 2.0 for the
// records changed since the feeds were generated (see the package doc).
func NewAPI(o APIOptions) *Updater {
	if o.URL == "" {
		o.URL = DefaultAPIURL
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Minute}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.sleep == nil {
		o.sleep = sleepCtx
	}
	return &Updater{now: time.Now, api: &o}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// limiter allows n requests per rolling period.
type limiter struct {
	n      int
	period time.Duration
	sent   []time.Time
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

func (l *limiter) wait(ctx context.Context) error {
	for len(l.sent) >= l.n {
		d := l.sent[0].Add(l.period).Sub(l.now())
		if d <= 0 {
			l.sent = l.sent[1:]
			continue
		}
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
	l.sent = append(l.sent, l.now())
	return nil
}

// apiPage is what Fetch reads of a response page; the page itself is
// stored as it came for Parse.
type apiPage struct {
	ResultsPerPage  int    `json:"resultsPerPage"`
	StartIndex      int    `json:"startIndex"`
	TotalResults    int    `json:"totalResults"`
	Format          string `json:"format"`
	Version         string `json:"version"`
	Vulnerabilities []struct {
		CVE struct {
			ID           string `json:"id"`
			LastModified string `json:"lastModified"`
		} `json:"cve"`
	} `json:"vulnerabilities"`
}

// apiTime formats a window bound as the API wants it (ISO 8601 with
// milliseconds and an explicit offset).
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00" }

// windows splits [from, to] into ranges the API accepts.
func windows(from, to time.Time) ([][2]time.Time, error) {
	if !from.Before(to) {
		return nil, nil
	}
	var out [][2]time.Time
	for s := from; s.Before(to); s = s.Add(apiMaxWindow) {
		if len(out) == apiMaxWindows {
			return nil, fmt.Errorf("the feeds date from %s, more than %d days ago: the API path only covers the time since the feeds were generated", from.Format(time.RFC3339), int(apiMaxWindows*apiMaxWindow/(24*time.Hour)))
		}
		e := s.Add(apiMaxWindow)
		if e.After(to) {
			e = to
		}
		out = append(out, [2]time.Time{s, e})
	}
	return out, nil
}

// anchor is the lastModifiedDate of the 2.0 modified feed's .meta: the
// API is asked for what changed since.
func anchor(ctx context.Context, src feed.Source) (time.Time, error) {
	p := formats[0].meta("modified")
	rc, _, err := src.Get(ctx, p, feed.Validator{})
	if err != nil {
		return time.Time{}, fmt.Errorf("%s (the start of the API window): %w", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMeta+1))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", p, err)
	}
	if len(b) > maxMeta {
		return time.Time{}, fmt.Errorf("%s: larger than %d bytes", p, maxMeta)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "lastModifiedDate:"); ok {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: lastModifiedDate %q: %w", p, v, err)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: no lastModifiedDate line", p)
}

// fetchAPI writes the CVE API pages of the records modified in [from, to]
// into dir/api and returns their digest (ids and lastModified dates, in
// order) and how many records they hold.
func (o *APIOptions) fetchAPI(ctx context.Context, dir string, from, to time.Time) (string, int, error) {
	ws, err := windows(from, to)
	if err != nil {
		return "", 0, err
	}
	if err := os.MkdirAll(filepath.Join(dir, apiDir), 0o755); err != nil {
		return "", 0, err
	}
	rate := RateWithoutKey
	if o.Key != "" {
		rate = RateWithKey
	}
	lim := &limiter{n: rate, period: ratePeriod, now: o.now, sleep: o.sleep}
	h := sha256.New()
	pages, records := 0, 0
	for wi, w := range ws {
		for start := 0; ; {
			if pages == apiMaxPages {
				return "", 0, fmt.Errorf("more than %d pages of changes (%d records so far): refusing to page further", apiMaxPages, records)
			}
			body, err := o.get(ctx, lim, w, start)
			if err != nil {
				return "", 0, err
			}
			var pg apiPage
			if err := json.Unmarshal(body, &pg); err != nil {
				return "", 0, fmt.Errorf("page %s..%s at %d: %w", apiTime(w[0]), apiTime(w[1]), start, err)
			}
			switch {
			case pg.Format != "NVD_CVE" || !strings.HasPrefix(pg.Version, "2."):
				return "", 0, fmt.Errorf("page at %d: format %q version %q, want NVD_CVE 2.x", start, pg.Format, pg.Version)
			case pg.StartIndex != start:
				return "", 0, fmt.Errorf("page at %d: startIndex %d", start, pg.StartIndex)
			case pg.TotalResults < 0 || (pg.TotalResults > start && (pg.ResultsPerPage <= 0 || len(pg.Vulnerabilities) == 0)):
				return "", 0, fmt.Errorf("page at %d: totalResults %d with resultsPerPage %d and %d records", start, pg.TotalResults, pg.ResultsPerPage, len(pg.Vulnerabilities))
			}
			name := path.Join(apiDir, fmt.Sprintf("nvdcve-2.0-api-%d-%06d.json", wi, start))
			if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), body, 0o644); err != nil {
				return "", 0, err
			}
			pages++
			records += len(pg.Vulnerabilities)
			for _, v := range pg.Vulnerabilities {
				fmt.Fprintf(h, "%s %s\n", v.CVE.ID, v.CVE.LastModified)
			}
			start += pg.ResultsPerPage
			if start >= pg.TotalResults {
				break
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), records, nil
}

// get fetches one page, waiting for the rate limit and retrying the
// answers NVD gives when it is overloaded or the limit was exceeded.
func (o *APIOptions) get(ctx context.Context, lim *limiter, w [2]time.Time, start int) ([]byte, error) {
	q := url.Values{}
	q.Set("lastModStartDate", apiTime(w[0]))
	q.Set("lastModEndDate", apiTime(w[1]))
	q.Set("startIndex", fmt.Sprint(start))
	q.Set("resultsPerPage", fmt.Sprint(apiPageSize))
	u := o.URL + "?" + q.Encode()
	backoff := ratePeriod / 5
	for attempt := 0; ; attempt++ {
		if err := lim.wait(ctx); err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		if o.Key != "" {
			req.Header.Set("apiKey", o.Key)
		}
		if o.UserAgent != "" {
			req.Header.Set("User-Agent", o.UserAgent)
		}
		resp, err := o.Client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, fmt.Errorf("api: GET startIndex=%d: %w", start, err)
		}
		if resp.StatusCode == http.StatusOK {
			body, err := io.ReadAll(io.LimitReader(resp.Body, apiMaxPageBytes+1))
			resp.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("api: GET startIndex=%d: body: %w", start, err)
			}
			if len(body) > apiMaxPageBytes {
				return nil, fmt.Errorf("api: GET startIndex=%d: page larger than %d bytes", start, apiMaxPageBytes)
			}
			return body, nil
		}
		resp.Body.Close()
		retry := resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if !retry || attempt == apiRetries {
			msg := resp.Status
			if m := resp.Header.Get("message"); m != "" { // NVD explains errors in this header
				msg += ": " + truncate(m, 200)
			}
			return nil, fmt.Errorf("api: GET startIndex=%d: %s", start, msg)
		}
		if err := o.sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// fetchWithAPI is Fetch with the API path: the feeds as Fetch gets them,
// plus the API pages of what changed since the 2.0 modified feed was
// generated. It is Unchanged only when no .meta changed and the API
// returned the same records as last time.
func (u *Updater) fetchWithAPI(ctx context.Context, src feed.Source, prev feed.State, use []format, metas []string) (feed.Snapshot, error) {
	o := u.api
	ms, err := fetchMetas(ctx, src, prev, metas)
	if err != nil {
		return feed.Snapshot{}, err
	}
	if ms.Close != nil {
		defer ms.Close()
	}
	from, err := anchor(ctx, src)
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("nvd: api: %w", err)
	}
	from = from.Add(-apiMargin)
	dir, err := os.MkdirTemp("", "stowaway-nvd-api-")
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("nvd: api: %w", err)
	}
	rmDir := func() error { return os.RemoveAll(dir) }
	digest, _, err := o.fetchAPI(ctx, dir, from, o.now().UTC())
	if err != nil {
		_ = rmDir()
		return feed.Snapshot{}, fmt.Errorf("nvd: api: %w", err)
	}
	apiState := feed.Validator{LastModified: from.Format(time.RFC3339), SHA256: digest, FetchedAt: o.now().UTC()}
	if ms.Unchanged && prev[apiStateKey].SHA256 == digest {
		_ = rmDir()
		st := feed.State{}
		for k, v := range prev {
			st[k] = v
		}
		st[apiStateKey] = apiState
		return feed.Snapshot{State: st, Unchanged: true}, nil
	}
	paths := u.feedPaths(use, ms.State)
	snap, err := feed.FetchFiles(ctx, src, paths, nil, nil)
	if err != nil {
		_ = rmDir()
		return feed.Snapshot{}, fmt.Errorf("nvd: %w", err)
	}
	snap.State[apiStateKey] = apiState
	feedsClose := snap.Close
	snap.FS = overlayFS{base: snap.FS, dir: apiDir, sub: os.DirFS(filepath.Join(dir, apiDir))}
	snap.Close = func() error { return errors.Join(feedsClose(), rmDir()) }
	return snap, nil
}

// overlayFS is base with the directory dir served from sub.
type overlayFS struct {
	base fs.FS
	dir  string
	sub  fs.FS
}

func (o overlayFS) route(name string) (fs.FS, string) {
	if name == o.dir {
		return o.sub, "."
	}
	if rest, ok := strings.CutPrefix(name, o.dir+"/"); ok {
		return o.sub, rest
	}
	return o.base, name
}

// Open implements fs.FS.
func (o overlayFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, n := o.route(name)
	return f.Open(n)
}

// ReadDir implements fs.ReadDirFS.
func (o overlayFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	f, n := o.route(name)
	return fs.ReadDir(f, n)
}
