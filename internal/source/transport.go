package source

import (
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Timeouts bound the phases of one HTTP request to a registry before its
// body: a registry that accepts the connection and never answers fails the
// request instead of hanging it. A zero field takes its default, a negative
// one means no bound. Body reads are bounded by the request's context only
// (the command's --timeout): a layer may rightly take minutes.
type Timeouts struct {
	// Dial bounds the TCP connect, proxy included (default 30s: Go's and
	// go-containerregistry's value; it spans the kernel's first SYN
	// retransmissions on a lossy link).
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake (default 10s: net/http's and
	// go-containerregistry's value; a handshake is two round trips, so 10s
	// covers a satellite link many times over).
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for the response headers once the
	// request is written (default 30s). Registries answer a manifest or
	// blob GET at once (a blob GET usually with a redirect); 30s leaves a
	// loaded registry or a cold CDN a hundred times its usual latency.
	ResponseHeader time.Duration
}

// DefaultTimeouts are the bounds of registry sources.
func DefaultTimeouts() Timeouts {
	return Timeouts{Dial: 30 * time.Second, TLSHandshake: 10 * time.Second, ResponseHeader: 30 * time.Second}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	pick := func(v, def time.Duration) time.Duration {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0 // net/http: no bound
		}
		return v
	}
	return Timeouts{
		Dial:           pick(t.Dial, d.Dial),
		TLSHandshake:   pick(t.TLSHandshake, d.TLSHandshake),
		ResponseHeader: pick(t.ResponseHeader, d.ResponseHeader),
	}
}

// NewTransport is the HTTP transport of registry sources:
// go-containerregistry's remote.DefaultTransport (proxy from
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY, keep-alives, HTTP/2) with the phases of t
// bounded. go-containerregistry still wraps it with its authentication and
// retry layers: it retries what it deems temporary (a TLS handshake
// timeout, a reset: three tries, 1s and 3s apart) but not a response-header
// timeout, which Go reports as a deadline. So a registry that accepts
// connections and never answers fails a request after ResponseHeader (30s)
// once TLS is up, or after about 3×TLSHandshake+4s (34s) when it does not
// even complete the handshake.
func NewTransport(t Timeouts) *http.Transport {
	t = t.withDefaults()
	var tr *http.Transport
	if dt, ok := remote.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.Proxy = http.ProxyFromEnvironment
	tr.DialContext = (&net.Dialer{Timeout: t.Dial, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = t.TLSHandshake
	tr.ResponseHeaderTimeout = t.ResponseHeader
	return tr
}

// httpTransport is the base transport registry() gives go-containerregistry.
func (o Options) httpTransport() http.RoundTripper {
	if o.HTTP != nil {
		return o.HTTP
	}
	return NewTransport(o.Timeouts)
}
