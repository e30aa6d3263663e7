// Package scan is the whole pipeline for one image: index it into an
// inventory, match the inventory against the vulnerability DB, and decide
// the ECR scan status. The CLI and the server both call it.
//
// Packages whose versions could not be compared (match.Result.Degraded)
// do not change the status: a scan that is otherwise COMPLETE stays
// COMPLETE, and its description (ECR's imageScanStatus.description) adds
// DegradedDescription, which names them. The report carries them in
// report.Scan.Degraded and its warnings.
//
// A release past the end of life its distribution descriptor gives (on the
// day Options.Now returns) keeps its findings, and the description adds
// that findings for a discontinued OS are informational.
//
// A DB with exploit context (ExploitDB: the kev and epss sources) gives
// every finding with a CVE its exploitAvailable, KEV entry and EPSS score,
// once, after matching (see addExploitContext).
//
// Every finding on a language package whose lockfile records a dependency
// graph says whether the package is a direct or a transitive dependency
// and through which packages it came in (see addDependencyContext).
package scan

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scanstatus"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// DB is what a scan needs from the vulnerability DB.
type DB interface {
	match.Store
	// HasNamespace reports whether the DB holds any record for namespace.
	HasNamespace(ctx context.Context, namespace string) (bool, error)
	// UpdatedAt is when the DB's data was last updated.
	UpdatedAt(ctx context.Context) (time.Time, error)
}

// Options configure a scan.
type Options struct {
	// Enhanced adds language packages (ECR ENHANCED scanning).
	Enhanced   bool
	OS         []catalog.FileCataloger
	Language   []catalog.FileCataloger
	Limits     squash.Limits
	Cache      indexer.LayerCache
	OnCacheHit func(diffID string)
	Now        func() time.Time
	Repository string
	// Memo, when set, shares per-package match results between scans
	// against the same DB build (a rescan pass).
	Memo *match.PackageMemo
	// Distros and Ecosystems are the distributions and language
	// ecosystems detection and matching know; nil means Stowaway's lists
	// (internal/distro/all, internal/ecosystem/all).
	Distros    distro.List
	Ecosystems ecosystem.List
}

// WithLists returns o with Distros and Ecosystems set to Stowaway's lists
// where nil, so that many scans with it build them once (building them
// compiles their patterns).
func (o Options) WithLists() Options {
	o.Distros, o.Ecosystems = o.distros(), o.ecosystems()
	return o
}

func (o Options) distros() distro.List {
	if o.Distros == nil {
		return all.Distros()
	}
	return o.Distros
}

func (o Options) ecosystems() ecosystem.List {
	if o.Ecosystems == nil {
		return ecoall.Ecosystems()
	}
	return o.Ecosystems
}

// MatchOptions are the match options of a scan with o: what a rescan of a
// stored result must use to find the same lookups (match.Keys).
func (o Options) MatchOptions() match.Options {
	return match.Options{Language: o.Enhanced, Memo: o.Memo, Distros: o.distros(), Ecosystems: o.ecosystems()}
}

// ECR scan statuses (defined in internal/scanstatus).
const (
	StatusComplete    = scanstatus.Complete
	StatusUnsupported = scanstatus.Unsupported
	StatusFailed      = scanstatus.Failed
)

// Image indexes src and matches it.
func Image(ctx context.Context, src *source.Source, db DB, o Options) (*report.Scan, error) {
	iopts := indexer.Options{OS: o.OS, Limits: o.Limits, Now: o.Now, Cache: o.Cache, OnCacheHit: o.OnCacheHit, Distros: o.distros(), Ecosystems: o.ecosystems()}
	if o.Enhanced {
		iopts.Language = o.Language
	}
	inv, err := indexer.Index(ctx, src, iopts)
	if err != nil {
		return nil, err
	}
	return Inventory(ctx, inv, db, o)
}

// Inventory matches an existing inventory (a stored SBOM, a rescan).
func Inventory(ctx context.Context, inv *inventory.Inventory, db DB, o Options) (*report.Scan, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	s := &report.Scan{Inventory: inv, Enhanced: o.Enhanced, Status: StatusComplete, StatusDescription: "The scan was completed successfully.", Repository: o.Repository,
		Names: names.Names{Distros: o.distros(), Ecosystems: o.ecosystems()}}
	if t, err := db.UpdatedAt(ctx); err == nil {
		s.DBUpdatedAt = t
	}
	d := inv.Distro
	distros := o.distros()
	hasOS, hasLang := false, false
	for _, p := range inv.Packages {
		hasOS = hasOS || p.Type.IsOS()
		hasLang = hasLang || !p.Type.IsOS()
	}
	// What the OS side of the scan can say.
	osProblem := ""
	switch {
	case d == nil || d.Status == inventory.OSNone:
		osProblem = "no operating system detected in the image"
		if d != nil && d.Reason != "" {
			osProblem += " (" + d.Reason + ")"
		}
	case d.Status != inventory.OSSupported:
		osProblem = d.Reason
	default:
		feedNS := distros.FeedNamespace(d.Namespace())
		ok, err := db.HasNamespace(ctx, feedNS)
		if err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		if !ok && hasOS {
			osProblem = fmt.Sprintf("the vulnerability DB holds no advisories for %s (is its feed loaded? see 'stowaway db status')", feedNS)
		}
	}
	if osProblem != "" {
		if o.Enhanced && hasLang {
			s.StatusDescription = "The scan was completed for language packages only: " + osProblem + "."
		} else {
			s.Status = StatusUnsupported
			s.StatusDescription = "UnsupportedImageError: " + osProblem
		}
	}
	if d != nil && d.Status == inventory.OSSupported {
		// A release past its end of life keeps its findings; the
		// description says they are informational.
		if desc, ok := distros.ByID(d.ID); ok {
			if note := desc.EOLNote(d.Release, now()); note != "" {
				s.StatusDescription += " " + note
			}
		}
	}
	res, err := match.Match(ctx, db, inv, o.MatchOptions())
	if err != nil {
		return nil, err
	}
	if err := addExploitContext(ctx, db, res.Findings); err != nil {
		return nil, err
	}
	addDependencyContext(inv, res.Findings)
	s.Findings = res.Findings
	s.Degraded = res.Degraded
	if len(inv.OSDatabaseProblems) > 0 && s.Status == StatusComplete {
		s.StatusDescription += " " + OSDatabaseDescription(inv.OSDatabaseProblems)
	}
	if len(res.Degraded) > 0 {
		s.StatusDescription += " " + DegradedDescription(res.Degraded)
	}
	s.CompletedAt = now().UTC()
	return s, nil
}

// OSDatabaseDescription is the sentence a scan's status description gets
// when a detected OS's packages could not be read: its findings are not a
// clean bill of health. At most MaxNamedDegraded problems are named, each
// clipped.
func OSDatabaseDescription(problems []string) string {
	var b strings.Builder
	b.WriteString("OS packages were not scanned: ")
	for i, p := range problems {
		if i == MaxNamedDegraded {
			fmt.Fprintf(&b, "; and %d more", len(problems)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(match.Clip(p, 300))
	}
	b.WriteByte('.')
	return b.String()
}

// MaxNamedDegraded is how many degraded packages DegradedDescription names;
// the rest are counted.
const MaxNamedDegraded = 5

// DegradedDescription is the sentence a scan's status description gets
// when packages' versions could not be compared. It names at most
// MaxNamedDegraded of them (match.Degraded.Label, so each part is clipped)
// in the order given, e.g.
//
//	2 packages have versions that could not be compared (findings for them have status UNKNOWN_VERSION): lodash "latest" (app/package.json), musl "1.2.4_r2" (lib/apk/db/installed).
//
// and ends ", and N more." past the limit. It is "" for none.
func DegradedDescription(ds []match.Degraded) string {
	if len(ds) == 0 {
		return ""
	}
	var b strings.Builder
	if len(ds) == 1 {
		fmt.Fprintf(&b, "1 package has a version that could not be compared (findings for it have status %s): ", match.StatusUnknownVersion)
	} else {
		fmt.Fprintf(&b, "%d packages have versions that could not be compared (findings for them have status %s): ", len(ds), match.StatusUnknownVersion)
	}
	for i, d := range ds {
		if i == MaxNamedDegraded {
			fmt.Fprintf(&b, ", and %d more", len(ds)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Label())
	}
	b.WriteByte('.')
	return b.String()
}

// addDependencyContext sets each language finding's Dependency from the
// inventory's dependency graph: direct or transitive, and a shortest path
// from the project (BFS, computed once per file and bounded by
// inventory.MaxIntroducedThrough). OS packages have no project and get
// none.
func addDependencyContext(inv *inventory.Inventory, fs []match.Finding) {
	if len(inv.Relationships) == 0 {
		return
	}
	g := inventory.NewGraph(inv)
	type key struct{ path, name, version string }
	memo := map[key]*inventory.Dependency{}
	for i := range fs {
		p := fs[i].Package
		if p.Type.IsOS() {
			continue
		}
		k := key{p.Path, p.Name, p.Version}
		d, seen := memo[k]
		if !seen {
			if dep, ok := g.Dependency(p); ok {
				d = &dep
			}
			memo[k] = d
		}
		fs[i].Dependency = d
	}
}
