// Package wildcard is Stowaway's one '*' pattern matcher, used by the
// registry's access rules (internal/server/auth), the scanning rules
// (internal/server/scanning), the lifecycle policies
// (internal/server/lifecycle), the event filters (internal/events) and, with
// IAM's '?', the policies (internal/server/iampolicy). It
// imports nothing, so every layer may use it.
package wildcard

import "strings"

// Match reports whether name matches pattern as a whole, '*' matching any
// run of bytes (possibly empty); every other byte matches itself. It is
// iterative with single-star backtracking, so it runs in
// O(len(pattern)*len(name)) whatever the pattern.
func Match(pattern, name string) bool { return match(pattern, name, false) }

// MatchIAM is Match with IAM's '?' as well, matching exactly one byte (the
// Action and Resource patterns of IAM policies, internal/server/iampolicy).
func MatchIAM(pattern, name string) bool { return match(pattern, name, true) }

func match(pattern, name string, question bool) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && (pattern[p] == name[n] || question && pattern[p] == '?'):
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// MatchFilter applies an ECR WILDCARD repository filter to name: a filter
// without '*' matches as a substring; otherwise the whole name must Match.
func MatchFilter(filter, name string) bool {
	if !strings.Contains(filter, "*") {
		return strings.Contains(name, filter)
	}
	return Match(filter, name)
}
