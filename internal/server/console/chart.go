package console

import (
	"strconv"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// dayCount is one dayCount of the timeline: open findings per severity at its end.
type dayCount struct {
	Date   time.Time
	Counts map[severity.Severity]int
	Total  int
}

// timeline counts, for each of the days ending today (UTC), the findings
// open at the end of that dayCount: seen on or before it and not resolved by
// then.
func timeline(spans []store.ConsoleSpan, today time.Time, days int) []dayCount {
	end := today.UTC().Truncate(24 * time.Hour)
	last := end.UnixMilli() / (24 * 60 * 60 * 1000)
	out := make([]dayCount, days)
	for i := range out {
		d := last - int64(days-1-i)
		out[i] = dayCount{Date: time.UnixMilli(d * 24 * 60 * 60 * 1000).UTC(), Counts: map[severity.Severity]int{}}
		for _, sp := range spans {
			if sp.FirstDay <= d && (sp.ResolvedDay < 0 || sp.ResolvedDay > d) {
				sev := sp.Severity
				if sev.Rank() == 0 {
					sev = severity.Undefined
				}
				out[i].Counts[sev] += sp.N
				out[i].Total += sp.N
			}
		}
	}
	return out
}

// chart is a stacked bar chart of a timeline, laid out for SVG.
type chart struct {
	Width, Height int
	PlotTop       int
	PlotBottom    int
	Max           int
	Columns       []chartColumn
	Ticks         []tick
	Labels        []label
}

type chartColumn struct {
	Date  string
	Total int
	Rects []rect
}

type rect struct {
	Severity   severity.Severity
	X, Y, W, H float64
	N          int
}

type tick struct {
	Y     float64
	Value string
}

type label struct {
	X    float64
	Text string
}

// newChart lays out days as stacked columns, most severe at the bottom.
func newChart(days []dayCount, width, height int) chart {
	c := chart{Width: width, Height: height, PlotTop: 10, PlotBottom: height - 24}
	for _, d := range days {
		c.Max = max(c.Max, d.Total)
	}
	scaleMax := niceCeil(c.Max)
	left, plotH := 44.0, float64(c.PlotBottom-c.PlotTop)
	colW := (float64(width) - left - 4) / float64(max(1, len(days)))
	for i, d := range days {
		x := left + float64(i)*colW
		col := chartColumn{Date: d.Date.Format("2006-01-02"), Total: d.Total}
		y := float64(c.PlotBottom)
		for _, s := range displaySeverities {
			n := d.Counts[s]
			if n == 0 {
				continue
			}
			h := plotH * float64(n) / float64(scaleMax)
			y -= h
			col.Rects = append(col.Rects, rect{Severity: s, X: x + 1, Y: y, W: max(colW-2, 1), H: h, N: n})
		}
		c.Columns = append(c.Columns, col)
		if i == 0 || i == len(days)-1 || i == len(days)/2 {
			c.Labels = append(c.Labels, label{X: x + colW/2, Text: d.Date.Format("Jan 2")})
		}
	}
	for _, v := range []int{0, scaleMax / 2, scaleMax} {
		c.Ticks = append(c.Ticks, tick{Y: float64(c.PlotBottom) - plotH*float64(v)/float64(scaleMax), Value: strconv.Itoa(v)})
	}
	return c
}

// niceCeil rounds n up to 1, 2, 4 or 5 times a power of ten (at least 2, so
// the middle tick is a whole number).
func niceCeil(n int) int {
	if n <= 2 {
		return 2
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 4, 5} {
			if m*p >= n && (m*p)%2 == 0 {
				return m * p
			}
		}
	}
}
