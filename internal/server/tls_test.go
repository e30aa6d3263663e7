package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf/tlstest"
)

// tlsTransport trusts the test CA only and dials registry.test:PORT at
// 127.0.0.1, so go-containerregistry sees a non-loopback registry name and
// never falls back to plain HTTP.
func tlsTransport(p *tlstest.PKI) *http.Transport {
	return &http.Transport{
		TLSClientConfig:   p.ClientConfig(),
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
	}
}

// TestTLSCranePushPullAndRotation: with --tls-cert/--tls-key the main
// listener speaks TLS 1.2+ with HTTP/2; go-containerregistry (crane's
// library) pushes and pulls trusting only the test CA, no insecure option;
// a certificate rotated in place reaches the next connection without a
// restart.
func TestTLSCranePushPullAndRotation(t *testing.T) {
	p := tlstest.New(t, t.TempDir(), "registry.test")
	ts := startServer(t, func(c *Config) { c.TLSCertFile, c.TLSKeyFile = p.CertFile, p.KeyFile })
	_, port, _ := net.SplitHostPort(ts.host)
	host := "registry.test:" + port

	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	tr := tlsTransport(p)
	defer tr.CloseIdleConnections()
	if err := remote.Write(ref, img, remote.WithAuth(ciAuth), remote.WithTransport(tr)); err != nil {
		t.Fatalf("push over TLS: %v", err)
	}
	got, err := remote.Image(ref, remote.WithAuth(ciAuth), remote.WithTransport(tr))
	if err != nil {
		t.Fatalf("pull over TLS: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Errorf("pulled %s, pushed %s", d, want)
	}

	probe := func() (serial int64, proto string) {
		t.Helper()
		tr := tlsTransport(p)
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + host + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), resp.Proto
	}
	if s, proto := probe(); s != 2 || proto != "HTTP/2.0" {
		t.Errorf("serial %d over %s, want 2 over HTTP/2.0", s, proto)
	}
	p.Issue(t, "registry.test", 3)
	if s, _ := probe(); s != 3 {
		t.Errorf("after rotation: serial %d, want 3", s)
	}
	// Plain HTTP on the TLS listener is not served.
	resp, err := http.Get("http://" + ts.host + "/v2/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("plain HTTP on the TLS listener: %s", resp.Status)
		}
	}
}

// TestTLSSkopeo: skopeo pushes to and pulls from the TLS listener trusting
// the test CA through --dest-cert-dir/--src-cert-dir (ca.crt), with TLS
// verification on.
func TestTLSSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (apt-get install -y skopeo); skipping the skopeo-over-TLS test")
	}
	certDir := t.TempDir()
	p := tlstest.New(t, certDir, "registry.test")
	ts := startServer(t, func(c *Config) { c.TLSCertFile, c.TLSKeyFile = p.CertFile, p.KeyFile })
	// The CA alone in its own directory: skopeo reads every *.crt there
	// as a CA and every *.cert/*.key pair as a client certificate.
	caDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(caDir, "ca.crt"), p.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := layout.Write(filepath.Join(t.TempDir(), "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(skopeo, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
		return cmd.CombinedOutput()
	}
	dest := "docker://" + ts.host + "/app:1"
	// Without the CA the push fails verification.
	if out, err := run("copy", "--dest-creds", "ci:ci-pass", "oci:"+string(lp), dest); err == nil {
		t.Fatalf("push without trusting the CA succeeded:\n%s", out)
	} else if !strings.Contains(string(out), "certificate") {
		t.Errorf("push without the CA failed for another reason:\n%s", out)
	}
	if out, err := run("copy", "--dest-cert-dir", caDir, "--dest-creds", "ci:ci-pass", "oci:"+string(lp), dest); err != nil {
		t.Fatalf("skopeo push over TLS: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if out, err := run("copy", "--src-cert-dir", caDir, "--src-creds", "ci:ci-pass", dest, "dir:"+dir); err != nil {
		t.Fatalf("skopeo pull over TLS: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	d, err := ts.store.ResolveTag(t.Context(), "app", "1")
	if err != nil {
		t.Fatalf("push not recorded: %v", err)
	}
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != d {
		t.Errorf("pulled manifest %s, registry has %s", got, d)
	}
}
