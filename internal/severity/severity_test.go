package severity

import (
	"math"
	"testing"
)

func TestRankAndParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Severity
		rank    int
		wantErr bool
	}{
		{"CRITICAL", Critical, 5, false},
		{"high", High, 4, false},
		{" Medium ", Medium, 3, false},
		{"LOW", Low, 2, false},
		{"informational", Informational, 1, false},
		{"UNDEFINED", Undefined, 0, false},
		{"SEVERE", "", 0, true},
		{"", "", 0, true},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want || got.Rank() != tc.rank {
			t.Errorf("Parse(%q) = %q (rank %d), %v; want %q (rank %d), error %v", tc.in, got, got.Rank(), err, tc.want, tc.rank, tc.wantErr)
		}
	}
	for i := 1; i < len(Levels); i++ {
		if Compare(Levels[i-1], Levels[i]) != -1 || Compare(Levels[i], Levels[i-1]) != 1 || Compare(Levels[i], Levels[i]) != 0 {
			t.Errorf("Compare out of order at %s", Levels[i])
		}
	}
}

func TestFromCVSS(t *testing.T) {
	tests := []struct {
		score float64
		want  Severity
	}{
		{0, Informational}, {0.1, Low}, {3.9, Low}, {4.0, Medium}, {6.9, Medium},
		{7.0, High}, {8.9, High}, {9.0, Critical}, {10, Critical},
		{-1, Undefined}, {10.1, Undefined}, {math.NaN(), Undefined},
	}
	for _, tc := range tests {
		if got := FromCVSS(tc.score); got != tc.want {
			t.Errorf("FromCVSS(%v) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

func TestFromCVSSv2(t *testing.T) {
	tests := []struct {
		score float64
		want  Severity
	}{
		{0, Low}, {3.9, Low}, {4.0, Medium}, {6.9, Medium},
		{7.0, High}, {9.3, High}, {10, High},
		{-1, Undefined}, {10.1, Undefined}, {math.NaN(), Undefined},
	}
	for _, tc := range tests {
		if got := FromCVSSv2(tc.score); got != tc.want {
			t.Errorf("FromCVSSv2(%v) = %s, want %s", tc.score, got, tc.want)
		}
	}
}

func TestInspector(t *testing.T) {
	tests := []struct {
		in, want Severity
	}{
		{Undefined, Untriaged},
		{Informational, Informational},
		{Critical, Critical},
		{Untriaged, Untriaged},
	}
	for _, tc := range tests {
		if got := tc.in.Inspector(); got != tc.want {
			t.Errorf("%s.Inspector() = %s, want %s", tc.in, got, tc.want)
		}
	}
	if Untriaged.Rank() != 0 || Compare(Untriaged, Undefined) != 0 {
		t.Errorf("UNTRIAGED ranks %d, want 0 like UNDEFINED", Untriaged.Rank())
	}
	if _, err := Parse("UNTRIAGED"); err == nil {
		t.Error("Parse(UNTRIAGED) succeeded; it is not one of ECR's levels")
	}
}
