package registry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Error bodies never carry server detail. distribution answers some
// requests with its storage driver's error as the OCI error's "detail"
// (tags/list?last=%00 gave a 500 naming the absolute storage path), so
// every error response of the /v2 routes passes through errorFilter: it
// drops "detail", turns a 5xx into a plain UNKNOWN "internal server error"
// that names the request id (the original is logged with it), and answers
// distribution's "repository name ... invalid" 500 as 400 NAME_INVALID.

// maxErrorBody bounds the error body held for rewriting; distribution's
// error bodies are a few hundred bytes.
const maxErrorBody = 64 << 10

type errorFilter struct {
	http.ResponseWriter
	log   *slog.Logger
	reqID string
	path  string

	status  int
	held    bool // an error response is being held
	wrote   bool
	buf     bytes.Buffer
	dropped bool
}

func (e *errorFilter) WriteHeader(status int) {
	if e.wrote || e.held {
		return
	}
	if status >= 400 {
		e.held, e.status = true, status
		return
	}
	e.wrote = true
	e.ResponseWriter.WriteHeader(status)
}

func (e *errorFilter) Write(b []byte) (int, error) {
	if !e.wrote && !e.held {
		e.WriteHeader(http.StatusOK)
	}
	if !e.held {
		return e.ResponseWriter.Write(b)
	}
	if e.buf.Len()+len(b) > maxErrorBody {
		e.dropped = true
		return len(b), nil
	}
	return e.buf.Write(b)
}

// Flush forwards a flush of a response that is not held.
func (e *errorFilter) Flush() {
	if e.held {
		return
	}
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (e *errorFilter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

type ociErrors struct {
	Errors []ociErrorItem `json:"errors"`
}

type ociErrorItem struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// finish writes the held error response, rewritten.
func (e *errorFilter) finish() {
	if !e.held {
		return
	}
	status, body := e.rewrite()
	h := e.ResponseWriter.Header()
	if body != nil {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	e.ResponseWriter.WriteHeader(status)
	if body != nil {
		_, _ = e.ResponseWriter.Write(body)
	}
}

// rewrite returns the status and body to answer with (body nil: keep the
// response bodiless, as for HEAD).
func (e *errorFilter) rewrite() (int, []byte) {
	raw := e.buf.Bytes()
	if len(raw) == 0 && e.status < 500 {
		return e.status, nil
	}
	var in ociErrors
	jsonBody := isJSON(e.ResponseWriter.Header().Get("Content-Type"))
	parsed := jsonBody && !e.dropped && json.Unmarshal(raw, &in) == nil && len(in.Errors) > 0
	if e.status >= 500 {
		if parsed && nameInvalid(in.Errors) {
			return http.StatusBadRequest, encodeErrors(ociErrorItem{Code: "NAME_INVALID", Message: "invalid repository name"})
		}
		e.log.Error("registry: internal error", "status", e.status, "path", clipPath(e.path), "requestId", e.reqID, "body", clipPath(string(raw)))
		if len(raw) == 0 {
			return e.status, nil
		}
		msg := "internal server error"
		if e.reqID != "" {
			msg += " (request id " + e.reqID + ")"
		}
		return e.status, encodeErrors(ociErrorItem{Code: "UNKNOWN", Message: msg})
	}
	if !jsonBody {
		// distribution's router answers unknown routes with a plain text
		// 404 that carries nothing of the server's.
		return e.status, raw
	}
	if !parsed {
		return e.status, encodeErrors(ociErrorItem{Code: "UNKNOWN", Message: http.StatusText(e.status)})
	}
	for i := range in.Errors {
		in.Errors[i].Detail = nil
	}
	return e.status, encodeErrors(in.Errors...)
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// nameInvalid recognises distribution's error for a repository name it
// refuses (longer than 255 characters, or not matching the grammar).
func nameInvalid(errs []ociErrorItem) bool {
	for _, e := range errs {
		var d string
		_ = json.Unmarshal(e.Detail, &d)
		if e.Code == "NAME_INVALID" || strings.Contains(d, "repository name") && strings.Contains(d, "invalid") {
			return true
		}
	}
	return false
}

func encodeErrors(items ...ociErrorItem) []byte {
	b, _ := json.Marshal(ociErrors{Errors: items})
	return append(b, '\n')
}

// clipPath bounds a caller's value in a log line.
func clipPath(s string) string {
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}
