package vulndb

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// coverage is a source's sources.coverage_json: the namespaces of its
// stored records and, for a superseded source (UpdateOptions.Supersedes),
// the better source and its namespaces the source was read against.
type coverage struct {
	Namespaces   []string `json:"namespaces,omitempty"`
	SupersededBy string   `json:"superseded_by,omitempty"`
	// Superseded are the source's namespaces left unread; With the
	// better source's namespaces at the time.
	Superseded []string `json:"superseded,omitempty"`
	With       []string `json:"with,omitempty"`
}

func encodeCoverage(s *SourceReport) (string, error) {
	c := coverage{Namespaces: s.Namespaces, SupersededBy: s.SupersededBy, Superseded: s.Superseded, With: s.supersededWith}
	if c.Namespaces == nil && c.SupersededBy == "" {
		return "", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

func sortedSet(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}

// namespaceSkipper is an updater that can leave whole namespaces unread
// (Ubuntu OVAL: one file per release), so that a superseded release costs
// no decompression or parsing at all. Updaters without it are parsed in
// full and their records of superseded namespaces are dropped as they are
// emitted.
type namespaceSkipper interface {
	SkipNamespaces(skip func(namespace string) bool) feed.Updater
}

// betterNamespaces returns the namespaces of the source that supersedes
// j's (j.supersededBy): its records parsed in this update, once its job is
// done, or, when it is not parsed in this update (unchanged, failed, kept,
// not among the updaters), its stored ones.
func (j *job) betterNamespaces(ctx context.Context) ([]string, error) {
	if b := j.better; b != nil {
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if b.fetchErr == nil && b.parseErr == nil && !b.snap.Unchanged && b.snap.FS != nil {
			return sortedSet(b.namespaces), nil
		}
	}
	if j.prevBetter != nil {
		return j.prevBetter.coverage.Namespaces, nil
	}
	return nil, nil
}

// supersede sets up j's reading against the better source's namespaces:
// it returns the updater to parse with and the fetch state to use (nil,
// a full fetch, when the better source's namespaces changed since the
// stored records were read: the copied records would then be wrong).
func (j *job) supersede(ctx context.Context, state feed.State) (feed.Updater, feed.State, error) {
	u := j.u
	if j.supersededBy == "" {
		return u, state, nil
	}
	with, err := j.betterNamespaces(ctx)
	if err != nil {
		return nil, nil, err
	}
	var prevWith []string
	if j.prevSelf != nil {
		prevWith = j.prevSelf.coverage.With
	}
	if !slices.Equal(prevWith, with) {
		state = nil
	}
	j.supersededWith = with
	if len(with) == 0 {
		return u, state, nil
	}
	j.skip = make(map[string]bool, len(with))
	for _, ns := range with {
		j.skip[ns] = true
	}
	j.superseded = map[string]bool{}
	if s, ok := u.(namespaceSkipper); ok {
		u = s.SkipNamespaces(func(ns string) bool {
			if j.skip[ns] {
				j.superseded[ns] = true
				return true
			}
			return false
		})
	}
	return u, state, nil
}

// filter drops a's affected entries in superseded namespaces, and a itself
// when none is left (nil). Rejected and withdrawn records are kept whole:
// their marks apply to every source.
func (j *job) filter(a *advisory.Advisory) *advisory.Advisory {
	if len(j.skip) == 0 || a.Rejected || !a.Withdrawn.IsZero() || len(a.Affected) == 0 {
		return a
	}
	drop := 0
	for i := range a.Affected {
		if j.skip[a.Affected[i].Namespace] {
			drop++
		}
	}
	if drop == 0 {
		return a
	}
	if drop == len(a.Affected) {
		for i := range a.Affected {
			j.superseded[a.Affected[i].Namespace] = true
		}
		return nil
	}
	c := *a
	c.Affected = make([]advisory.Affected, 0, len(a.Affected)-drop)
	for _, af := range a.Affected {
		if j.skip[af.Namespace] {
			j.superseded[af.Namespace] = true
			continue
		}
		c.Affected = append(c.Affected, af)
	}
	return &c
}

// noteNamespaces records the namespaces of a's affected entries.
func (j *job) noteNamespaces(a *advisory.Advisory) {
	last := ""
	for i := range a.Affected {
		if ns := a.Affected[i].Namespace; ns != last {
			j.namespaces[ns] = true
			last = ns
		}
	}
}
