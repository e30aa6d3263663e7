package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/admission"
	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf/tlstest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns
// the cert and key paths and a pool trusting it.
func selfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stowaway"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return cert, keyFile, pool
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAdmissionEndToEnd pushes an image, lets the server scan it on push,
// and asks the admission listener (real TLS) about a Pod running it, by
// tag and by digest, before and after the scan.
func TestAdmissionEndToEnd(t *testing.T) {
	cert, key, pool := selfSigned(t)
	addr := freeAddr(t)
	ts := startServer(t, func(c *Config) {
		c.PublicHost = "registry.test"
		c.Admission = &AdmissionConfig{Addr: addr, CertFile: cert, KeyFile: key,
			Policy: admission.Config{AllowedRegistries: []string{"registry.test"}}}
	})
	code, body := ts.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "BASIC",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}}}},
	}, nil)
	if code != 200 {
		t.Fatalf("PutRegistryScanningConfiguration: %d %s", code, body)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	ask := func(image string) *admission.Response {
		t.Helper()
		obj, _ := json.Marshal(map[string]any{"kind": "Pod", "apiVersion": "v1", "metadata": map[string]any{"name": "api", "namespace": "prod"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "api", "image": image}}}})
		rv, _ := json.Marshal(admission.Review{APIVersion: admission.APIVersion, Kind: "AdmissionReview", Request: &admission.Request{
			UID: "u-1", Kind: admission.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: admission.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name: "api", Namespace: "prod", Operation: "CREATE", Object: obj}})
		resp, err := client.Post("https://"+addr+admission.Path, "application/json", bytes.NewReader(rv))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admission.Review
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if out.Response == nil || out.Response.UID != "u-1" {
			t.Fatalf("response %+v", out)
		}
		return out.Response
	}
	message := func(r *admission.Response) string {
		if r.Allowed || r.Result == nil {
			return "allowed"
		}
		return r.Result.Message
	}

	if got, want := message(ask("registry.test/prod/api:v1")), "stowaway denied Pod prod/api: image registry.test/prod/api:v1: tag v1 not found in this registry"; got != want {
		t.Errorf("before the push:\n got %s\nwant %s", got, want)
	}
	img := ts.push(t, "prod/api:v1", 2, ciAuth)
	d, _ := img.Digest()
	layers, _ := img.Layers()
	l0, _ := layers[0].Digest()
	want := fmt.Sprintf("stowaway denied Pod prod/api: image registry.test/prod/api:v1 (%s) has 2 findings at or above HIGH (top: CVE-2026-0000 HIGH in layer %s)", d, l0.Hex[:8])
	var got string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = message(ask("registry.test/prod/api:v1"))
		if !strings.Contains(got, "not scanned") {
			break
		}
	}
	if got != want {
		t.Errorf("after the scan, by tag:\n got %s\nwant %s", got, want)
	}
	byDigest := "registry.test/prod/api@" + d.String()
	want = fmt.Sprintf("stowaway denied Pod prod/api: image %s has 2 findings at or above HIGH (top: CVE-2026-0000 HIGH in layer %s)", byDigest, l0.Hex[:8])
	if got := message(ask(byDigest)); got != want {
		t.Errorf("by digest:\n got %s\nwant %s", got, want)
	}
	if got, want := message(ask("docker.io/library/nginx:1.25")), "stowaway denied Pod prod/api: image docker.io/library/nginx:1.25 is not from an allowed registry (docker.io/library/nginx)"; got != want {
		t.Errorf("other registry:\n got %s\nwant %s", got, want)
	}
}

func TestAdmissionConfigRefused(t *testing.T) {
	for _, ac := range []*AdmissionConfig{
		{Addr: "127.0.0.1:0", Policy: admission.Config{AllowedRegistries: []string{"r.io"}, RegistryHosts: []string{"r.io"}}},
		{Addr: "127.0.0.1:0", CertFile: "c", KeyFile: "k", Policy: admission.Config{AllowedRegistries: []string{"r.io"}}},
		{Addr: "127.0.0.1:0", CertFile: "c", KeyFile: "k", Policy: admission.Config{RegistryHosts: []string{"r.io"}}},
	} {
		_, err := New(t.Context(), Config{DataDir: t.TempDir(), Admission: ac}, &layerScanner{})
		if err == nil {
			t.Errorf("%+v accepted", ac)
		}
	}
}

// TestAdmissionBeyondLoopback: an admission address beyond loopback needs a
// client CA (or an explicit Insecure); with one, a client without the CA's
// certificate is refused and one with it is served.
func TestAdmissionBeyondLoopback(t *testing.T) {
	pki := tlstest.New(t, t.TempDir(), "stowaway.stowaway.svc")
	_, port, _ := net.SplitHostPort(freeAddr(t))
	wide := net.JoinHostPort("0.0.0.0", port)
	pol := admission.Config{AllowedRegistries: []string{"r.io"}, RegistryHosts: []string{"r.io"}}
	_, err := New(t.Context(), Config{DataDir: t.TempDir(), Admission: &AdmissionConfig{Addr: wide, CertFile: pki.CertFile, KeyFile: pki.KeyFile, Policy: pol}}, &layerScanner{})
	if err == nil || !strings.Contains(err.Error(), "--admission-client-ca") {
		t.Fatalf("no client CA beyond loopback: %v, want a refusal naming --admission-client-ca", err)
	}
	startServer(t, func(c *Config) {
		c.Admission = &AdmissionConfig{Addr: wide, CertFile: pki.CertFile, KeyFile: pki.KeyFile, ClientCAFile: pki.CAFile, Policy: pol}
	})
	get := func(cfg *tls.Config) error {
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		var resp *http.Response
		var err error
		// The listener starts in Serve's goroutine.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err = (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://127.0.0.1:" + port + "/healthz")
			if err == nil || !strings.Contains(err.Error(), "connection refused") || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
	if err := get(pki.ClientConfig(pki.ClientCert(t, "kube-apiserver"))); err != nil {
		t.Fatalf("client with the CA's certificate: %v", err)
	}
	if err := get(pki.ClientConfig()); err == nil {
		t.Error("a client without a certificate was served")
	}
	other := tlstest.New(t, t.TempDir(), "x")
	if err := get(pki.ClientConfig(other.ClientCert(t, "intruder"))); err == nil {
		t.Error("a client with another CA's certificate was served")
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8443": true, "[::1]:8443": true, "localhost:8443": true, "127.0.0.2:1": true,
		":8443": false, "0.0.0.0:8443": false, "[::]:8443": false, "10.0.0.1:8443": false, "node.example:8443": false, "garbage": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
