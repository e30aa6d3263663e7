package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// progressEvery is how often a plain (non-terminal) progress line is
// printed for a source that is still running.
const progressEvery = 10 * time.Second

// progressPrinter shows `db update` progress on stderr: on a terminal one
// live line rewritten in place for the running source, and a kept line
// per finished source; otherwise plain lines, one when a source starts,
// one every progressEvery while it runs and one when it is done.
type progressPrinter struct {
	w    io.Writer
	live bool
	now  func() time.Time
	// cur is the running source and last when a plain line was last
	// printed for it; dirty says a live line is on screen.
	cur   string
	last  time.Time
	dirty bool
}

func newProgressPrinter(w io.Writer, now func() time.Time) *progressPrinter {
	return &progressPrinter{w: w, live: isTerminal(w), now: now}
}

// isTerminal says whether w is a character device (a terminal) that
// understands the erase-line escape.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progressPrinter) report(pr vulndb.Progress) {
	prefix := fmt.Sprintf("[%d/%d] %s", pr.Index+1, pr.Total, pr.Source)
	switch {
	case pr.Done:
		p.clear()
		fmt.Fprintln(p.w, prefix+": "+doneText(pr))
	case p.live:
		fmt.Fprint(p.w, "\r\x1b[K"+prefix+": "+runningText(pr))
		p.dirty = true
	case pr.Source != p.cur:
		fmt.Fprintln(p.w, prefix+": started")
		p.cur, p.last = pr.Source, p.now()
	case p.now().Sub(p.last) >= progressEvery:
		fmt.Fprintln(p.w, prefix+": "+runningText(pr))
		p.last = p.now()
	}
}

// end removes a live line left on screen (an update that failed).
func (p *progressPrinter) end() { p.clear() }

func (p *progressPrinter) clear() {
	if p.dirty {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.dirty = false
	}
}

func runningText(pr vulndb.Progress) string {
	return fmt.Sprintf("%d records, %s read, %s", pr.Records, mib(pr.Bytes), pr.Elapsed.Round(time.Second))
}

func doneText(pr vulndb.Progress) string {
	r := pr.Report
	var b strings.Builder
	b.WriteString(string(r.Outcome))
	switch r.Outcome {
	case vulndb.Updated:
		fmt.Fprintf(&b, ", %d records (%d advisories, %d affected", pr.Records, r.Advisories, r.Affected)
		if r.Enrichment > 0 {
			fmt.Fprintf(&b, ", %d enrichment", r.Enrichment)
		}
		b.WriteString(")")
		if n := len(r.Malformed); n > 0 {
			fmt.Fprintf(&b, ", %d malformed skipped", n)
		}
		fmt.Fprintf(&b, ", %s read", mib(pr.Bytes))
	case vulndb.Unchanged:
		b.WriteString(": previous records copied")
	case vulndb.Kept:
		b.WriteString(": previous records kept; " + r.Err)
	case vulndb.Failed:
		b.WriteString(": " + r.Err)
	}
	fmt.Fprintf(&b, " in %s", pr.Elapsed.Round(100*time.Millisecond))
	return b.String()
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
