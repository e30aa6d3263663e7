// Package tlstest makes a throwaway PKI for tests of TLS listeners: a CA,
// server certificates it signs (re-issued in place to test rotation) and
// client certificates for mutual TLS. It is for test files only.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a self-signed CA and the server certificate it last issued.
type PKI struct {
	// CAPEM is the CA certificate; CAFile holds it (named ca.crt, as
	// containers' cert directories want it).
	CAPEM  []byte
	CAFile string
	// CertFile and KeyFile hold the server certificate and key.
	CertFile, KeyFile string
	// Pool trusts the CA.
	Pool *x509.CertPool

	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
}

// New writes a CA and a server certificate (serial 2) for dnsName and
// 127.0.0.1 into dir.
func New(t testing.TB, dir, dnsName string) *PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stowaway-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), Pool: x509.NewCertPool(), caKey: caKey, caCert: caCert}
	p.Pool.AddCert(caCert)
	p.CAFile = filepath.Join(dir, "ca.crt")
	p.CertFile, p.KeyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(p.CAFile, p.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p.Issue(t, dnsName, 2)
	return p
}

// Issue writes a server certificate for dnsName (and 127.0.0.1) with the
// serial to CertFile/KeyFile, and moves both files' modification time a
// minute ahead so a reload sees the change even on coarse clocks.
func (p *PKI) Issue(t testing.TB, dnsName string, serial int64) {
	t.Helper()
	der, kb := p.sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dnsName},
		DNSNames: []string{dnsName}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err := os.WriteFile(p.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute * time.Duration(serial))
	for _, f := range []string{p.CertFile, p.KeyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
}

// ClientCert is a client certificate the CA signed, for mutual TLS.
func (p *PKI) ClientCert(t testing.TB, name string) tls.Certificate {
	t.Helper()
	der, kb := p.sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	c, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *PKI) sign(t testing.TB, tmpl *x509.Certificate) (der, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err = x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err = x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// ClientConfig is a client TLS configuration trusting the CA, presenting
// certs to servers that ask for a client certificate (an http.Transport
// with ForceAttemptHTTP2 adds "h2" to it).
func (p *PKI) ClientConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12, Certificates: certs}
}
