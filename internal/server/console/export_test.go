package console

import (
	"io"
	"testing"
)

// For the end-to-end test (package console_test), which cannot be in this
// package: it starts a server, and the server imports this package.

// PageFacts parses an HTML page and returns its data-fact texts.
func PageFacts(t testing.TB, r io.Reader) map[string]string { return parsePage(t, r).facts() }

// PageRows parses an HTML page and returns the rows of table id.
func PageRows(t testing.TB, r io.Reader, id string) []map[string]string {
	return parsePage(t, r).rows(id)
}

// PageCounts parses an HTML page and returns the severity counts under the
// first element with data-fact=fact.
func PageCounts(t testing.TB, r io.Reader, fact string) map[string]int {
	return sevCounts(parsePage(t, r).find("data-fact", fact))
}
