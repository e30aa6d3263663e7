package admission

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"sync"
	"time"
)

// Path is where the webhook is served.
const Path = "/admission/validate"

// ServeHTTP answers POST Path with an AdmissionReview v1 carrying the
// response. A body that is not an AdmissionReview is a 400 (the API server
// then applies the webhook configuration's failurePolicy).
func (p *Policy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "admission: POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "admission: Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	rv, err := DecodeReview(http.MaxBytesReader(w, r.Body, MaxReviewSize+1))
	if err != nil {
		p.log.Warn("admission: bad review", "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := Review{APIVersion: rv.APIVersion, Kind: rv.Kind, Response: p.Review(r.Context(), rv.Request)}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		p.log.Warn("admission: write response", "err", err)
	}
}

// Handler is the admission listener's handler: the webhook at Path and
// GET /healthz.
func (p *Policy) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, p)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// TLSConfig serves the certificate and key files, re-read when either
// file changes (cert-manager rotates them in place). With clientCAFile set,
// clients must present a certificate it signed (mutual TLS with the API
// server's admission kubeconfig).
func TLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return kp.get()
		},
	}
	if clientCAFile != "" {
		pem, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("admission tls: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("admission tls: client CA %s: no PEM certificates", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

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
			return nil, fmt.Errorf("admission tls: %w", err)
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
		return nil, fmt.Errorf("admission tls: load key pair: %w", err)
	}
	k.cert, k.modTime = &c, mt
	return k.cert, nil
}
