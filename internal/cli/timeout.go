package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Default deadlines of whole commands (--timeout). A scan of a registry
// image reads a few hundred MB at most; peers default to 5 minutes too. A
// DB artifact can be larger and is moved less often, over slower links.
const (
	defaultScanTimeout = 5 * time.Minute
	defaultDBTimeout   = 30 * time.Minute
)

// deadlineError is the cause of a command context whose --timeout expired.
type deadlineError struct {
	flag string
	d    time.Duration
}

func (e *deadlineError) Error() string { return fmt.Sprintf("timed out after %s (%s)", e.d, e.flag) }

// withDeadline runs the rest of a command under d (0: no deadline); the
// context's cause names the flag when it expires.
func withDeadline(ctx context.Context, d time.Duration, flag string) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, &deadlineError{flag: flag, d: d})
}

func deadlineCause(ctx context.Context) (*deadlineError, bool) {
	var de *deadlineError
	ok := errors.As(context.Cause(ctx), &de)
	return de, ok
}

// timeoutError is what a command returns when its deadline cut it short:
// the deadline, then what the command was waiting for.
type timeoutError struct {
	msg string
	err error
}

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Unwrap() error { return e.err }

// explainTimeout rewrites err when ctx's deadline expired, naming the
// deadline and, from w (may be nil), the registry request it cut short;
// without one, the error itself says where the command was.
func explainTimeout(ctx context.Context, err error, w *netWatch) error {
	de, ok := deadlineCause(ctx)
	if err == nil || !ok {
		return err
	}
	if what := w.cutShort(); what != "" {
		return &timeoutError{msg: de.Error() + "; " + what, err: err}
	}
	return &timeoutError{msg: de.Error() + ": " + err.Error(), err: err}
}

// netWatch is the registry transport of a command: it remembers the first
// request that the command's deadline cut short, so that the timeout error
// can say what the command was waiting for.
type netWatch struct {
	base http.RoundTripper
	mu   sync.Mutex
	cut  string
}

func newNetWatch(base http.RoundTripper) *netWatch { return &netWatch{base: base} }

func (w *netWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(req)
	if err != nil {
		if _, ok := deadlineCause(req.Context()); ok {
			w.note(fmt.Sprintf("the registry at %s did not answer %s %s", req.URL.Host, req.Method, req.URL.Path))
		}
		return nil, err
	}
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, req: req}
	return resp, nil
}

func (w *netWatch) note(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut == "" {
		w.cut = s
	}
}

// cutShort describes the first request the deadline cut short, or "".
func (w *netWatch) cutShort() string {
	if w == nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cut
}

// watchedBody notes a body read that the deadline cut short.
type watchedBody struct {
	io.ReadCloser
	w   *netWatch
	req *http.Request
	n   int64
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		if _, ok := deadlineCause(b.req.Context()); ok {
			b.w.note(fmt.Sprintf("the download of %s %s from the registry at %s was still running (%s read)",
				b.req.Method, b.req.URL.Path, b.req.URL.Host, byteSize(b.n)))
		}
	}
	return n, err
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
