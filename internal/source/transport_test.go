package source

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTimeoutsDefaults(t *testing.T) {
	def := DefaultTimeouts()
	tests := []struct {
		name string
		in   Timeouts
		want Timeouts
	}{
		{"zero takes the defaults", Timeouts{}, def},
		{"set fields are kept", Timeouts{ResponseHeader: time.Second}, Timeouts{Dial: def.Dial, TLSHandshake: def.TLSHandshake, ResponseHeader: time.Second}},
		{"negative means no bound", Timeouts{Dial: -1, TLSHandshake: -1, ResponseHeader: -1}, Timeouts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.withDefaults()); diff != "" {
				t.Errorf("withDefaults (-want +got):\n%s", diff)
			}
			tr := NewTransport(tt.in)
			want := tt.want
			if tr.TLSHandshakeTimeout != want.TLSHandshake || tr.ResponseHeaderTimeout != want.ResponseHeader {
				t.Errorf("transport: TLS %s, headers %s; want %s, %s", tr.TLSHandshakeTimeout, tr.ResponseHeaderTimeout, want.TLSHandshake, want.ResponseHeader)
			}
			if tr.DialContext == nil {
				t.Error("no bounded dialer")
			}
			if tr.Proxy == nil || reflect.ValueOf(tr.Proxy).Pointer() != reflect.ValueOf(http.ProxyFromEnvironment).Pointer() {
				t.Error("the transport does not take the proxy from the environment")
			}
		})
	}
}

// hungListener accepts connections and never writes to them.
func hungListener(t *testing.T) string {
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

// TestHungRegistryEndsWithoutDeadline resolves a registry image from
// servers that never answer, with no context deadline: the transport's own
// bounds end each request. go-containerregistry's retries still apply (it
// retries TLS handshake timeouts, three tries 1s and 3s apart, not
// response-header timeouts).
func TestHungRegistryEndsWithoutDeadline(t *testing.T) {
	const bound = 300 * time.Millisecond
	tests := []struct {
		name string
		// start returns the registry host and the transport to reach it.
		start func(t *testing.T) (string, http.RoundTripper)
		want  string
	}{
		{
			// TLS completes, then no response headers ever come: only
			// ResponseHeader is short, so it alone ends the request.
			name: "response headers never come",
			start: func(t *testing.T) (string, http.RoundTripper) {
				release := make(chan struct{})
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}))
				// go-containerregistry also tries plain http: quiet the
				// server's log of that.
				srv.Config.ErrorLog = log.New(io.Discard, "", 0)
				srv.StartTLS()
				t.Cleanup(func() { close(release); srv.Close() })
				tr := NewTransport(Timeouts{ResponseHeader: bound})
				tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
				return strings.TrimPrefix(srv.URL, "https://"), tr
			},
			want: "timeout awaiting response headers",
		},
		{
			// A listener that accepts and stays silent: the https attempt
			// waits for a TLS handshake, the http one for headers.
			name: "silent listener",
			start: func(t *testing.T) (string, http.RoundTripper) {
				return hungListener(t), NewTransport(Timeouts{TLSHandshake: bound, ResponseHeader: bound})
			},
			want: "timeout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, tr := tt.start(t)
			start := time.Now()
			_, err := Resolve(context.Background(), host+"/x:1", Options{HTTP: tr})
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Resolve = %v, want an error containing %q", err, tt.want)
			}
			// At most three tries of the bound plus 1s and 3s of backoff,
			// with slack for a loaded machine; nothing close to a hang.
			if took < bound || took > 20*time.Second {
				t.Errorf("Resolve failed after %s, want between %s and about 3×%s+4s", took, bound, bound)
			}
			t.Logf("failed after %s: %v", took.Round(time.Millisecond), err)
		})
	}
}
