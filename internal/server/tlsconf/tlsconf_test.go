package tlsconf_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf"
	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf/tlstest"
)

// serve serves a handler that reports the protocol on a TLS listener with
// cfg and returns its address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
	})}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func get(t *testing.T, addr string, cfg *tls.Config) (*http.Response, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// TestRotationHTTP2AndMinVersion: a certificate rotated in place is served
// to the next connection without a restart; clients get HTTP/2; TLS 1.1 is
// refused.
func TestRotationHTTP2AndMinVersion(t *testing.T) {
	p := tlstest.New(t, t.TempDir(), "registry.test")
	cfg, err := tlsconf.Server(p.CertFile, p.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, cfg)
	serial := func() int64 {
		t.Helper()
		resp, err := get(t, addr, p.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 || resp.Header.Get("X-Proto") != "HTTP/2.0" {
			t.Errorf("protocol %s (server saw %q), want HTTP/2", resp.Proto, resp.Header.Get("X-Proto"))
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 2 {
		t.Fatalf("serial %d, want 2", s)
	}
	p.Issue(t, "registry.test", 3)
	if s := serial(); s != 3 {
		t.Errorf("after rotation serial %d, want 3", s)
	}
	old := p.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if _, err := get(t, addr, old); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
}

// TestClientCA: with a client CA, a client without a certificate, or with
// one another CA signed, is refused; one the CA signed is served.
func TestClientCA(t *testing.T) {
	p := tlstest.New(t, t.TempDir(), "registry.test")
	other := tlstest.New(t, t.TempDir(), "registry.test")
	cfg, err := tlsconf.Server(p.CertFile, p.KeyFile, p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Errorf("ClientAuth %v, want RequireAndVerifyClientCert", cfg.ClientAuth)
	}
	addr := serve(t, cfg)
	if _, err := get(t, addr, p.ClientConfig()); err == nil {
		t.Error("a client without a certificate was served")
	}
	if _, err := get(t, addr, p.ClientConfig(other.ClientCert(t, "intruder"))); err == nil {
		t.Error("a client with another CA's certificate was served")
	}
	if _, err := get(t, addr, p.ClientConfig(p.ClientCert(t, "apiserver"))); err != nil {
		t.Errorf("a client with the CA's certificate: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	p := tlstest.New(t, t.TempDir(), "registry.test")
	for name, args := range map[string][3]string{
		"missing key":       {p.CertFile, filepath.Join(t.TempDir(), "nope"), ""},
		"key is a cert":     {p.CertFile, p.CertFile, ""},
		"missing client CA": {p.CertFile, p.KeyFile, p.CertFile + ".missing"},
		"client CA not PEM": {p.CertFile, p.KeyFile, p.KeyFile},
	} {
		if _, err := tlsconf.Server(args[0], args[1], args[2]); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
