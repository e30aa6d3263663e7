// Package source implements feed.Source, the way updaters read upstream files:
//
//   - HTTP reads the real upstream (or a mirror served over HTTP). It does
//     conditional GETs (If-None-Match / If-Modified-Since, 304 is
//     feed.ErrNotModified), maps 404 and 410 to fs.ErrNotExist, retries
//     network errors, 429 and 5xx with exponential backoff (honouring a short
//     Retry-After), bounds each request with timeouts, sends a User-Agent and
//     caps the size of every file with a clear error.
//   - Dir reads a local mirror directory laid out like the upstream. Its
//     validator is size + mtime (in ETag and Last-Modified) backed by the
//     SHA-256 of the content, so a touched but identical file still counts as
//     not modified. Reads never leave the directory (os.Root), and List works.
//
// New picks one of them per updater from the value of `--mirror DIR|URL`:
// empty means upstream, an http(s) URL means HTTP against
// <URL>/<updater.MirrorDir()>, anything else (or a file:// URL) is a mirror
// directory <DIR>/<updater.MirrorDir()>.
package source

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// ErrTooLarge is returned (wrapped, naming the file) when a file exceeds
// Options.MaxFileSize.
var ErrTooLarge = errors.New("file exceeds the size limit")

// Defaults used when an Options field is zero.
const (
	DefaultMaxFileSize   = 1 << 30 // 1 GiB: the largest upstream feed file is a few hundred MB
	DefaultUserAgent     = "stowaway-vulndb (+https://github.com/stowaway-scanner/stowaway)"
	DefaultRetries       = 4
	DefaultBackoff       = 500 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultHeaderTimeout = 60 * time.Second
	DefaultFileTimeout   = 30 * time.Minute
)

// Options tune every source. Zero values pick the defaults above.
type Options struct {
	// MaxFileSize caps each file in bytes.
	MaxFileSize int64
	// UserAgent is sent with every HTTP request.
	UserAgent string
	// Retries is how many times a request is retried after a network error,
	// 429 or 5xx; a negative value disables retries.
	Retries int
	// Backoff is the first retry delay; it doubles up to MaxBackoff, with jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// HeaderTimeout bounds the wait for response headers of one attempt.
	HeaderTimeout time.Duration
	// FileTimeout bounds one whole file, retries and body included.
	FileTimeout time.Duration
	// Client replaces the HTTP client (tests, proxies). Its Transport is used
	// as is; HeaderTimeout then only applies when the client has no Transport.
	Client HTTPDoer
}

func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.FileTimeout <= 0 {
		o.FileTimeout = DefaultFileTimeout
	}
	return o
}

// New returns the function that gives each updater its source, chosen by the
// value of `--mirror`: "" reads upstream over HTTP, an http:// or https://
// URL reads <URL>/<MirrorDir> over HTTP, and anything else is a local mirror
// directory (<DIR>/<MirrorDir>), which must exist.
func New(mirror string, opts Options) (func(feed.Updater) feed.Source, error) {
	opts = opts.withDefaults()
	switch {
	case mirror == "":
		return func(u feed.Updater) feed.Source { return NewHTTP(u.Upstream(), opts) }, nil
	case strings.HasPrefix(mirror, "http://") || strings.HasPrefix(mirror, "https://"):
		if _, err := url.Parse(mirror); err != nil {
			return nil, fmt.Errorf("source: mirror URL: %w", err)
		}
		base := strings.TrimRight(mirror, "/")
		return func(u feed.Updater) feed.Source {
			return NewHTTP(base+"/"+strings.Trim(u.MirrorDir(), "/"), opts)
		}, nil
	default:
		dir := mirror
		if strings.HasPrefix(mirror, "file://") {
			u, err := url.Parse(mirror)
			if err != nil {
				return nil, fmt.Errorf("source: mirror URL: %w", err)
			}
			dir = u.Path
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("source: mirror directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("source: mirror %s is not a directory", dir)
		}
		return func(u feed.Updater) feed.Source {
			return NewDir(filepath.Join(dir, filepath.FromSlash(u.MirrorDir())), opts)
		}, nil
	}
}
