package match

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// PackageMemo remembers what matching one package gave (its findings, and
// whether its version could be compared), keyed by the
// namespace and the package fields matching reads (type, names, versions,
// epoch, release, arch, module), so that many inventories matched against
// one DB build (a rescan pass over a fleet that shares its base images) match
// each distinct package once. A memo must not outlive the DB build it was
// filled from. It is safe for concurrent use.
type PackageMemo struct {
	mu           sync.Mutex
	m            map[string]memoEntry
	hits, misses int64
}

// memoEntry is what matching one package gave: its findings without the
// package, and why its version could not be compared (if so).
type memoEntry struct {
	findings []Finding
	deg      degradation
}

// NewPackageMemo returns an empty memo.
func NewPackageMemo() *PackageMemo {
	return &PackageMemo{m: map[string]memoEntry{}}
}

// Stats returns how many packages were answered from the memo and how many
// were matched.
func (m *PackageMemo) Stats() (hits, misses int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses
}

// Len is the number of distinct packages held.
func (m *PackageMemo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// memoKey is the identity of p for matching in ns. Fields that matching does
// not read (path, layer, PURL, licenses, cataloger) are left out.
func memoKey(ns string, p *inventory.Package) string {
	var b strings.Builder
	for _, s := range []string{ns, string(p.Type), p.Name, p.Version, p.Release, p.Arch, p.SourceName, p.SourceVersion, p.Module} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	b.WriteString(strconv.Itoa(p.Epoch))
	return b.String()
}

func (m *PackageMemo) get(key string, p *inventory.Package) ([]Finding, degradation, bool) {
	m.mu.Lock()
	e, ok := m.m[key]
	if ok {
		m.hits++
	}
	m.mu.Unlock()
	if !ok {
		return nil, degradation{}, false
	}
	out := make([]Finding, len(e.findings))
	for i := range e.findings {
		out[i] = detach(e.findings[i])
		out[i].Package = *p
	}
	return out, e.deg, true
}

func (m *PackageMemo) put(key string, fs []Finding, deg degradation) {
	keep := make([]Finding, len(fs))
	for i := range fs {
		keep[i] = detach(fs[i])
		keep[i].Package = inventory.Package{}
	}
	m.mu.Lock()
	m.m[key] = memoEntry{findings: keep, deg: deg}
	m.misses++
	m.mu.Unlock()
}

// detach copies the slices of f that merging appends to or sorts, so a
// memoized finding never shares them with a caller's.
func detach(f Finding) Finding {
	f.Related = slices.Clone(f.Related)
	f.Sources = slices.Clone(f.Sources)
	f.References = slices.Clone(f.References)
	return f
}
