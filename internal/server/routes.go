package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"

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
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", s.cfg.Metrics.Handler())
	// GetDownloadUrlForLayer's signed URLs (no API timeout: layers are large).
	mux.Handle(ecrapi.LayerPath, s.api.LayerHandler())
	api := http.TimeoutHandler(s.api, s.cfg.APITimeout, `{"__type":"ServerException","message":"request timed out"}`)
	mux.Handle("/{$}", api)
	// GET / is the console; POST / stays the ECR API.
	mux.Handle("/console/", http.TimeoutHandler(s.console, s.cfg.APITimeout, "console: request timed out"))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
	return mux
}
