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

// Enrichment implements match.Store: NVD's record for id when the DB has
// one with a CVSS v3 score; otherwise the scores that other feeds' records of
// the same vulnerability carry (the NVD file set stops in 2017 for many
// mirrors, while Debian's OSV records, Red Hat, Ubuntu and GHSA carry CVSS
// vectors). Vectors scored by NVD come first, then the rest in feed order.
func (v *VulnDB) Enrichment(ctx context.Context, id string) (*advisory.Advisory, error) {
	nvd, err := v.DB.Enrichment(ctx, id)
	if err != nil {
		return nil, err
	}
	if nvd != nil && hasV3(nvd.CVSS) {
		return nvd, nil
	}
	scored, err := v.DB.Scores(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &advisory.Advisory{ID: id}
	if nvd != nil {
		*out = *nvd
		out.CVSS = append([]advisory.CVSS(nil), nvd.CVSS...)
	}
	var fromNVD, rest []advisory.CVSS
	for _, a := range scored {
		for _, c := range a.CVSS {
			if c.Score <= 0 {
				continue
			}
			if c.Source == "nvd" {
				fromNVD = append(fromNVD, c)
			} else {
				rest = append(rest, c)
			}
		}
		if out.Description == "" {
			out.Description = a.Description
		}
	}
	out.CVSS = append(append(out.CVSS, fromNVD...), rest...)
	if len(out.CVSS) == 0 && out.Description == "" {
		return nvd, nil
	}
	return out, nil
}

func hasV3(cs []advisory.CVSS) bool {
	for _, c := range cs {
		if len(c.Version) > 0 && c.Version[0] == '3' && c.Score > 0 {
			return true
		}
	}
	return false
}

// Advisory implements match.Store.
func (v *VulnDB) Advisory(ctx context.Context, id string) ([]*advisory.Advisory, error) {
	return v.DB.Advisory(ctx, id)
}

// Judges implements match.Judge.
func (v *VulnDB) Judges(ctx context.Context, source, id, namespace string) (bool, error) {
	return v.DB.Judges(ctx, source, id, namespace)
}

var _ match.Judge = (*VulnDB)(nil)

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
