package admission

import (
	"encoding/json"
	"mime"
	"net/http"
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
