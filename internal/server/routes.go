package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
)

func randomHex() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(b)), nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v2/", s.reg)
	mux.Handle("/v2", s.reg)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := s.store.Ping(ctx); err != nil {
			s.cfg.Logger.Warn("server: not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unreachable\n"))
			return
		}
		if err := s.reg.CheckStorage(ctx); err != nil {
			s.cfg.Logger.Warn("server: not ready", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("storage unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	metrics := s.cfg.Metrics.Handler()
	if s.cfg.MetricsAuth {
		metrics = s.adminOnly(metrics)
	}
	mux.Handle("GET /metrics", metrics)
	// GetDownloadUrlForLayer's signed URLs (no API timeout: layers are large).
	mux.Handle(ecrapi.LayerPath, s.api.LayerHandler())
	api := http.TimeoutHandler(s.api, s.cfg.APITimeout, `{"__type":"ServerException","message":"request timed out"}`)
	mux.Handle("/{$}", api)
	// GET / is the console; POST / stays the ECR API.
	mux.Handle("/console/", http.TimeoutHandler(s.console, s.cfg.APITimeout, "console: request timed out"))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
	return audit.Middleware(mux)
}

// adminOnly serves h to principals with admin on "*" (registry
// credentials, throttled as the registry's are); others get 401 or 403.
func (s *Server) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Registry(r)
		if err != nil {
			var f *auth.Failure
			if errors.As(err, &f) && f.Logged() {
				s.cfg.Logger.Warn("server: metrics: authentication failed", "user", f.User, "source", f.Addr, "reason", f.Error())
				s.audit.Check(r.Context(), f.User, "stowaway:GetMetrics", "", false, "authentication failed: "+f.Error())
			}
			if errors.Is(err, auth.ErrThrottled) {
				w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Seconds()+0.999)))
				http.Error(w, "too many failed authentication attempts", http.StatusTooManyRequests)
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="stowaway"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if d := s.authz.Authorize(r.Context(), p, "stowaway:GetMetrics", "", auth.SourceIP(r.RemoteAddr)); !d.Allowed {
			s.audit.Check(r.Context(), p.Name, "stowaway:GetMetrics", "", false, "metrics need admin on \"*\": "+d.Reason)
			http.Error(w, "metrics need admin on every repository", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
