package lifecycle

import (
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"sort"
	"strings"
	"time"
)

// Image is what evaluation knows of one image: referrer artifacts (an SBOM
// whose subject is an image) and the children of an index are not passed in;
// the caller handles them (see Plan).
type Image struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
	// LastPulledAt is the last recorded pull (zero: never pulled, and
	// sinceImagePulled then counts from the push, as ECR does).
	LastPulledAt time.Time
}

// Expiring is an image a policy expires and the rule that expires it.
type Expiring struct {
	Image        Image
	RulePriority int
}

// Evaluate applies the policy to images at time now and returns the images
// it expires, oldest push first. It follows ECR's "Lifecycle policy
// evaluation rules" (LifecyclePolicies.md):
//
//   - rules run from the lowest rulePriority up; an image is expired by at
//     most one rule;
//   - a rule identifies every image that matches its tag selection, including
//     images earlier rules identified ("can still identify them as if they
//     haven't been expired"), and counts them all for imageCountMoreThan;
//   - but it never expires an image that a higher-priority (earlier) rule
//     identified ("An image that matches the tagging requirements of a rule
//     cannot be expired by a rule with a lower priority");
//   - imageCountMoreThan keeps the countNumber most recently pushed images
//     and expires the rest; sinceImagePushed expires images pushed more than
//     countNumber days before now; sinceImagePulled expires images last
//     pulled (or, never pulled, pushed) more than countNumber days before now;
//   - tagged with tagPrefixList/tagPatternList selects an image when every
//     entry of the list matches at least one of its tags (prefix, or whole
//     tag against the '*' pattern); untagged selects images without tags; any
//     selects all.
//
// Ties in push time are broken by digest, so results are deterministic.
func (p *Policy) Evaluate(images []Image, now time.Time) []Expiring {
	sorted := make([]Image, len(images))
	copy(sorted, images)
	// Newest first: the order imageCountMoreThan keeps from.
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.PushedAt.Equal(b.PushedAt) {
			return a.PushedAt.After(b.PushedAt)
		}
		return a.Digest > b.Digest
	})
	identified := map[string]bool{}
	expired := map[string]int{}
	for _, r := range p.Rules {
		var matched []Image
		for _, img := range sorted {
			if r.selects(img) {
				matched = append(matched, img)
			}
		}
		for i, img := range matched {
			if identified[img.Digest] {
				continue
			}
			if r.expires(i, img, now) {
				expired[img.Digest] = r.Priority
			}
		}
		for _, img := range matched {
			identified[img.Digest] = true
		}
	}
	var out []Expiring
	for i := len(sorted) - 1; i >= 0; i-- {
		if prio, ok := expired[sorted[i].Digest]; ok {
			out = append(out, Expiring{Image: sorted[i], RulePriority: prio})
		}
	}
	return out
}

// selects reports whether the rule's tag selection matches img.
func (r Rule) selects(img Image) bool {
	switch r.TagStatus {
	case TagStatusAny:
		return true
	case TagStatusUntagged:
		return len(img.Tags) == 0
	}
	if len(img.Tags) == 0 {
		return false
	}
	match := func(sel, tag string) bool { return strings.HasPrefix(tag, sel) }
	list := r.TagPrefixes
	if len(r.TagPatterns) > 0 {
		match, list = wildcard.Match, r.TagPatterns
	}
	for _, sel := range list {
		found := false
		for _, t := range img.Tags {
			if match(sel, t) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// expires reports whether the rule's count expires img, the i-th newest
// image the rule matched.
func (r Rule) expires(i int, img Image, now time.Time) bool {
	switch r.CountType {
	case CountImageCountMoreThan:
		return i >= r.CountNumber
	case CountSinceImagePushed:
		return img.PushedAt.Before(now.Add(-time.Duration(r.CountNumber) * 24 * time.Hour))
	case CountSinceImagePulled:
		last := img.LastPulledAt
		if last.IsZero() || last.Before(img.PushedAt) {
			last = img.PushedAt
		}
		return last.Before(now.Add(-time.Duration(r.CountNumber) * 24 * time.Hour))
	}
	return false
}
