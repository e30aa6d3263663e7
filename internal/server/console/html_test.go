package console

import (
	"io"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// page is a parsed console page: the facts the tests compare.
type page struct {
	root *html.Node
}

func parsePage(t testing.TB, r io.Reader) page {
	t.Helper()
	n, err := html.Parse(r)
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return page{root: n}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func walk(n *html.Node, fn func(*html.Node) bool) {
	if !fn(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) bool {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
		// SVG <title> tooltips are not visible text.
		return !(c.Type == html.ElementNode && c.Data == "svg")
	})
	return strings.Join(strings.Fields(b.String()), " ")
}

// facts maps each data-fact element to its text (the first of a name).
func (p page) facts() map[string]string {
	out := map[string]string{}
	walk(p.root, func(n *html.Node) bool {
		if n.Type == html.ElementNode {
			if k, ok := attr(n, "data-fact"); ok {
				if _, seen := out[k]; !seen {
					out[k] = text(n)
				}
			}
		}
		return true
	})
	return out
}

// find returns the first element with the attribute key=val.
func (p page) find(key, val string) *html.Node {
	var found *html.Node
	walk(p.root, func(n *html.Node) bool {
		if found != nil {
			return false
		}
		if n.Type == html.ElementNode {
			if v, ok := attr(n, key); ok && v == val {
				found = n
				return false
			}
		}
		return true
	})
	return found
}

// sevCounts reads the data-sev counts under n.
func sevCounts(n *html.Node) map[string]int {
	out := map[string]int{}
	if n == nil {
		return out
	}
	walk(n, func(c *html.Node) bool {
		if c.Type == html.ElementNode {
			if s, ok := attr(c, "data-sev"); ok {
				v, _ := strconv.Atoi(text(c))
				out[s] = v
			}
		}
		return true
	})
	return out
}

// rows returns the data-row rows of table id: column name to text.
func (p page) rows(id string) []map[string]string {
	var out []map[string]string
	t := p.find("id", id)
	if t == nil {
		return nil
	}
	walk(t, func(n *html.Node) bool {
		if n.Type != html.ElementNode || n.Data != "tr" {
			return true
		}
		if _, ok := attr(n, "data-row"); !ok {
			return false
		}
		r := map[string]string{}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if col, ok := attr(c, "data-col"); ok {
				r[col] = text(c)
			}
		}
		out = append(out, r)
		return false
	})
	return out
}

// column returns one column of rows.
func column(rows []map[string]string, col string) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r[col])
	}
	return out
}

// links returns the hrefs of <a> elements under the first element with
// key=val, in order.
func (p page) links(key, val string) []string {
	var out []string
	n := p.find(key, val)
	if n == nil {
		return nil
	}
	walk(n, func(c *html.Node) bool {
		if c.Type == html.ElementNode && c.Data == "a" {
			h, _ := attr(c, "href")
			out = append(out, h)
		}
		return true
	})
	return out
}
