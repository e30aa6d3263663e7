package scanning

import (
	"errors"
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatchFilter(t *testing.T) {
	tests := []struct {
		filter, repo string
		want         bool
	}{
		{"prod", "prod-repo", true},
		{"prod", "repo-prod", true}, // no '*': substring
		{"prod", "pro", false},
		{"prod*", "prod-repo", true},
		{"prod*", "repo-prod", false},
		{"prod*", "prod", true}, // '*' matches zero characters
		{"*prod", "repo-prod", true},
		{"*prod", "prod-repo", false},
		{"*", "anything/at/all", true},
		{"team/*/api", "team/a/b/api", true},
		{"team/*/api", "team/api", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"**", "", true},
	}
	for _, tt := range tests {
		if got := wildcard.MatchFilter(tt.filter, tt.repo); got != tt.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", tt.filter, tt.repo, got, tt.want)
		}
	}
}

func rule(f Frequency, filters ...string) Rule {
	r := Rule{ScanFrequency: f}
	for _, s := range filters {
		r.RepositoryFilters = append(r.RepositoryFilters, Filter{Filter: s, FilterType: "WILDCARD"})
	}
	return r
}

func TestValidate(t *testing.T) {
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name string
		cfg  Config
		code string // "" = valid
	}{
		{"default", DefaultConfig(), ""},
		{"basic push", Config{ScanBasic, []Rule{rule(ScanOnPush, "prod*")}}, ""},
		{"basic continuous", Config{ScanBasic, []Rule{rule(ContinuousScan, "prod")}}, "InvalidParameterException"},
		{"basic manual", Config{ScanBasic, []Rule{rule(Manual, "prod")}}, "InvalidParameterException"},
		{"enhanced both", Config{ScanEnhanced, []Rule{rule(ScanOnPush, "a"), rule(ContinuousScan, "b")}}, ""},
		{"enhanced push", Config{ScanEnhanced, []Rule{rule(ScanOnPush, "a")}}, ""},
		{"enhanced continuous", Config{ScanEnhanced, []Rule{rule(ContinuousScan, "*")}}, ""},
		{"enhanced manual", Config{ScanEnhanced, []Rule{rule(Manual, "a")}}, "InvalidParameterException"},
		{"enhanced manual second", Config{ScanEnhanced, []Rule{rule(ContinuousScan, "a"), rule(Manual, "b")}}, "InvalidParameterException"},
		{"three rules", Config{ScanEnhanced, []Rule{rule(ScanOnPush, "a"), rule(ContinuousScan, "b"), rule(Manual, "c")}}, "ValidationException"},
		{"duplicate freq", Config{ScanEnhanced, []Rule{rule(ScanOnPush, "a"), rule(ScanOnPush, "b")}}, "InvalidParameterException"},
		{"bad type", Config{"FANCY", nil}, "ValidationException"},
		{"bad freq", Config{ScanEnhanced, []Rule{rule("HOURLY", "a")}}, "ValidationException"},
		{"no filters", Config{ScanBasic, []Rule{rule(ScanOnPush)}}, "ValidationException"},
		{"uppercase filter", Config{ScanBasic, []Rule{rule(ScanOnPush, "Prod")}}, "ValidationException"},
		{"leading dash", Config{ScanBasic, []Rule{rule(ScanOnPush, "-prod")}}, "ValidationException"},
		{"double slash", Config{ScanBasic, []Rule{rule(ScanOnPush, "a//b")}}, "ValidationException"},
		{"too long", Config{ScanBasic, []Rule{rule(ScanOnPush, string(long))}}, "ValidationException"},
		{"filter type", Config{ScanBasic, []Rule{{ScanOnPush, []Filter{{"a", "REGEX"}}}}}, "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var ce *ConfigError
			got := ""
			if errors.As(err, &ce) {
				got = ce.Code
			} else if err != nil {
				t.Fatalf("error %v is not a *ConfigError", err)
			}
			if got != tt.code {
				t.Errorf("Validate() code = %q, want %q (err %v)", got, tt.code, err)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	enhanced := Config{ScanEnhanced, []Rule{rule(ScanOnPush, "prod"), rule(ContinuousScan, "prod-*", "critical")}}
	basic := Config{ScanBasic, []Rule{rule(ScanOnPush, "app*")}}
	tests := []struct {
		name     string
		cfg      Config
		repo     string
		repoFlag bool
		want     Effective
	}{
		{"continuous wins", enhanced, "prod-api", false, Effective{ContinuousScan, true, true, true, []Filter{{"prod-*", "WILDCARD"}}}},
		{"push only", enhanced, "my-prod", false, Effective{ScanOnPush, true, true, true, []Filter{{"prod", "WILDCARD"}}}},
		{"enhanced unmatched", enhanced, "dev", false, Effective{Manual, false, true, false, nil}},
		{"basic matched", basic, "app-web", false, Effective{ScanOnPush, true, false, true, []Filter{{"app*", "WILDCARD"}}}},
		{"basic unmatched manual", basic, "web-app", false, Effective{Manual, true, false, false, nil}},
		{"basic repo flag", basic, "web-app", true, Effective{ScanOnPush, true, false, true, nil}},
		{"enhanced ignores repo flag", enhanced, "dev", true, Effective{Manual, false, true, false, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.cfg.Evaluate(tt.repo, tt.repoFlag)); diff != "" {
				t.Errorf("Evaluate(%q) mismatch (-want +got):\n%s", tt.repo, diff)
			}
		})
	}
}

func FuzzMatchFilter(f *testing.F) {
	f.Add("prod*", "prod-repo")
	f.Add("a*b*c", "axxbyyc")
	f.Fuzz(func(t *testing.T, filter, repo string) {
		got := wildcard.MatchFilter(filter, repo)
		if filter == "*" && !got {
			t.Fatalf("'*' must match %q", repo)
		}
		if !containsStar(filter) && got != contains(repo, filter) {
			t.Fatalf("substring semantics broken for %q in %q", filter, repo)
		}
	})
}

func containsStar(s string) bool {
	for i := range len(s) {
		if s[i] == '*' {
			return true
		}
	}
	return false
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
