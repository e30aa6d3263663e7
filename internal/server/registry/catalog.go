package registry

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

// Catalog page sizes: the default and the most a caller may ask for.
const (
	catalogDefault = 100
	catalogMax     = 1000
)

// serveCatalog answers GET /v2/_catalog with the repositories p may pull
// (ListAction), sorted, paginated with n and last and a Link header as the
// distribution spec has it. A caller that may pull nothing gets an empty
// list.
func (r *Registry) serveCatalog(w http.ResponseWriter, req *http.Request, p *auth.Principal, src netip.Addr) {
	q := req.URL.Query()
	n := catalogDefault
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > catalogMax {
			ociError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", "n must be an integer from 0 to "+strconv.Itoa(catalogMax))
			return
		}
		n = v
	}
	last := q.Get("last")
	visible := make([]string, 0, n)
	more := false
	buf := make([]string, catalogMax)
	for n > 0 && !more {
		got, err := r.ns.Repositories(req.Context(), buf, last)
		for _, name := range buf[:got] {
			if !r.opts.Authz.Authorize(req.Context(), p, ListAction, name, src).Allowed {
				continue
			}
			if len(visible) == n {
				more = true
				break
			}
			visible = append(visible, name)
		}
		if got > 0 {
			last = buf[got-1]
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !isPathNotFound(err) {
				r.opts.Logger.Error("registry: catalog", "err", err)
				ociError(w, http.StatusInternalServerError, "UNKNOWN", "listing repositories failed")
				return
			}
			break
		}
		if got == 0 {
			break
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if more {
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {visible[len(visible)-1]}}
		w.Header().Set("Link", `</v2/_catalog?`+next.Encode()+`>; rel="next"`)
	}
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": visible})
}
