package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/admission"
	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf"
)

// AdmissionConfig serves the Kubernetes validating admission webhook
// (docs/admission.md) on a dedicated TLS listener: the API server only
// calls webhooks over HTTPS, and keeping it off the main listener lets the
// registry stay plain HTTP behind a proxy while the webhook is reachable
// only where the cluster needs it.
type AdmissionConfig struct {
	// Policy is the admission policy; empty RegistryHosts default to
	// Config.PublicHost.
	Policy admission.Config
	// Addr is the TLS listen address (the CLI's default is
	// "127.0.0.1:8443").
	Addr string
	// CertFile and KeyFile are the serving certificate (re-read when they
	// change); ClientCAFile, when set, requires client certificates it
	// signed.
	CertFile, KeyFile, ClientCAFile string
	// Insecure lets the webhook listen beyond loopback without a client CA
	// (anyone who reaches it may ask about any repository's findings);
	// without it such an Addr is refused.
	Insecure bool
	// Exploits opens the current vulnerability DB for each review whose
	// deny rules name KEV or EPSS, so they judge by today's catalog rather
	// than the one of the image's last scan (nil: as stored with the scan).
	Exploits admission.OpenExploitDB
}

// Loopback reports whether a listen address binds only the loopback
// interface: "localhost" or a loopback IP. An empty host (":8443"), an
// unspecified address or any other host name is beyond loopback.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wireAdmission builds the admission policy when configured.
func (s *Server) wireAdmission() error {
	ac := s.cfg.Admission
	if ac == nil {
		return nil
	}
	if ac.Addr == "" || ac.CertFile == "" || ac.KeyFile == "" {
		return errors.New("server: admission: a listen address, a certificate and a key are required")
	}
	if !Loopback(ac.Addr) && ac.ClientCAFile == "" {
		if !ac.Insecure {
			return fmt.Errorf("server: admission: %s listens beyond loopback: set --admission-client-ca (clients must present a certificate it signed) or --admission-insecure", ac.Addr)
		}
		s.cfg.Logger.Warn("server: INSECURE: the admission webhook listens beyond loopback without client certificates (--admission-insecure): anyone who reaches it can read any repository's digests and finding counts", "addr", ac.Addr)
	}
	pol := ac.Policy
	if len(pol.RegistryHosts) == 0 && s.cfg.PublicHost != "" {
		pol.RegistryHosts = []string{s.cfg.PublicHost}
	}
	if err := pol.Validate(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	p, err := admission.New(pol, admission.Options{Store: s.store, Now: s.cfg.Now, Logger: s.cfg.Logger, Exploits: ac.Exploits})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.admission = p
	return nil
}

// startAdmission listens on the admission address when configured and
// returns the function that shuts that listener down.
func (s *Server) startAdmission() (func(), error) {
	if s.admission == nil {
		return func() {}, nil
	}
	ac := s.cfg.Admission
	tlsCfg, err := tlsconf.Server(ac.CertFile, ac.KeyFile, ac.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", ac.Addr)
	if err != nil {
		return nil, fmt.Errorf("server: admission listen: %w", err)
	}
	srv := &http.Server{
		Handler:           s.admission.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// The API server gives a webhook at most 30s.
		WriteTimeout:   35 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 1 << 20,
		ErrorLog:       slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(tls.NewListener(ln, tlsCfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("server: admission serve", "err", err)
		}
	}()
	s.cfg.Logger.Info("server: admission webhook listening", "addr", ln.Addr().String(), "path", admission.Path)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.cfg.Logger.Warn("server: admission shutdown", "err", err)
		}
	}, nil
}
