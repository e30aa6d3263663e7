package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// sections parses -only: a comma-separated list of section names. The
// returned function reports whether a section runs; an empty list runs all.
func sections(only string) func(string) bool {
	set := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			set[s] = true
		}
	}
	return func(name string) bool { return len(set) == 0 || set[name] }
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of xs, or 0
// for no values.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}

// median is the middle value of xs (the mean of the two middle ones for an
// even count), or 0 for no values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// geomean is the geometric mean of the positive values of xs, or 0.
func geomean(xs []float64) float64 {
	var sum float64
	n := 0
	for _, x := range xs {
		if x > 0 {
			sum += math.Log(x)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Exp(sum / float64(n))
}

// orDash formats v, or "-" when it is zero (not measured).
func orDash(format string, v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// quotient formats now/then, or "-" when either is missing.
func quotient(now, then float64) string {
	if now == 0 || then == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", now/then)
}

// valueString formats a result's Value with its Unit.
func valueString(r Result) string {
	if r.Value == 0 {
		return "-"
	}
	v := fmt.Sprintf("%.3g", r.Value)
	if math.Abs(r.Value) >= 1000 {
		v = fmt.Sprintf("%.0f", r.Value)
	}
	if r.Unit == "" {
		return v
	}
	return v + " " + r.Unit
}
