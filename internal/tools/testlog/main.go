// Command testlog reads `go test -json` on standard input and writes what a
// plain `go test` would have printed (each package's ok/FAIL line, the
// output of failed tests, build errors), then the list of the tests that
// skipped with their skip messages, then one closing line
// "tests: N passed, N failed, N skipped". .ci/run pipes the README's test
// command through it, so a skip is visible without -v:
//
//	go test -json -count=1 ./... | go run ./internal/tools/testlog
//
// It exits 1 when a test, a package or a build failed, and 2 when its input
// cannot be read. Lines that are not JSON events are copied through.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	s, err := run(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testlog:", err)
		os.Exit(2)
	}
	if s.failed() {
		os.Exit(1)
	}
}

// Bounds on what one test may make us hold: its buffered output, and the
// skip message kept for the summary.
const (
	maxTestOutput = 1 << 20
	maxSkipLines  = 3
	maxSkipLine   = 300
	maxLine       = 1 << 20
)

// event is one test2json record (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	// FailedBuild names the build that failed a package's tests; that
	// build's own build-fail event already counted it.
	FailedBuild string
}

// skip is one skipped test and why.
type skip struct {
	Package, Test, Message string
}

type summary struct {
	Passed, Failed, Skipped int
	// Broken counts packages that failed outside any test (build failures,
	// a crash between tests) and build-only failures.
	Broken int
	Skips  []skip
}

func (s summary) failed() bool { return s.Failed > 0 || s.Broken > 0 }

// line is one output line and the test (or subtest) that wrote it.
type line struct {
	test, text string
}

// topTest buffers the output of one top-level test and its subtests until
// it ends: shown if any of them failed, dropped otherwise.
type topTest struct {
	lines   []line
	size    int
	dropped int
	failed  map[string]bool
}

func (b *topTest) add(test, text string) {
	if b.size+len(text) > maxTestOutput {
		b.dropped++
		return
	}
	b.size += len(text)
	b.lines = append(b.lines, line{test, text})
}

type pkgState struct {
	tops map[string]*topTest
	// order keeps the top-level tests in the order they started, to flush
	// the unfinished ones in a stable order when a package dies mid-test.
	order      []string
	testFailed bool
}

func run(r io.Reader, w io.Writer) (summary, error) {
	var s summary
	pkgs := map[string]*pkgState{}
	state := func(pkg string) *pkgState {
		p := pkgs[pkg]
		if p == nil {
			p = &pkgState{tops: map[string]*topTest{}}
			pkgs[pkg] = p
		}
		return p
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		raw, err := readLine(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			return s, fmt.Errorf("read go test -json: %w", err)
		}
		var ev event
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &ev) != nil || ev.Action == "" {
			fmt.Fprintf(w, "%s\n", raw)
			continue
		}
		switch ev.Action {
		case "build-output":
			io.WriteString(w, ev.Output)
		case "build-fail":
			s.Broken++
		case "output":
			if ev.Test == "" {
				// Package-level lines: "ok", "FAIL", crash output. A bare
				// PASS is what -v adds; plain go test does not print it.
				if ev.Output != "PASS\n" {
					io.WriteString(w, ev.Output)
				}
				continue
			}
			p := state(ev.Package)
			top := topName(ev.Test)
			b := p.tops[top]
			if b == nil {
				b = &topTest{failed: map[string]bool{}}
				p.tops[top] = b
				p.order = append(p.order, top)
			}
			b.add(ev.Test, ev.Output)
		case "pass", "fail", "skip":
			if ev.Test == "" {
				p := state(ev.Package)
				if ev.Action == "fail" && !p.testFailed && ev.FailedBuild == "" {
					s.Broken++
				}
				// Tests still open when the package ends were running when
				// it died (a panic, a timeout): show all they wrote.
				for _, top := range p.order {
					if b := p.tops[top]; b != nil {
						writeLines(w, b, true)
					}
				}
				delete(pkgs, ev.Package)
				continue
			}
			p := state(ev.Package)
			top := topName(ev.Test)
			b := p.tops[top]
			switch ev.Action {
			case "pass":
				s.Passed++
			case "fail":
				s.Failed++
				p.testFailed = true
				if b != nil {
					b.failed[ev.Test] = true
				}
			case "skip":
				s.Skipped++
				s.Skips = append(s.Skips, skip{Package: ev.Package, Test: ev.Test, Message: skipMessage(b, ev.Test)})
			}
			if ev.Test == top && b != nil {
				if len(b.failed) > 0 {
					writeLines(w, b, false)
				}
				delete(p.tops, top)
			}
		}
	}
	writeSummary(w, s)
	return s, nil
}

// readLine returns the next line without its newline, cut to maxLine bytes
// (the rest of a longer line is read and dropped), and io.EOF at the end.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf) < maxLine {
			buf = append(buf, chunk[:min(len(chunk), maxLine-len(buf))]...)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(buf) > 0:
			return buf, nil
		case err != nil:
			return nil, err
		}
		return bytes.TrimSuffix(buf, []byte("\n")), nil
	}
}

func topName(test string) string {
	top, _, _ := strings.Cut(test, "/")
	return top
}

// writeLines prints a top-level test's buffered output: the lines of its
// failed tests, or all of them when all is set. The === lines are -v's.
func writeLines(w io.Writer, b *topTest, all bool) {
	for _, l := range b.lines {
		if !all && !b.failed[l.test] {
			continue
		}
		if strings.HasPrefix(l.text, "=== ") {
			continue
		}
		io.WriteString(w, l.text)
	}
	if b.dropped > 0 {
		fmt.Fprintf(w, "testlog: %d more output lines of this test not shown\n", b.dropped)
	}
}

// skipMessage is test's skip message: the last file:line entry it wrote
// before it skipped (t.Skip logs its message last) and that entry's
// continuation lines, bounded. Earlier t.Log lines are left out.
func skipMessage(b *topTest, test string) string {
	if b == nil {
		return ""
	}
	var msg []string
	for _, l := range b.lines {
		t := strings.TrimSpace(l.text)
		if l.test != test || t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		if isLogEntry(t) {
			msg = msg[:0]
		}
		if len(msg) >= maxSkipLines {
			if msg[len(msg)-1] != "…" {
				msg = append(msg, "…")
			}
			continue
		}
		if len(t) > maxSkipLine {
			t = t[:maxSkipLine] + "…"
		}
		msg = append(msg, t)
	}
	return strings.Join(msg, " ")
}

// isLogEntry reports whether s starts as testing's log lines do:
// "name.go:123: ".
func isLogEntry(s string) bool {
	file, _, ok := strings.Cut(s, ": ")
	if !ok {
		return false
	}
	name, num, ok := strings.Cut(file, ".go:")
	if !ok || name == "" || num == "" {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func writeSummary(w io.Writer, s summary) {
	skips := append([]skip(nil), s.Skips...)
	sort.SliceStable(skips, func(i, j int) bool {
		if skips[i].Package != skips[j].Package {
			return skips[i].Package < skips[j].Package
		}
		return skips[i].Test < skips[j].Test
	})
	fmt.Fprintf(w, "\n== skipped tests (%d)\n", len(skips))
	for _, k := range skips {
		msg := k.Message
		if msg == "" {
			msg = "(no message)"
		}
		fmt.Fprintf(w, "%s %s: %s\n", k.Package, k.Test, msg)
	}
	if s.Broken > 0 {
		fmt.Fprintf(w, "testlog: %d package(s) or build(s) failed outside any test\n", s.Broken)
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
}
