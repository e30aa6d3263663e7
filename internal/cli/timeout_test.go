package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// emptyDB builds a vulnerability DB with no sources: enough for a command
// to get as far as the registry.
func emptyDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := vulndb.Update(context.Background(), dir, []feed.Updater{}, nil, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// silentRegistry accepts TCP connections and never writes a byte.
func silentRegistry(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestTimeoutOnHungRegistry runs the commands that read a registry against
// one that accepts TCP and never answers: each exits 2 right after its
// --timeout, saying what it waited for.
func TestTimeoutOnHungRegistry(t *testing.T) {
	host := silentRegistry(t)
	db := emptyDB(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	const timeout = 3 * time.Second
	tests := []struct {
		name string
		args []string
	}{
		{"scan", []string{"scan", host + "/x:1", "--timeout", "3s", "--db", db}},
		{"sbom", []string{"sbom", host + "/x:1", "--timeout", "3s"}},
		{"db pull", []string{"db", "pull", host + "/x:1", "--timeout", "3s", "--db", t.TempDir()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := runCLI(t, tt.args...)
			took := time.Since(start)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			want := fmt.Sprintf("timed out after 3s (--timeout); the registry at %s did not answer GET /v2/", host)
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, want)
			}
			if took < timeout || took > timeout+5*time.Second {
				t.Errorf("exited after %s, want within a few seconds of its %s timeout", took, timeout)
			}
			t.Logf("exit %d after %s: %s", code, took.Round(time.Millisecond), strings.TrimSpace(stderr))
		})
	}
}

// TestTimeoutWhileDownloading: a registry that answers, then stalls in the
// middle of a layer; the deadline names the download.
func TestTimeoutWhileDownloading(t *testing.T) {
	img := fixtureAlpine(t)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ld, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(blob) < 200 {
		t.Fatalf("layer of %d bytes, %v: want at least 200 bytes", len(blob), err)
	}
	reg := ggcrregistry.New()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) {
			// The headers and the first 100 bytes, then nothing.
			w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
			w.WriteHeader(http.StatusOK)
			w.Write(blob[:100])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	host := strings.TrimPrefix(srv.URL, "http://")
	tag, err := name.NewTag(host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	code, _, stderr := runCLI(t, "scan", tag.String(), "--timeout", "3s", "--db", emptyDB(t))
	want := fmt.Sprintf("timed out after 3s (--timeout); the download of GET /v2/app/blobs/%s from the registry at %s was still running (100 bytes read)", ld, host)
	if code != ExitError || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, ExitError, want)
	}
}

func TestExplainTimeout(t *testing.T) {
	base := errors.New("source: registry x: context deadline exceeded")
	expired, cancel := withDeadline(context.Background(), time.Nanosecond, "--timeout")
	defer cancel()
	<-expired.Done()
	live, cancel2 := withDeadline(context.Background(), time.Hour, "--timeout")
	defer cancel2()
	w := newNetWatch(nil)
	w.note("the registry at h did not answer GET /v2/")
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		w    *netWatch
		want string
	}{
		{"no error", expired, nil, nil, ""},
		{"deadline not reached", live, base, w, base.Error()},
		{"expired, no request cut short", expired, base, nil, "timed out after 1ns (--timeout): " + base.Error()},
		{"expired while waiting for a registry", expired, base, w, "timed out after 1ns (--timeout); the registry at h did not answer GET /v2/"},
	}
	for _, tt := range tests {
		got := explainTimeout(tt.ctx, tt.err, tt.w)
		if (got == nil) != (tt.want == "") || (got != nil && got.Error() != tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, got, tt.want)
		}
		if got != nil && !errors.Is(got, tt.err) {
			t.Errorf("%s: the cause is lost", tt.name)
		}
	}
}
