// Package tlsconf builds the TLS configuration of Stowaway's listeners (the
// main registry/API listener and the admission webhook's) from certificate
// and key files that are re-read when they change, so a rotated certificate
// (cert-manager writes new files in place) is served without a restart.
//
// Every configuration requires TLS 1.2 or newer and offers HTTP/2 ("h2")
// before HTTP/1.1 through ALPN, which net/http's server answers with its
// built-in HTTP/2 support.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// Server serves the certificate and key files, re-read when either file
// changes. With clientCAFile set, clients must present a certificate it
// signed (tls.RequireAndVerifyClientCert).
func Server(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return kp.get()
		},
	}
	if clientCAFile != "" {
		pool, err := LoadPool(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// LoadPool reads a PEM file of CA certificates.
func LoadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", file)
	}
	return pool, nil
}

// keyPair is a certificate and key loaded from files, reloaded when the
// modification time of either changes.
type keyPair struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime [2]time.Time
}

func (k *keyPair) get() (*tls.Certificate, error) {
	var mt [2]time.Time
	for i, f := range []string{k.certFile, k.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			k.mu.Lock()
			c := k.cert
			k.mu.Unlock()
			if c != nil {
				// A file replaced by rename is briefly absent: keep
				// serving the previous pair.
				return c, nil
			}
			return nil, fmt.Errorf("tls: %w", err)
		}
		mt[i] = st.ModTime()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cert != nil && mt == k.modTime {
		return k.cert, nil
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		if k.cert != nil {
			// Mid-rotation (one file written, not the other): keep serving
			// the previous pair.
			return k.cert, nil
		}
		return nil, fmt.Errorf("tls: load key pair %s, %s: %w", k.certFile, k.keyFile, err)
	}
	k.cert, k.modTime = &c, mt
	return k.cert, nil
}
