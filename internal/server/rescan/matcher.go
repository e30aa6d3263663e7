package rescan

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
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
	Rematch(ctx context.Context, inv *inventory.Inventory, enhanced bool) (*Rematched, error)
}

// Rematched is one re-matched inventory: the identities of its findings,
// which are all a pass needs to tell whether anything changed, and the
// result to store, built only when something did (encoding every enhanced
// finding costs more than matching).
type Rematched struct {
	Status scanning.Status
	// Records are the findings' identities and severities, one per
	// store.FindingKey, sorted by key: what identities gives for Result.
	Records []store.FindingRecord
	// Result builds the result to store, completed at the given times.
	Result func(completedAt, dbUpdatedAt time.Time) (*scanning.Result, error)
}

// ScanMatcher is the Matcher of the scan pipeline: scan.Inventory over a
// memoizing view of the pass's DB and a per-package memo shared by the
// pass's images, converted with report.ScanningResult (the conversion of scans).
// Now, when set, is the day scans are judged on (an end-of-life release
// says so in the description); nil means the clock.
type ScanMatcher struct {
	Now func() time.Time
}

// Pass implements Matcher.
func (m ScanMatcher) Pass(db *vulndb.DB) Pass {
	return &scanPass{db: NewMemo(&scan.VulnDB{DB: db}), pkgs: match.NewPackageMemo(), now: m.Now,
		lists: scan.Options{}.WithLists(),
		parts: map[pkgKey][]recordPart{}, statuses: map[statusKey]scanning.Status{}}
}

type scanPass struct {
	db   *Memo
	pkgs *match.PackageMemo
	now  func() time.Time
	// lists holds the distro and ecosystem lists scan.Options would
	// build for every scan, built once per pass.
	lists scan.Options

	// The per-package records of views (rematchView).
	mu        sync.Mutex
	parts     map[pkgKey][]recordPart
	statuses  map[statusKey]scanning.Status
	partsHits int64
}

// recordPart is one finding of a package matched alone: what its record
// in an image is made of.
type recordPart struct {
	id, namespace string
	severity      severity.Severity
}

// statusKey is what a scan's status depends on: the distro, the scan
// type, and whether the image has OS and language packages.
type statusKey struct {
	gen, dist                uint32
	enhanced, hasOS, hasLang bool
}

// options are the scan options of the pass.
func (p *scanPass) options(enhanced bool, memo *match.PackageMemo) scan.Options {
	o := p.lists
	o.Enhanced, o.Memo, o.Now = enhanced, memo, p.now
	return o
}

// Stats returns the per-package memo's hits and misses (a package whose
// records a view took from the pass is a hit).
func (p *scanPass) Stats() (hits, misses int64) {
	h, m := p.pkgs.Stats()
	p.mu.Lock()
	defer p.mu.Unlock()
	return h + p.partsHits, m
}

// rematchView is Rematch of v's inventory, built from the records of its
// packages each matched alone (once per pass for the fleet) instead of
// matching and converting every finding of the image. It gives the same
// Records and Status as Rematch when matching cannot combine packages:
// the view holds no symbol tables (views that do are not interned), no
// two packages share a PURL and path (their findings would be merged),
// and no two findings of one identity differ in severity (which one is
// kept depends on the order of the findings); otherwise it is Rematch.
// Result is built by Rematch of the whole inventory.
func (p *scanPass) rematchView(ctx context.Context, v *view, enhanced bool) (*Rematched, error) {
	if v.ids == nil || !v.distinct {
		return p.Rematch(ctx, v.inventory(), enhanced)
	}
	status, err := p.status(ctx, v, enhanced)
	if err != nil {
		return nil, err
	}
	parts := make([][]recordPart, len(v.ids))
	n := 0
	for i, id := range v.ids {
		if parts[i], err = p.packageParts(ctx, v, id, enhanced); err != nil {
			return nil, err
		}
		n += len(parts[i])
	}
	groupSev := map[[2]string]severity.Severity{}
	if enhanced {
		for _, ps := range parts {
			for _, f := range ps {
				k := [2]string{f.id, f.namespace}
				if s, ok := groupSev[k]; !ok || severity.Compare(f.severity, s) > 0 {
					groupSev[k] = f.severity
				}
			}
		}
	}
	type keyed struct {
		k string
		r store.FindingRecord
	}
	recs := make([]keyed, 0, n)
	for i, id := range v.ids {
		pk := &v.table[id]
		for _, f := range parts[i] {
			sev := f.severity
			if enhanced {
				sev = groupSev[[2]string{f.id, f.namespace}].Inspector()
			}
			r := store.FindingRecord{Name: f.id, PackageName: pk.Name, PackageVersion: pk.Version, Severity: sev}
			recs = append(recs, keyed{r.Key(), r})
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].k < recs[j].k })
	records := make([]store.FindingRecord, 0, len(recs))
	for i, kr := range recs {
		if i > 0 && recs[i-1].k == kr.k {
			if recs[i-1].r.Severity != kr.r.Severity {
				return p.Rematch(ctx, v.inventory(), enhanced)
			}
			continue
		}
		records = append(records, kr.r)
	}
	out := &Rematched{Status: status, Records: records}
	out.Result = func(completedAt, dbUpdatedAt time.Time) (*scanning.Result, error) {
		rm, err := p.Rematch(ctx, v.inventory(), enhanced)
		if err != nil {
			return nil, err
		}
		return rm.Result(completedAt, dbUpdatedAt)
	}
	return out, nil
}

// packageParts matches one package of v alone, once per pass.
func (p *scanPass) packageParts(ctx context.Context, v *view, id uint32, enhanced bool) ([]recordPart, error) {
	k := pkgKey{gen: v.gen, id: id, dist: v.dist, enhanced: enhanced}
	p.mu.Lock()
	ps, ok := p.parts[k]
	if ok {
		p.partsHits++
	}
	p.mu.Unlock()
	if ok {
		return ps, nil
	}
	one := &inventory.Inventory{Distro: v.head.Distro, Packages: []inventory.Package{v.table[id]}}
	rep, err := scan.Inventory(ctx, one, p.db, p.options(enhanced, p.pkgs))
	if err != nil {
		return nil, fmt.Errorf("rescan: match: %w", err)
	}
	ps = make([]recordPart, len(rep.Findings))
	for i, f := range rep.Findings {
		ps[i] = recordPart{id: f.ID, namespace: f.Namespace, severity: f.Severity}
	}
	p.mu.Lock()
	p.parts[k] = ps
	p.mu.Unlock()
	return ps, nil
}

// status is the scan status of v's inventory: scan.Inventory decides it
// from the distro, the scan type and which kinds of packages the image
// has, so an inventory of one package of each kind the image has (matched
// with a memo of its own, outside the pass's counts) has the image's.
func (p *scanPass) status(ctx context.Context, v *view, enhanced bool) (scanning.Status, error) {
	var os, lang *inventory.Package
	for _, id := range v.ids {
		pk := &v.table[id]
		if pk.Type.IsOS() && os == nil {
			os = pk
		} else if !pk.Type.IsOS() && lang == nil {
			lang = pk
		}
	}
	k := statusKey{gen: v.gen, dist: v.dist, enhanced: enhanced, hasOS: os != nil, hasLang: lang != nil}
	p.mu.Lock()
	st, ok := p.statuses[k]
	p.mu.Unlock()
	if ok {
		return st, nil
	}
	rep := &inventory.Inventory{Distro: v.head.Distro}
	for _, pk := range []*inventory.Package{os, lang} {
		if pk != nil {
			rep.Packages = append(rep.Packages, *pk)
		}
	}
	res, err := scan.Inventory(ctx, rep, p.db, p.options(enhanced, match.NewPackageMemo()))
	if err != nil {
		return "", fmt.Errorf("rescan: match: %w", err)
	}
	st = scanning.Status(res.Status)
	p.mu.Lock()
	p.statuses[k] = st
	p.mu.Unlock()
	return st, nil
}

func (p *scanPass) Rematch(ctx context.Context, inv *inventory.Inventory, enhanced bool) (*Rematched, error) {
	rep, err := scan.Inventory(ctx, inv, p.db, p.options(enhanced, p.pkgs))
	if err != nil {
		return nil, fmt.Errorf("rescan: match: %w", err)
	}
	out := &Rematched{Status: scanning.Status(rep.Status), Records: reportRecords(rep.Findings, enhanced)}
	out.Result = func(completedAt, dbUpdatedAt time.Time) (*scanning.Result, error) {
		s := *rep
		s.CompletedAt, s.DBUpdatedAt = completedAt, dbUpdatedAt
		return report.ScanningResult(s)
	}
	return out, nil
}

// reportRecords lists the identities of matched findings as identities
// does for their converted result: basic and enhanced findings are both
// identified by the vulnerability id and the package's name and version.
// An enhanced finding has the Inspector level (UNTRIAGED for UNDEFINED)
// of the highest severity of its vulnerability and namespace, as report
// groups them.
func reportRecords(fs []match.Finding, enhanced bool) []store.FindingRecord {
	groupSev := map[[2]string]severity.Severity{}
	if enhanced {
		for _, f := range fs {
			k := [2]string{f.ID, f.Namespace}
			if s, ok := groupSev[k]; !ok || severity.Compare(f.Severity, s) > 0 {
				groupSev[k] = f.Severity
			}
		}
	}
	byKey := make(map[string]store.FindingRecord, len(fs))
	for _, f := range fs {
		sev := f.Severity
		if enhanced {
			sev = groupSev[[2]string{f.ID, f.Namespace}].Inspector()
		}
		r := store.FindingRecord{Name: f.ID, PackageName: f.Package.Name, PackageVersion: f.Package.Version, Severity: sev}
		byKey[r.Key()] = r
	}
	return sortedRecords(byKey)
}

// sortedRecords lists records by key.
func sortedRecords(byKey map[string]store.FindingRecord) []store.FindingRecord {
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]store.FindingRecord, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

// Memo is a scan.DB that memoizes Candidates, Enrichment, Advisory, Judges
// (match.Judge, when the DB has it) and HasNamespace of another for its lifetime (one rescan pass): the records
// it returns are shared between callers and must be treated as read-only,
// as vulndb's already are. It is safe for concurrent use.
type Memo struct {
	db scan.DB

	mu         sync.Mutex
	cands      map[[2]string][]match.Candidate
	enrich     map[string]*advisory.Advisory
	advs       map[string][]*advisory.Advisory
	judged     map[[3]string]bool
	ns         map[string]bool
	hits, miss int64
	// exploit memoizes the exploit context (exploit.go).
	exploit exploitMemo
}

// NewMemo wraps db.
func NewMemo(db scan.DB) *Memo {
	return &Memo{db: db, cands: map[[2]string][]match.Candidate{}, enrich: map[string]*advisory.Advisory{}, advs: map[string][]*advisory.Advisory{}, judged: map[[3]string]bool{}, ns: map[string]bool{}}
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

// Judges implements match.Judge: the DB's own answer when it has the
// capability, else the memoized Advisory's.
func (m *Memo) Judges(ctx context.Context, source, id, namespace string) (bool, error) {
	k := [3]string{source, id, namespace}
	m.mu.Lock()
	v, ok := m.judged[k]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	if j, ok := m.db.(match.Judge); ok {
		var err error
		if v, err = j.Judges(ctx, source, id, namespace); err != nil {
			return false, err
		}
	} else {
		advs, err := m.Advisory(ctx, id)
		if err != nil {
			return false, err
		}
		v = judges(advs, source, namespace)
	}
	m.mu.Lock()
	m.judged[k] = v
	m.mu.Unlock()
	return v, nil
}

// judges answers Judges from an id's records.
func judges(advs []*advisory.Advisory, source, namespace string) bool {
	for _, a := range advs {
		if a.Source != source {
			continue
		}
		for _, af := range a.Affected {
			if af.Namespace == namespace {
				return true
			}
		}
	}
	return false
}

var _ match.Judge = (*Memo)(nil)

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
