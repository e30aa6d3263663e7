package rescan

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// Matcher re-matches stored inventories. A rescan pass calls Pass once with
// the DB handle of the pass.
type Matcher interface {
	Pass(db *vulndb.DB) Pass
}

// Pass re-matches inventories against one DB build. It is safe for
// concurrent use.
type Pass interface {
	Rematch(ctx context.Context, inv *inventory.Inventory, enhanced bool) (*scanning.Result, error)
}

// ScanMatcher is the Matcher of the scan pipeline: scan.Inventory over a
// memoizing view of the pass's DB, converted with Convert (default
// ResultFromReport).
type ScanMatcher struct {
	Convert func(report.Scan) (*scanning.Result, error)
}

// Pass implements Matcher.
func (m ScanMatcher) Pass(db *vulndb.DB) Pass {
	conv := m.Convert
	if conv == nil {
		conv = ResultFromReport
	}
	return &scanPass{db: NewMemo(&scan.VulnDB{DB: db}), convert: conv}
}

type scanPass struct {
	db      *Memo
	convert func(report.Scan) (*scanning.Result, error)
}

func (p *scanPass) Rematch(ctx context.Context, inv *inventory.Inventory, enhanced bool) (*scanning.Result, error) {
	rep, err := scan.Inventory(ctx, inv, p.db, scan.Options{Enhanced: enhanced})
	if err != nil {
		return nil, fmt.Errorf("rescan: match: %w", err)
	}
	return p.convert(*rep)
}

// ResultFromReport converts a scan into the ECR findings shape the server
// stores.
func ResultFromReport(s report.Scan) (*scanning.Result, error) {
	e := report.ECR(s)
	out := &scanning.Result{
		Status:                       scanning.Status(e.ImageScanStatus.Status),
		Description:                  e.ImageScanStatus.Description,
		SeverityCounts:               e.ImageScanFindings.FindingSeverityCounts,
		CompletedAt:                  s.CompletedAt,
		VulnerabilitySourceUpdatedAt: s.DBUpdatedAt,
	}
	for _, f := range e.ImageScanFindings.Findings {
		sf := scanning.Finding{Name: f.Name, Description: f.Description, URI: f.URI, Severity: f.Severity}
		for _, a := range f.Attributes {
			sf.Attributes = append(sf.Attributes, scanning.Attribute{Key: a.Key, Value: a.Value})
		}
		out.Findings = append(out.Findings, sf)
	}
	for _, f := range e.ImageScanFindings.EnhancedFindings {
		b, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("encode enhanced finding: %w", err)
		}
		out.EnhancedFindings = append(out.EnhancedFindings, b)
	}
	return out, nil
}

// Memo is a scan.DB that memoizes Candidates, Enrichment, Advisory and
// HasNamespace of another for its lifetime (one rescan pass): the records
// it returns are shared between callers and must be treated as read-only,
// as vulndb's already are. It is safe for concurrent use.
type Memo struct {
	db scan.DB

	mu         sync.Mutex
	cands      map[[2]string][]match.Candidate
	enrich     map[string]*advisory.Advisory
	advs       map[string][]*advisory.Advisory
	ns         map[string]bool
	hits, miss int64
}

// NewMemo wraps db.
func NewMemo(db scan.DB) *Memo {
	return &Memo{db: db, cands: map[[2]string][]match.Candidate{}, enrich: map[string]*advisory.Advisory{}, advs: map[string][]*advisory.Advisory{}, ns: map[string]bool{}}
}

// Stats returns the cache hits and misses of Candidates lookups.
func (m *Memo) Stats() (hits, misses int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.miss
}

// Candidates implements match.Store.
func (m *Memo) Candidates(ctx context.Context, namespace, pkg string) ([]match.Candidate, error) {
	k := [2]string{namespace, pkg}
	m.mu.Lock()
	c, ok := m.cands[k]
	if ok {
		m.hits++
	}
	m.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := m.db.Candidates(ctx, namespace, pkg)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.cands[k] = c
	m.miss++
	m.mu.Unlock()
	return c, nil
}

// Enrichment implements match.Store.
func (m *Memo) Enrichment(ctx context.Context, id string) (*advisory.Advisory, error) {
	m.mu.Lock()
	a, ok := m.enrich[id]
	m.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := m.db.Enrichment(ctx, id)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.enrich[id] = a
	m.mu.Unlock()
	return a, nil
}

// Advisory implements match.Store.
func (m *Memo) Advisory(ctx context.Context, id string) ([]*advisory.Advisory, error) {
	m.mu.Lock()
	a, ok := m.advs[id]
	m.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := m.db.Advisory(ctx, id)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.advs[id] = a
	m.mu.Unlock()
	return a, nil
}

// HasNamespace implements scan.DB.
func (m *Memo) HasNamespace(ctx context.Context, namespace string) (bool, error) {
	m.mu.Lock()
	v, ok := m.ns[namespace]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := m.db.HasNamespace(ctx, namespace)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	m.ns[namespace] = v
	m.mu.Unlock()
	return v, nil
}

// UpdatedAt implements scan.DB.
func (m *Memo) UpdatedAt(ctx context.Context) (time.Time, error) { return m.db.UpdatedAt(ctx) }
