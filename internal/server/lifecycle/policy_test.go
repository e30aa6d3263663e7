package lifecycle

import (
	"bytes"
	"errors"
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const prefix = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "

func rule(prio string, sel string) string {
	return `{"rulePriority":` + prio + `,"selection":` + sel + `,"action":{"type":"expire"}}`
}

func policy(rules ...string) string {
	return `{"rules":[` + strings.Join(rules, ",") + `]}`
}

const (
	untaggedKeep1 = `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1}`
	anyKeep1      = `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1}`
	prodKeep1     = `{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1}`
)

func TestParseValid(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "valid-all-rule-types.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	want := &Policy{Rules: []Rule{
		{Priority: 1, Description: "Rule 1", TagStatus: "tagged", TagPrefixes: []string{"alpha"}, CountType: "imageCountMoreThan", CountNumber: 1, Action: "expire"},
		{Priority: 2, Description: "Rule 2", TagStatus: "untagged", CountType: "sinceImagePushed", CountUnit: "days", CountNumber: 1, Action: "expire"},
		{Priority: 3, Description: "Rule 3", TagStatus: "any", CountType: "imageCountMoreThan", CountNumber: 1, Action: "expire"},
	}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	// Rules come back sorted by priority whatever their order in the text.
	p, err = Parse(strings.NewReader(policy(rule("9", anyKeep1), rule("2", untaggedKeep1), rule("4", prodKeep1))))
	if err != nil {
		t.Fatal(err)
	}
	var prios []int
	for _, r := range p.Rules {
		prios = append(prios, r.Priority)
	}
	if !cmp.Equal(prios, []int{2, 4, 9}) {
		t.Errorf("priorities = %v", prios)
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name, text, detail string
	}{
		{"not JSON", `{"rules":[`, "Could not map policyString into LifecyclePolicy."},
		{"not an object", `[1]`, "Could not map policyString into LifecyclePolicy."},
		{"no rules", `{"rulez":[]}`, `object has missing required properties (["rules"])`},
		{"unknown top field", `{"rules":[` + rule("1", untaggedKeep1) + `],"x":1}`, `object instance has properties which are not allowed by the schema: (["x"])`},
		{"empty rules", `{"rules":[]}`, "array is too short: must have at least 1 elements but instance has 0 elements"},
		{"rule not object", `{"rules":[1]}`, `instance type (integer) does not match any allowed primitive type (allowed: ["object"])`},
		{"missing action", `{"rules":[{"rulePriority":1,"selection":` + untaggedKeep1 + `}]}`, `object has missing required properties (["action"])`},
		{"unknown rule field", `{"rules":[{"rulePriority":1,"priority":2,"selection":` + untaggedKeep1 + `,"action":{"type":"expire"}}]}`, `object instance has properties which are not allowed by the schema: (["priority"])`},
		{"priority zero", policy(rule("0", untaggedKeep1)), "numeric instance is lower than the required minimum (minimum: 1, found: 0)"},
		{"priority negative", policy(rule("-3", untaggedKeep1)), "numeric instance is lower than the required minimum (minimum: 1, found: -3)"},
		{"priority not integer", policy(rule("1.5", untaggedKeep1)), `instance type (number) does not match any allowed primitive type (allowed: ["integer"])`},
		{"priority string", policy(rule(`"1"`, untaggedKeep1)), `instance type (string) does not match any allowed primitive type (allowed: ["integer"])`},
		{"duplicate priority", policy(rule("1", untaggedKeep1), rule("1", prodKeep1)), "rulePriority 1 is used by more than one rule; rule priorities must be unique"},
		{"bad tagStatus", policy(rule("1", `{"tagStatus":"TAGGED","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`)), `instance value (TAGGED) not found in enum :(possible values: ["any","tagged","untagged"])`},
		{"bad action", `{"rules":[{"rulePriority":1,"selection":` + untaggedKeep1 + `,"action":{"type":"delete"}}]}`, `instance value (delete) not found in enum :(possible values: ["expire"])`},
		{"unknown selection field", policy(rule("1", `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1,"storageClass":"archive"}`)), `object instance has properties which are not allowed by the schema: (["storageClass"])`},
		{"tagged without list", policy(rule("1", `{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}`)), "tagPrefixList or tagPatternList is required when tagStatus is tagged"},
		{"both lists", policy(rule("1", `{"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["b*"],"countType":"imageCountMoreThan","countNumber":1}`)), "tagPrefixList and tagPatternList cannot both be specified in one rule"},
		{"untagged with list", policy(rule("1", `{"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`)), "tagPrefixList and tagPatternList can only be used when tagStatus is tagged"},
		{"any with patterns", policy(rule("1", `{"tagStatus":"any","tagPatternList":["a*"],"countType":"imageCountMoreThan","countNumber":1}`)), "tagPrefixList and tagPatternList can only be used when tagStatus is tagged"},
		{"five wildcards", policy(rule("1", `{"tagStatus":"tagged","tagPatternList":["test*1*2*3*4*5"],"countType":"imageCountMoreThan","countNumber":1}`)), `tagPatternList entry "test*1*2*3*4*5" has more than 4 wildcards (*)`},
		{"empty list", policy(rule("1", `{"tagStatus":"tagged","tagPrefixList":[],"countType":"imageCountMoreThan","countNumber":1}`)), "array is too short: must have at least 1 elements but instance has 0 elements"},
		{"empty prefix", policy(rule("1", `{"tagStatus":"tagged","tagPrefixList":[""],"countType":"imageCountMoreThan","countNumber":1}`)), `string "" is too short (length: 0, required minimum: 1)`},
		{"list of numbers", policy(rule("1", `{"tagStatus":"tagged","tagPrefixList":[1],"countType":"imageCountMoreThan","countNumber":1}`)), `instance type (integer) does not match any allowed primitive type (allowed: ["string"])`},
		{"countUnit with count", policy(rule("1", `{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}`)), "instance failed to match exactly one schema (matched 0 out of 2)"},
		{"sincePushed without unit", policy(rule("1", `{"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1}`)), "instance failed to match exactly one schema (matched 0 out of 2)"},
		{"bad countType", policy(rule("1", `{"tagStatus":"untagged","countType":"imageCountLessThan","countNumber":1}`)), "instance failed to match exactly one schema (matched 0 out of 2)"},
		{"bad unit", policy(rule("1", `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"hours","countNumber":1}`)), `instance value (hours) not found in enum :(possible values: ["days"])`},
		{"countNumber zero", policy(rule("1", `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":0}`)), "numeric instance is lower than the required minimum (minimum: 1, found: 0)"},
		{"missing countNumber", policy(rule("1", `{"tagStatus":"untagged","countType":"imageCountMoreThan"}`)), `object has missing required properties (["countNumber"])`},
		{"any not last", policy(rule("1", anyKeep1), rule("2", untaggedKeep1)), "Rule for tagStatus=ANY must have the lowest priority"},
		{"two any", policy(rule("3", anyKeep1), rule("4", anyKeep1)), "Rule for tagStatus=ANY must have the lowest priority"},
		{"two untagged", policy(rule("1", untaggedKeep1), rule("2", `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":3}`)), "Only one rule can select Untagged images."},
		{"same prefixes twice", policy(rule("1", prodKeep1), rule("2", `{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"sinceImagePushed","countUnit":"days","countNumber":3}`)), "rules 1 and 2 select the same tags; the set of rules must contain a unique set of tag prefixes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.text))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v, want a ValidationError", err)
			}
			if got, want := err.Error(), prefix+tt.detail+"'"; got != want {
				t.Errorf("error\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestParseLength(t *testing.T) {
	long := policy(rule("1", untaggedKeep1)) + strings.Repeat(" ", MaxTextLength)
	_, err := Parse(strings.NewReader(long))
	var le *LengthError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "less than or equal to 30720") {
		t.Errorf("Parse(30 KiB+) = %v", err)
	}
	_, err = ParseText(`{"rules":[]}`)
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "greater than or equal to 100") {
		t.Errorf("ParseText(short) = %v", err)
	}
	// Exactly at the limit is accepted.
	ok := policy(rule("1", untaggedKeep1))
	ok += strings.Repeat(" ", MaxTextLength-len(ok))
	if _, err := ParseText(ok); err != nil {
		t.Errorf("ParseText(30720 chars) = %v", err)
	}
}

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, tag string
		want         bool
	}{
		{"prod*", "prod", true},
		{"prod*", "prod-1", true},
		{"prod*", "preprod", false},
		{"*prod", "preprod", true},
		{"prod", "prod", true},
		{"prod", "prod1", false},
		{"*test*1*2*3", "a-test-1-2-3", true},
		{"*test*1*2*3", "a-test-1-2-3-4", false},
		{"test*1*2*3*", "test123", true},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"*", "", true},
		{"v*.*.*", "v1.2.3", true},
		{"v*.*.*", "v1.2", false},
	}
	for _, tt := range tests {
		if got := wildcard.Match(tt.pattern, tt.tag); got != tt.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.tag, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(policy(rule("1", prodKeep1), rule("2", untaggedKeep1), rule("3", anyKeep1))))
	f.Add([]byte(`{"rules":[{"rulePriority":1e400}]}`))
	f.Fuzz(func(t *testing.T, text []byte) {
		p, err := Parse(bytes.NewReader(text))
		if err != nil {
			var ve *ValidationError
			var le *LengthError
			if !errors.As(err, &ve) && !errors.As(err, &le) {
				t.Fatalf("Parse error %T %v is neither a validation nor a length error", err, err)
			}
			return
		}
		// A valid policy has sorted unique priorities, any last, and
		// evaluates without panicking.
		for i := 1; i < len(p.Rules); i++ {
			if p.Rules[i-1].Priority >= p.Rules[i].Priority {
				t.Fatalf("rules not strictly sorted: %+v", p.Rules)
			}
		}
		for i, r := range p.Rules {
			if r.TagStatus == TagStatusAny && i != len(p.Rules)-1 {
				t.Fatalf("any rule %d is not last", r.Priority)
			}
		}
		_ = p.Evaluate([]Image{{Digest: "sha256:a", Tags: []string{"prod-1"}}, {Digest: "sha256:b"}}, t0)
	})
}
