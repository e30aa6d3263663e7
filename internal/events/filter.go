package events

import (
	"context"
	"fmt"
	"github.com/stowaway-scanner/stowaway/internal/severity"
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"regexp"
	"slices"
)

// Filter passes to Sink only the events that match. An event matches when
// its detail type is one of DetailTypes (all types when empty), its
// repository matches one of Repositories (all repositories when empty)
// and, if MinSeverity is set, it carries at least one finding at or above
// that level: for "ECR Image Scan" a non-zero finding-severity-count, for a
// findings change a new finding (resolved findings do not count);
// UNTRIAGED, enhanced findings' name for UNDEFINED, ranks as UNDEFINED. A dropped
// event is reported as delivered (nil).
type Filter struct {
	Sink Sink
	// Repositories are ECR WILDCARD filters: without "*" a filter matches
	// as a substring; "*" matches any run of characters, anchored.
	Repositories []string
	MinSeverity  severity.Severity
	// DetailTypes restricts the filter to these detail types.
	DetailTypes []string
}

// Write forwards ev when it matches.
func (f *Filter) Write(ctx context.Context, ev Event) error {
	ok, err := f.Match(ev)
	if err != nil || !ok {
		return err
	}
	return f.Sink.Write(ctx, ev)
}

// Match reports whether ev passes the filter. An undecodable detail or an
// unknown MinSeverity is a Permanent error.
func (f *Filter) Match(ev Event) (bool, error) {
	if len(f.DetailTypes) > 0 && !slices.Contains(f.DetailTypes, ev.DetailType) {
		return false, nil
	}
	s, err := ev.summary()
	if err != nil {
		return false, Permanent(fmt.Errorf("filter: %w", err))
	}
	if len(f.Repositories) > 0 {
		hit := false
		for _, p := range f.Repositories {
			if wildcard.MatchFilter(p, s.RepositoryName) {
				hit = true
				break
			}
		}
		if !hit {
			return false, nil
		}
	}
	if f.MinSeverity == "" {
		return true, nil
	}
	floor, err := severity.Parse(string(f.MinSeverity))
	if err != nil {
		return false, Permanent(fmt.Errorf("filter: unknown minimum severity %q", f.MinSeverity))
	}
	atLeast := func(level severity.Severity) bool {
		if level == severity.Untriaged {
			// Inspector's name for UNDEFINED (enhanced findings).
			level = severity.Undefined
		}
		l, err := severity.Parse(string(level))
		return err == nil && severity.Compare(l, floor) >= 0
	}
	if ev.DetailType == DetailTypeFindingsChange {
		for _, fd := range s.NewFindings {
			if atLeast(fd.Severity) {
				return true, nil
			}
		}
		return false, nil
	}
	for level, n := range s.Counts {
		if n > 0 && atLeast(level) {
			return true, nil
		}
	}
	return false, nil
}

// wildcardRE is the repository filter pattern of ECR's API reference.
var wildcardRE = regexp.MustCompile(`^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`)

// ValidWildcard checks filter against ECR's repository filter constraints
// (1–255 characters of ^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$).
func ValidWildcard(filter string) error {
	if len(filter) == 0 || len(filter) > 255 {
		return fmt.Errorf("repository filter %q: must be 1 to 255 characters", filter)
	}
	if !wildcardRE.MatchString(filter) {
		return fmt.Errorf("repository filter %q: must match %s", filter, wildcardRE)
	}
	return nil
}
