package events

import (
	"context"
	"github.com/stowaway-scanner/stowaway/internal/severity"
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"testing"
)

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		filter, name string
		want         bool
	}{
		{"prod", "team/prod-api", true}, // substring without *
		{"prod", "staging", false},
		{"prod*", "prod-repo", true},
		{"prod*", "repo-prod", false},
		{"*prod", "repo-prod", true},
		{"*prod", "prod-repo", false},
		{"*", "anything", true},
		{"*", "", true},
		{"team/*/api", "team/x/y/api", true},
		{"team/*/api", "team/api", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, // prefix and suffix may not overlap
		{"ab*ba", "abba", true},
		{"**", "x", true},
	}
	for _, tc := range tests {
		if got := wildcard.MatchFilter(tc.filter, tc.name); got != tc.want {
			t.Errorf("MatchWildcard(%q, %q) = %v, want %v", tc.filter, tc.name, got, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	img := func(repo string) Image { i := testImage; i.Repository = repo; return i }
	scan := func(repo string, counts map[severity.Severity]int) Event {
		ev, err := ScanCompleted(testMeta, img(repo), "COMPLETE", counts)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	change := func(repo string, added, resolved []Finding) Event {
		ev, err := NewFindings(testMeta, img(repo), added, resolved, map[severity.Severity]int{"CRITICAL": 3})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	inspector := func(repo string, counts map[severity.Severity]int) Event {
		ev, err := InspectorScan(testMeta, img(repo), "COMPLETE", counts)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	tests := []struct {
		name    string
		filter  Filter
		ev      Event
		want    bool
		wantErr bool
	}{
		{"no filter", Filter{}, scan("a", nil), true, false},
		{"repo hit", Filter{Repositories: []string{"zzz", "prod*"}}, scan("prod/api", nil), true, false},
		{"repo miss", Filter{Repositories: []string{"prod*"}}, scan("dev/prod", nil), false, false},
		{"severity hit", Filter{MinSeverity: "HIGH"}, scan("a", map[severity.Severity]int{"CRITICAL": 1}), true, false},
		{"severity equal", Filter{MinSeverity: "high"}, scan("a", map[severity.Severity]int{"HIGH": 1, "LOW": 9}), true, false},
		{"severity miss", Filter{MinSeverity: "HIGH"}, scan("a", map[severity.Severity]int{"MEDIUM": 4}), false, false},
		{"clean image", Filter{MinSeverity: "LOW"}, scan("a", nil), false, false},
		{"undefined below informational", Filter{MinSeverity: "INFORMATIONAL"}, scan("a", map[severity.Severity]int{"UNDEFINED": 2}), false, false},
		{"change: new finding counts", Filter{MinSeverity: "HIGH"}, change("a", []Finding{{Name: "CVE-1", Severity: "CRITICAL"}}, nil), true, false},
		{"change: only resolved high (counts ignored)", Filter{MinSeverity: "HIGH"}, change("a", []Finding{{Name: "CVE-2", Severity: "LOW"}}, []Finding{{Name: "CVE-1", Severity: "CRITICAL"}}), false, false},
		{"detail type hit", Filter{DetailTypes: []string{DetailTypeScan}}, scan("a", nil), true, false},
		{"detail type miss", Filter{DetailTypes: []string{DetailTypeFindingsChange}}, scan("a", nil), false, false},
		{"inspector: repository from the ARN", Filter{Repositories: []string{"prod*"}}, inspector("prod/api", nil), true, false},
		{"inspector: ARN prefix is not the name", Filter{Repositories: []string{"arn*"}}, inspector("prod/api", nil), false, false},
		{"inspector: TOTAL is not a severity", Filter{MinSeverity: "LOW"}, inspector("a", map[severity.Severity]int{"UNDEFINED": 3}), false, false},
		{"inspector: UNTRIAGED ranks as UNDEFINED", Filter{MinSeverity: "UNDEFINED"}, inspector("a", map[severity.Severity]int{"UNTRIAGED": 1}), true, false},
		{"inspector: UNTRIAGED below informational", Filter{MinSeverity: "INFORMATIONAL"}, inspector("a", map[severity.Severity]int{"UNTRIAGED": 1}), false, false},
		{"change: new UNTRIAGED finding", Filter{MinSeverity: "UNDEFINED"}, change("a", []Finding{{Name: "GHSA-1", Severity: "UNTRIAGED"}}, nil), true, false},
		{"inspector: severity hit", Filter{MinSeverity: "HIGH"}, inspector("a", map[severity.Severity]int{"CRITICAL": 1}), true, false},
		{"unknown level", Filter{MinSeverity: "SEVERE"}, scan("a", map[severity.Severity]int{"HIGH": 1}), false, true},
		{"bad detail", Filter{}, Event{ID: "x", Detail: []byte(`[`)}, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{}
			f := tc.filter
			f.Sink = s
			err := f.Write(context.Background(), tc.ev)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr && !IsPermanent(err) {
				t.Errorf("filter error %v is not permanent", err)
			}
			if got := s.calls == 1; got != tc.want {
				t.Errorf("forwarded = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidWildcard(t *testing.T) {
	tests := []struct {
		filter string
		ok     bool
	}{
		{"prod*", true},
		{"team/web", true},
		{"*", true},
		{"a.b-c_d/e", true},
		{"", false},
		{"Prod", false},
		{"prod-", false},
		{"a//b", false},
		{"-a", false},
		{string(make([]byte, 256)), false},
	}
	for _, tc := range tests {
		if err := ValidWildcard(tc.filter); (err == nil) != tc.ok {
			t.Errorf("ValidWildcard(%q) = %v, want ok %v", tc.filter, err, tc.ok)
		}
	}
}
