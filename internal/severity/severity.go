// Package severity is the severity vocabulary: ECR's levels as their wire
// strings, their order, parsing, the CVSS score to NVD rating mapping, and
// Amazon Inspector's name for an unscored finding (UNTRIAGED), which ECR's
// enhanced findings use.
// It imports nothing, so every layer may use it.
package severity

import (
	"fmt"
	"math"
	"strings"
)

// Severity is an ECR severity level; its value is the wire string.
type Severity string

// ECR's severity levels.
const (
	Undefined     Severity = "UNDEFINED"
	Informational Severity = "INFORMATIONAL"
	Low           Severity = "LOW"
	Medium        Severity = "MEDIUM"
	High          Severity = "HIGH"
	Critical      Severity = "CRITICAL"
)

// Untriaged is Amazon Inspector's level of a finding with no severity,
// which ECR's enhanced (Inspector) findings and their counts carry where
// basic findings say UNDEFINED. It ranks with UNDEFINED (0) and is not one
// of Levels: Parse does not accept it.
const Untriaged Severity = "UNTRIAGED"

// Inspector is s as an Inspector (enhanced finding) level: UNDEFINED
// becomes UNTRIAGED, every other level is kept.
func (s Severity) Inspector() Severity {
	if s == Undefined {
		return Untriaged
	}
	return s
}

// Levels are the known levels, lowest first.
var Levels = []Severity{Undefined, Informational, Low, Medium, High, Critical}

// Rank orders levels: UNDEFINED, UNTRIAGED and unknown strings 0, INFORMATIONAL 1, up
// to CRITICAL 5. It is case-sensitive: Parse first to accept any case.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 5
	case High:
		return 4
	case Medium:
		return 3
	case Low:
		return 2
	case Informational:
		return 1
	}
	return 0
}

// Known reports whether s is one of Levels.
func (s Severity) Known() bool { return s == Undefined || s.Rank() > 0 }

// Compare returns -1, 0 or +1 as a ranks below, equal to or above b.
func Compare(a, b Severity) int {
	ra, rb := a.Rank(), b.Rank()
	switch {
	case ra < rb:
		return -1
	case ra > rb:
		return 1
	}
	return 0
}

// Parse reads a level in any case.
func Parse(s string) (Severity, error) {
	v := Severity(strings.ToUpper(strings.TrimSpace(s)))
	if !v.Known() {
		return "", fmt.Errorf("severity %q: want one of UNDEFINED, INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL", s)
	}
	return v, nil
}

// FromCVSS maps a CVSS v3 (or v4) base score to NVD's qualitative rating:
// 0.0 NONE (reported as INFORMATIONAL, ECR's lowest level), 0.1–3.9 LOW,
// 4.0–6.9 MEDIUM, 7.0–8.9 HIGH, 9.0–10.0 CRITICAL. A score outside 0–10
// is UNDEFINED. CVSS v2 scores have their own scale: FromCVSSv2.
func FromCVSS(score float64) Severity {
	switch {
	case score < 0 || score > 10 || math.IsNaN(score):
		return Undefined
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	case score > 0:
		return Low
	}
	return Informational
}

// FromCVSSv2 maps a CVSS v2 base score to NVD's v2 rating, which has no
// CRITICAL: 0.0–3.9 LOW, 4.0–6.9 MEDIUM, 7.0–10.0 HIGH. A score outside
// 0–10 is UNDEFINED.
func FromCVSSv2(score float64) Severity {
	switch {
	case score < 0 || score > 10 || math.IsNaN(score):
		return Undefined
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	}
	return Low
}
