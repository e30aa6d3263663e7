package cli

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPprofMux: the profiles are served on their own mux (heap as a
// gzipped protobuf, the index page), and nothing else is.
func TestPprofMux(t *testing.T) {
	srv := httptest.NewServer(pprofMux())
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		status int
		prefix string
	}{
		{"/debug/pprof/heap", http.StatusOK, "\x1f\x8b"},
		{"/debug/pprof/allocs", http.StatusOK, "\x1f\x8b"},
		{"/debug/pprof/", http.StatusOK, "<html>"},
		{"/v2/", http.StatusNotFound, ""},
		{"/metrics", http.StatusNotFound, ""},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(string(b), tc.prefix) {
			t.Errorf("GET %s = %d %.20q, want %d %q…", tc.path, resp.StatusCode, b, tc.status, tc.prefix)
		}
	}
}

func TestStartPprofBadAddr(t *testing.T) {
	if _, err := startPprof("256.0.0.1:bad", slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "--pprof-addr") {
		t.Errorf("startPprof(bad address) = %v, want an error naming --pprof-addr", err)
	}
	stop, err := startPprof("127.0.0.1:0", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
