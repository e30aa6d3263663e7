package source

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

func fastOpts() Options {
	return Options{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Retries: 2, MaxFileSize: 1 << 20}
}

// server is a scripted upstream: each path answers with the next step of its script.
type step struct {
	status int
	body   string
	header map[string]string
	delay  time.Duration
}

func scripted(t *testing.T, script map[string][]step) (*httptest.Server, *atomic.Int64, func() []http.Header) {
	t.Helper()
	var calls atomic.Int64
	var headers []http.Header
	var mu sync.Mutex
	idx := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		steps := script[r.URL.Path]
		if len(steps) == 0 {
			mu.Unlock()
			http.NotFound(w, r)
			return
		}
		i := min(idx[r.URL.Path], len(steps)-1)
		idx[r.URL.Path]++
		s := steps[i]
		mu.Unlock()
		if s.delay > 0 {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range s.header {
			w.Header().Set(k, v)
		}
		if s.status == 0 {
			s.status = http.StatusOK
		}
		w.WriteHeader(s.status)
		_, _ = io.WriteString(w, s.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, func() []http.Header {
		mu.Lock()
		defer mu.Unlock()
		return append([]http.Header(nil), headers...)
	}
}

func TestHTTPGet(t *testing.T) {
	big := strings.Repeat("x", 2048)
	tests := []struct {
		name      string
		script    []step
		prev      feed.Validator
		opts      func(*Options)
		wantBody  string
		wantV     feed.Validator
		wantErr   error
		wantErrIn string
		wantCalls int64
	}{
		{
			name:      "200 with validators",
			script:    []step{{body: "hello", header: map[string]string{"ETag": `"v1"`, "Last-Modified": "Mon, 02 Jan 2006 15:04:05 GMT"}}},
			wantBody:  "hello",
			wantV:     feed.Validator{ETag: `"v1"`, LastModified: "Mon, 02 Jan 2006 15:04:05 GMT"},
			wantCalls: 1,
		},
		{
			name:      "304 is ErrNotModified",
			script:    []step{{status: http.StatusNotModified}},
			prev:      feed.Validator{ETag: `"v1"`},
			wantErr:   feed.ErrNotModified,
			wantCalls: 1,
		},
		{
			name:      "304 to an unconditional request is an error",
			script:    []step{{status: http.StatusNotModified}},
			wantErrIn: "unconditional",
			wantCalls: 1,
		},
		{
			name:      "404 is fs.ErrNotExist, not retried",
			script:    []step{{status: http.StatusNotFound}},
			wantErr:   fs.ErrNotExist,
			wantCalls: 1,
		},
		{
			name:      "410 is fs.ErrNotExist",
			script:    []step{{status: http.StatusGone}},
			wantErr:   fs.ErrNotExist,
			wantCalls: 1,
		},
		{
			name:      "403 is an error, not retried",
			script:    []step{{status: http.StatusForbidden}},
			wantErrIn: "unexpected status 403",
			wantCalls: 1,
		},
		{
			name:      "5xx then 200 is retried",
			script:    []step{{status: 502}, {status: 503, header: map[string]string{"Retry-After": "0"}}, {body: "ok"}},
			wantBody:  "ok",
			wantCalls: 3,
		},
		{
			name:      "429 is retried",
			script:    []step{{status: http.StatusTooManyRequests}, {body: "ok"}},
			wantBody:  "ok",
			wantCalls: 2,
		},
		{
			name:      "persistent 500 gives up after Retries+1 attempts",
			script:    []step{{status: 500}},
			wantErrIn: "gave up after 3 attempts",
			wantCalls: 3,
		},
		{
			name:      "header timeout is retried then fails",
			script:    []step{{delay: time.Second}},
			opts:      func(o *Options) { o.Client = &http.Client{Timeout: 50 * time.Millisecond}; o.Retries = 1 },
			wantErrIn: "gave up after 2 attempts",
			wantCalls: 2,
		},
		{
			name:      "Content-Length over the cap",
			script:    []step{{body: big, header: map[string]string{"Content-Length": "2048"}}},
			opts:      func(o *Options) { o.MaxFileSize = 1024 },
			wantErr:   ErrTooLarge,
			wantCalls: 1,
		},
		{
			name:   "file timeout bounds retries",
			script: []step{{status: 500}},
			opts: func(o *Options) {
				o.Retries = 100
				o.Backoff = 40 * time.Millisecond
				o.MaxBackoff = 40 * time.Millisecond
				o.FileTimeout = 100 * time.Millisecond
			},
			wantErr:   context.DeadlineExceeded,
			wantCalls: -1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls, headers := scripted(t, map[string][]step{"/feed/a b.json": tc.script})
			o := fastOpts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			h := NewHTTP(srv.URL+"/feed/", o)
			rc, v, err := h.Get(context.Background(), "a b.json", tc.prev)
			var body string
			if err == nil {
				b, rerr := io.ReadAll(rc)
				rc.Close()
				if rerr != nil {
					t.Fatalf("read body: %v", rerr)
				}
				body = string(b)
			}
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case tc.wantErrIn != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErrIn) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErrIn)
				}
			case err != nil:
				t.Fatalf("Get: %v", err)
			default:
				if v.FetchedAt.IsZero() {
					t.Error("FetchedAt not set")
				}
				v.FetchedAt = time.Time{}
				if diff := cmp.Diff(tc.wantV, v); diff != "" {
					t.Errorf("validator (-want +got):\n%s", diff)
				}
				if body != tc.wantBody {
					t.Errorf("body = %q, want %q", body, tc.wantBody)
				}
			}
			if tc.wantCalls >= 0 && calls.Load() != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls.Load(), tc.wantCalls)
			}
			for _, hd := range headers() {
				if got := hd.Get("User-Agent"); got != DefaultUserAgent {
					t.Errorf("User-Agent = %q", got)
				}
				if got := hd.Get("If-None-Match"); got != tc.prev.ETag {
					t.Errorf("If-None-Match = %q, want %q", got, tc.prev.ETag)
				}
			}
		})
	}
}

func TestHTTPConditionalRoundTrip(t *testing.T) {
	const etag, lm = `"abc"`, "Tue, 03 Jan 2006 15:04:05 GMT"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lm {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lm)
		_, _ = io.WriteString(w, "data")
	}))
	defer srv.Close()
	h := NewHTTP(srv.URL, fastOpts())
	ctx := context.Background()
	rc, v, err := h.Get(ctx, "x.json", feed.Validator{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, err := h.Get(ctx, "x.json", v); !errors.Is(err, feed.ErrNotModified) {
		t.Fatalf("second Get with ETag: %v, want ErrNotModified", err)
	}
	if _, _, err := h.Get(ctx, "x.json", feed.Validator{LastModified: lm}); !errors.Is(err, feed.ErrNotModified) {
		t.Fatalf("Get with Last-Modified only: %v, want ErrNotModified", err)
	}
}

func TestHTTPBodyCap(t *testing.T) {
	// No Content-Length (chunked): the cap applies while reading.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 8 {
			_, _ = io.WriteString(w, strings.Repeat("y", 512))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	o := fastOpts()
	o.MaxFileSize = 1000
	rc, _, err := NewHTTP(srv.URL, o).Get(context.Background(), "big", feed.Validator{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.ReadAll(rc)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "/big") {
		t.Fatalf("read err = %v, want ErrTooLarge naming the file", err)
	}
}

func TestHTTPContextCanceled(t *testing.T) {
	srv, _, _ := scripted(t, map[string][]step{"/x": {{status: 503}}})
	o := fastOpts()
	o.Retries = 50
	o.Backoff, o.MaxBackoff = time.Second, time.Second
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	_, _, err := NewHTTP(srv.URL, o).Get(ctx, "x", feed.Validator{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Errorf("Get did not return promptly after cancel")
	}
}

func TestInvalidPaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"../etc/passwd", "/abs", "", "a/../../b"} {
		for _, s := range []feed.Source{NewHTTP("http://127.0.0.1:1", fastOpts()), NewDir(dir, fastOpts())} {
			if _, _, err := s.Get(context.Background(), p, feed.Validator{}); err == nil {
				t.Errorf("%T.Get(%q): no error", s, p)
			}
		}
	}
	if _, err := NewHTTP("http://x", fastOpts()).List(context.Background(), "."); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("HTTP List err = %v, want ErrUnsupported", err)
	}
}

func writeFile(t *testing.T, name, data string, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDirGet(t *testing.T) {
	root := t.TempDir()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	writeFile(t, filepath.Join(root, "v3.19", "main.json"), "one", t0)
	d := NewDir(root, fastOpts())
	ctx := context.Background()

	rc, v1, err := d.Get(ctx, "v3.19/main.json", feed.Validator{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); got != "one" {
		t.Fatalf("body = %q", got)
	}
	if v1.LastModified != "Thu, 02 Jan 2025 03:04:05 GMT" || v1.ETag == "" {
		t.Errorf("validator = %+v", v1)
	}
	// Same size and mtime: not modified without reading.
	if _, _, err := d.Get(ctx, "v3.19/main.json", v1); !errors.Is(err, feed.ErrNotModified) {
		t.Fatalf("unchanged file: %v", err)
	}
	// Touched, same content, known SHA-256: still not modified.
	writeFile(t, filepath.Join(root, "v3.19", "main.json"), "one", t0.Add(time.Hour))
	withSum := v1
	withSum.SHA256 = "7692c3ad3540bb803c020b3aee66cd8887123234ea0c6e7143c0add73ff431ed" // sha256("one")
	if _, _, err := d.Get(ctx, "v3.19/main.json", withSum); !errors.Is(err, feed.ErrNotModified) {
		t.Fatalf("touched identical file: %v", err)
	}
	// Changed content.
	writeFile(t, filepath.Join(root, "v3.19", "main.json"), "two!", t0.Add(2*time.Hour))
	rc, v2, err := d.Get(ctx, "v3.19/main.json", withSum)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); got != "two!" {
		t.Fatalf("body = %q", got)
	}
	if v2.ETag == v1.ETag {
		t.Error("ETag did not change with the file")
	}
	if _, _, err := d.Get(ctx, "v3.19/missing.json", feed.Validator{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want fs.ErrNotExist", err)
	}
	if _, _, err := d.Get(ctx, "v3.19", feed.Validator{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	// Too large.
	small := NewDir(root, Options{MaxFileSize: 2})
	if _, _, err := small.Get(ctx, "v3.19/main.json", feed.Validator{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	// A symlink out of the mirror is refused.
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "s", t0)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Get(ctx, "escape", feed.Validator{}); err == nil {
		t.Error("symlink escaping the mirror was followed")
	}
}

func TestDirList(t *testing.T) {
	root := t.TempDir()
	t0 := time.Now()
	writeFile(t, filepath.Join(root, "secdb", "v3.20", "main.json"), "{}", t0)
	writeFile(t, filepath.Join(root, "secdb", "v3.20", "community.json"), "{}", t0)
	writeFile(t, filepath.Join(root, "secdb", "v3.20", "sub", "x"), "{}", t0)
	if err := os.Symlink("main.json", filepath.Join(root, "secdb", "v3.20", "link.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(root, "secdb", "v3.20", "escape.json")); err != nil {
		t.Fatal(err)
	}
	d := NewDir(root, fastOpts())
	got, err := d.List(context.Background(), "secdb/v3.20")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"secdb/v3.20/community.json", "secdb/v3.20/link.json", "secdb/v3.20/main.json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	top, err := d.List(context.Background(), ".")
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 0 {
		t.Errorf("List(.) = %v, want no files", top)
	}
	if _, err := d.List(context.Background(), "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List(nope) = %v", err)
	}
}

type fakeUpdater struct{ upstream, mirror string }

func (u fakeUpdater) Name() string      { return "fake" }
func (u fakeUpdater) Upstream() string  { return u.upstream }
func (u fakeUpdater) MirrorDir() string { return u.mirror }
func (u fakeUpdater) Fetch(context.Context, feed.Source, feed.State) (feed.Snapshot, error) {
	return feed.Snapshot{}, errors.New("unused")
}
func (u fakeUpdater) Parse(context.Context, fs.FS, func(*advisory.Advisory) error) (feed.Stats, error) {
	return feed.Stats{}, errors.New("unused")
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	u := fakeUpdater{upstream: "https://secdb.alpinelinux.org", mirror: "alpine/secdb"}
	tests := []struct {
		mirror string
		want   string
	}{
		{"", "http https://secdb.alpinelinux.org"},
		{"https://mirror.example/feeds/", "http https://mirror.example/feeds/alpine/secdb"},
		{"http://10.0.0.1:8080", "http http://10.0.0.1:8080/alpine/secdb"},
		{dir, "dir " + filepath.Join(dir, "alpine", "secdb")},
		{"file://" + dir, "dir " + filepath.Join(dir, "alpine", "secdb")},
	}
	for _, tc := range tests {
		f, err := New(tc.mirror, Options{})
		if err != nil {
			t.Fatalf("New(%q): %v", tc.mirror, err)
		}
		var got string
		switch s := f(u).(type) {
		case *HTTP:
			got = "http " + s.Base()
		case *Dir:
			got = "dir " + s.Root()
		}
		if got != tc.want {
			t.Errorf("New(%q) = %q, want %q", tc.mirror, got, tc.want)
		}
	}
	if _, err := New(filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Error("New with a missing mirror directory: no error")
	}
}

// TestFetchFilesOverSources runs the shared FetchFiles helper against both
// kinds of source: a second run with the returned state is Unchanged.
func TestFetchFilesOverSources(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a.json"), `{"a":1}`, time.Now())
	writeFile(t, filepath.Join(root, "b", "c.json"), `{"c":1}`, time.Now())
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer srv.Close()
	for _, src := range []feed.Source{NewDir(root, fastOpts()), NewHTTP(srv.URL, fastOpts())} {
		ctx := context.Background()
		paths := []string{"a.json", "b/c.json"}
		snap, err := feed.FetchFiles(ctx, src, paths, nil, nil)
		if err != nil {
			t.Fatalf("%T: first fetch: %v", src, err)
		}
		if snap.Unchanged {
			t.Fatalf("%T: first fetch unchanged", src)
		}
		b, err := fs.ReadFile(snap.FS, "b/c.json")
		if err != nil || string(b) != `{"c":1}` {
			t.Fatalf("%T: fetched file = %q, %v", src, b, err)
		}
		snap.Close()
		again, err := feed.FetchFiles(ctx, src, paths, snap.State, nil)
		if err != nil {
			t.Fatalf("%T: second fetch: %v", src, err)
		}
		if !again.Unchanged {
			t.Errorf("%T: second fetch not Unchanged", src)
		}
	}
}
