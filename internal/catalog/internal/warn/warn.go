// Package warn collects a parser's warnings about malformed records with a
// bound on how many are kept, so that a file of a million bad lines costs a
// million counter increments, not a million strings in the result.
package warn

import "fmt"

// Max is how many warnings a List keeps by default; the rest are counted in
// one closing warning.
const Max = 20

// List is a bounded list of warnings. The zero value keeps Max warnings.
type List struct {
	// Limit is how many warnings are kept (0 means Max).
	Limit   int
	items   []string
	dropped int
}

// Addf adds a warning.
func (l *List) Addf(format string, a ...any) {
	limit := l.Limit
	if limit <= 0 {
		limit = Max
	}
	if len(l.items) >= limit {
		l.dropped++
		return
	}
	l.items = append(l.items, fmt.Sprintf(format, a...))
}

// Len is the number of warnings added, kept or not.
func (l *List) Len() int { return len(l.items) + l.dropped }

// First returns the first warning ("" when there is none).
func (l *List) First() string {
	if len(l.items) == 0 {
		return ""
	}
	return l.items[0]
}

// Strings returns the kept warnings, each prefixed with prefix, plus one
// saying how many more there were; nil when there were none.
func (l *List) Strings(prefix string) []string {
	if l.Len() == 0 {
		return nil
	}
	out := make([]string, 0, len(l.items)+1)
	for _, s := range l.items {
		out = append(out, prefix+s)
	}
	if l.dropped > 0 {
		out = append(out, fmt.Sprintf("%s%d more problems not listed", prefix, l.dropped))
	}
	return out
}
