package scan

import (
	"context"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// VulnDB adapts a vulndb.DB to what scans need. It caches the DB's list of
// namespaces; it is safe for concurrent use.
type VulnDB struct {
	DB *vulndb.DB

	mu    sync.Mutex
	nsSet map[string]bool
}

// Candidates implements match.Store.
func (v *VulnDB) Candidates(ctx context.Context, namespace, pkg string) ([]match.Candidate, error) {
	recs, err := v.DB.Lookup(ctx, namespace, pkg)
	if err != nil {
		return nil, err
	}
	out := make([]match.Candidate, len(recs))
	for i, r := range recs {
		out[i] = match.Candidate{Advisory: r.Advisory, Affected: r.Affected}
	}
	return out, nil
}

// Enrichment implements match.Store.
func (v *VulnDB) Enrichment(ctx context.Context, id string) (*advisory.Advisory, error) {
	return v.DB.Enrichment(ctx, id)
}

// HasNamespace reports whether the DB holds records for namespace.
func (v *VulnDB) HasNamespace(ctx context.Context, namespace string) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nsSet == nil {
		nss, err := v.DB.Namespaces(ctx)
		if err != nil {
			return false, err
		}
		v.nsSet = map[string]bool{}
		for _, n := range nss {
			v.nsSet[n] = true
		}
	}
	return v.nsSet[namespace], nil
}

// UpdatedAt is the DB's build time.
func (v *VulnDB) UpdatedAt(context.Context) (time.Time, error) {
	return v.DB.BuiltAt(), nil
}
