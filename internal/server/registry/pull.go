package registry

import (
	"net/http"
)

// getManifest serves a manifest GET through distribution and, when it
// succeeds, reports the pull (by the digest distribution answered with, so
// a pull by tag counts for the image the tag named).
func (r *Registry) getManifest(w http.ResponseWriter, req *http.Request, rt route) {
	sw := &statusWriter{ResponseWriter: w}
	ok := false
	sw.onHeader = func(status int) int {
		ok = status == http.StatusOK
		return status
	}
	r.app.ServeHTTP(sw, req)
	if !ok {
		return
	}
	if d := w.Header().Get("Docker-Content-Digest"); d != "" {
		r.opts.OnPull(req.Context(), rt.repo, d)
	}
}
