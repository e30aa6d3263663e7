package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// HTTPDoer is the part of *http.Client that HTTP uses.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// HTTP is a feed.Source over HTTP(S): the real upstream, or a mirror URL.
type HTTP struct {
	base   string
	opts   Options
	client HTTPDoer
}

// NewHTTP returns a source that reads <base>/<path>.
func NewHTTP(base string, opts Options) *HTTP {
	opts = opts.withDefaults()
	client := opts.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = opts.HeaderTimeout
		client = &http.Client{Transport: tr}
	}
	return &HTTP{base: strings.TrimRight(base, "/"), opts: opts, client: client}
}

// Base is the URL that paths are relative to.
func (h *HTTP) Base() string { return h.base }

// List is not possible over plain HTTP.
func (h *HTTP) List(ctx context.Context, dir string) ([]string, error) {
	return nil, fmt.Errorf("source: list %s over HTTP: %w", dir, errors.ErrUnsupported)
}

// Get fetches base/p. With a non-zero prev it is a conditional GET, and a
// 304 answer is feed.ErrNotModified. 404 and 410 are fs.ErrNotExist.
// Network errors, 429 and 5xx are retried with backoff until Options.Retries
// is spent. The returned body fails with ErrTooLarge past MaxFileSize.
func (h *HTTP) Get(ctx context.Context, p string, prev feed.Validator) (io.ReadCloser, feed.Validator, error) {
	clean, err := cleanPath(p)
	if err != nil {
		return nil, feed.Validator{}, err
	}
	u := h.base + "/" + escapePath(clean)
	ctx, cancel := context.WithTimeout(ctx, h.opts.FileTimeout)
	fail := func(err error) (io.ReadCloser, feed.Validator, error) {
		cancel()
		return nil, feed.Validator{}, err
	}
	for attempt := 0; ; attempt++ {
		resp, err := h.do(ctx, u, prev)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fail(fmt.Errorf("source: get %s: %w", u, context.Cause(ctx)))
			}
			err = fmt.Errorf("source: get %s: %w", u, err)
		case resp.StatusCode == http.StatusOK:
			if resp.ContentLength > h.opts.MaxFileSize {
				resp.Body.Close()
				return fail(fmt.Errorf("source: get %s: %w: Content-Length %d > %d bytes", u, ErrTooLarge, resp.ContentLength, h.opts.MaxFileSize))
			}
			v := feed.Validator{
				ETag:         resp.Header.Get("ETag"),
				LastModified: resp.Header.Get("Last-Modified"),
				FetchedAt:    time.Now().UTC(),
			}
			return &limitedBody{rc: resp.Body, r: io.LimitReader(resp.Body, h.opts.MaxFileSize+1), max: h.opts.MaxFileSize, name: u, cancel: cancel}, v, nil
		case resp.StatusCode == http.StatusNotModified:
			resp.Body.Close()
			if prev.ETag == "" && prev.LastModified == "" {
				return fail(fmt.Errorf("source: get %s: 304 Not Modified to an unconditional request", u))
			}
			cancel()
			return nil, feed.Validator{}, feed.ErrNotModified
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
			resp.Body.Close()
			return fail(fmt.Errorf("source: get %s: %s: %w", u, resp.Status, fs.ErrNotExist))
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			wait = retryAfter(resp.Header.Get("Retry-After"), time.Now())
			drain(resp.Body)
			err = fmt.Errorf("source: get %s: %s", u, resp.Status)
		default:
			drain(resp.Body)
			return fail(fmt.Errorf("source: get %s: unexpected status %s", u, resp.Status))
		}
		if attempt >= h.opts.Retries {
			return fail(fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1))
		}
		if wait <= 0 || wait > h.opts.MaxBackoff {
			wait = h.backoff(attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(fmt.Errorf("source: get %s: %w (while waiting to retry after: %v)", u, context.Cause(ctx), err))
		case <-t.C:
		}
	}
}

func (h *HTTP) do(ctx context.Context, u string, prev feed.Validator) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", h.opts.UserAgent)
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	return h.client.Do(req)
}

// backoff is Backoff·2^attempt capped at MaxBackoff, with ±25% jitter.
func (h *HTTP) backoff(attempt int) time.Duration {
	d := h.opts.Backoff
	for i := 0; i < attempt && d < h.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, h.opts.MaxBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return 0
}

func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	rc.Close()
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// cleanPath accepts only slash-separated relative paths that stay below the root.
func cleanPath(p string) (string, error) {
	clean := path.Clean(p)
	if clean == "." || !fs.ValidPath(clean) {
		return "", fmt.Errorf("source: invalid path %q: %w", p, fs.ErrInvalid)
	}
	return clean, nil
}

// limitedBody fails with ErrTooLarge once more than max bytes were read.
type limitedBody struct {
	rc     io.ReadCloser
	r      io.Reader
	n, max int64
	name   string
	cancel context.CancelFunc
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return n, fmt.Errorf("source: read %s: %w (%d bytes)", b.name, ErrTooLarge, b.max)
	}
	return n, err
}

func (b *limitedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
