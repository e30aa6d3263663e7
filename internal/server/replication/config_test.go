package replication

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	self = Destination{Region: "us-east-1", RegistryID: "123456789012"}
	dr   = Destination{Region: "us-west-2", RegistryID: "210987654321"}
	eu   = Destination{Region: "eu-west-1", RegistryID: "210987654321"}
)

func known(d Destination) bool { return d == dr || d == eu || strings.HasPrefix(d.RegistryID, "5") }

func TestValidate(t *testing.T) {
	prefix := func(fs ...string) []Filter {
		var out []Filter
		for _, f := range fs {
			out = append(out, Filter{Filter: f, FilterType: FilterPrefixMatch})
		}
		return out
	}
	dests := func(n int, base int) []Destination {
		var out []Destination
		for i := range n {
			out = append(out, Destination{Region: "us-west-2", RegistryID: fmt.Sprintf("5%011d", base+i)})
		}
		return out
	}
	rules := func(n int) []Rule {
		var out []Rule
		for range n {
			out = append(out, Rule{Destinations: []Destination{dr}})
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		c       Config
		typ, in string // "" = valid
	}{
		{"empty", Config{Rules: []Rule{}}, "", ""},
		{"ten rules", Config{Rules: rules(10)}, "", ""},
		{"filters and 25 destinations", Config{Rules: []Rule{{Destinations: dests(25, 0), RepositoryFilters: prefix("prod", "team/a")}}}, "", ""},
		{"25 unique over two rules, one shared", Config{Rules: []Rule{{Destinations: dests(13, 0)}, {Destinations: dests(13, 12)}}}, "", ""},
		{"eleven rules", Config{Rules: rules(11)}, "ValidationException", "'replicationConfiguration.rules' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"26 in a rule", Config{Rules: []Rule{{Destinations: dests(26, 0)}}}, "ValidationException", "rules.1.destinations"},
		{"26 unique", Config{Rules: []Rule{{Destinations: dests(13, 0)}, {Destinations: dests(13, 13)}}}, "InvalidParameterException", "at most 25 unique destinations across its rules (it has 26)"},
		{"null destinations", Config{Rules: []Rule{{}}}, "ValidationException", "Value 'null' at 'replicationConfiguration.rules.1.destinations'"},
		{"no destinations", Config{Rules: []Rule{{Destinations: []Destination{}}}}, "InvalidParameterException", "at least one destination"},
		{"empty filter list", Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: []Filter{}}}}, "ValidationException", "greater than or equal to 1"},
		{"101 filters", Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: prefix(strings.Split(strings.Repeat("ab,", 101), ",")[:101]...)}}}, "ValidationException", "less than or equal to 100"},
		{"wildcard", Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: []Filter{{Filter: "prod", FilterType: "WILDCARD"}}}}}, "ValidationException", "[PREFIX_MATCH]"},
		{"one-character filter", Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: prefix("p")}}}, "ValidationException", "between 2 and 256"},
		{"upper case filter", Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: prefix("Prod")}}}, "ValidationException", "regular expression pattern"},
		{"bad region", Config{Rules: []Rule{{Destinations: []Destination{{Region: "US", RegistryID: "210987654321"}}}}}, "ValidationException", "rules.1.destinations.1.region"},
		{"bad registry", Config{Rules: []Rule{{Destinations: []Destination{{Region: "us-west-2", RegistryID: "21098765432"}}}}}, "ValidationException", "[0-9]{12}"},
		{"itself", Config{Rules: []Rule{{Destinations: []Destination{self}}}}, "InvalidParameterException", "cannot be the source registry"},
		{"unknown", Config{Rules: []Rule{{Destinations: []Destination{{Region: "ap-south-1", RegistryID: "210987654321"}}}}}, "InvalidParameterException", "ap-south-1/210987654321 is not configured"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate(self, known)
			if tt.typ == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Type != tt.typ || !strings.Contains(e.Message, tt.in) {
				t.Fatalf("Validate = %v, want %s saying %q", err, tt.typ, tt.in)
			}
		})
	}
}

func TestDestinationsFor(t *testing.T) {
	c := Config{Rules: []Rule{
		{Destinations: []Destination{dr}, RepositoryFilters: []Filter{{Filter: "prod", FilterType: FilterPrefixMatch}, {Filter: "team/a", FilterType: FilterPrefixMatch}}},
		{Destinations: []Destination{eu, dr}, RepositoryFilters: []Filter{{Filter: "team", FilterType: FilterPrefixMatch}}},
		{Destinations: []Destination{eu}},
	}}
	for repo, want := range map[string][]Destination{
		"prod/app":   {dr, eu},
		"production": {dr, eu},
		"team/app":   {dr, eu},
		"team/b":     {eu, dr},
		"dev/prod":   {eu},
	} {
		if diff := cmp.Diff(want, c.DestinationsFor(repo)); diff != "" {
			t.Errorf("DestinationsFor(%q) (-want +got):\n%s", repo, diff)
		}
	}
	if got := (Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: []Filter{{Filter: "prod", FilterType: FilterPrefixMatch}}}}}).DestinationsFor("dev/app"); len(got) != 0 {
		t.Errorf("a repository no filter matches goes to %v", got)
	}
}

func TestDecode(t *testing.T) {
	for raw, want := range map[string]Config{
		"":               {Rules: []Rule{}},
		`{"rules":null}`: {Rules: []Rule{}},
		`{"rules":[{"destinations":[{"region":"us-west-2","registryId":"210987654321"}],"repositoryFilters":[{"filter":"prod","filterType":"PREFIX_MATCH"}]}]}`: {
			Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: []Filter{{Filter: "prod", FilterType: FilterPrefixMatch}}}}},
	} {
		got, err := Decode(json.RawMessage(raw))
		if err != nil {
			t.Fatalf("Decode(%s): %v", raw, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode(%s) (-want +got):\n%s", raw, diff)
		}
	}
	if _, err := Decode(json.RawMessage(`{"rules":3}`)); err == nil {
		t.Error("Decode of a malformed configuration succeeded")
	}
}

// FuzzValidate: any request body either decodes and validates to an
// *Error or nil without panicking, and a valid configuration round-trips
// through the stored form unchanged.
func FuzzValidate(f *testing.F) {
	f.Add(`{"rules":[{"destinations":[{"region":"us-west-2","registryId":"210987654321"}],"repositoryFilters":[{"filter":"prod","filterType":"PREFIX_MATCH"}]}]}`)
	f.Add(`{"rules":[{"destinations":[]}]}`)
	f.Add(`{"rules":[{"destinations":[{"region":"us-east-1","registryId":"123456789012"}]}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var c Config
		if json.Unmarshal([]byte(body), &c) != nil {
			return
		}
		err := c.Validate(self, known)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Validate error %v is no *Error", err)
		}
		if err != nil {
			return
		}
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if c.Rules == nil {
			c.Rules = []Rule{}
		}
		if diff := cmp.Diff(c, back); diff != "" {
			t.Fatalf("round trip (-in +out):\n%s", diff)
		}
	})
}
