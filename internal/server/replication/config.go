package replication

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Config is the registry's replication configuration, in ECR's shape
// (PutReplicationConfiguration's replicationConfiguration).
type Config struct {
	Rules []Rule `json:"rules"`
}

// Rule replicates the repositories its filters match (all of them when it
// has none) to each of its destinations.
type Rule struct {
	Destinations      []Destination `json:"destinations"`
	RepositoryFilters []Filter      `json:"repositoryFilters,omitempty"`
}

// Destination is ECR's ReplicationDestination: a region of a registry
// (account). Which registry it stands for is configured in the auth
// config's replication section (auth.Destination).
type Destination struct {
	Region     string `json:"region"`
	RegistryID string `json:"registryId"`
}

// Key is the destination's name in the outbox and in logs,
// "REGION/REGISTRY_ID" (auth.Destination.Key).
func (d Destination) Key() string { return d.Region + "/" + d.RegistryID }

// Filter is ECR's RepositoryFilter; PREFIX_MATCH is the only type.
type Filter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

// FilterPrefixMatch is the only repository filter type.
const FilterPrefixMatch = "PREFIX_MATCH"

// ECR's limits and member shapes (botocore's model: ReplicationRuleList
// max 10, ReplicationDestinationList max 25, RepositoryFilterList 1-100,
// RepositoryFilterValue 2-256 with its pattern, Region, RegistryId) and
// the user guide's limit of 25 unique destinations per configuration.
const (
	MaxRules             = 10
	MaxRuleDestinations  = 25
	MaxDestinations      = 25
	MaxRepositoryFilters = 100
)

var (
	filterRE     = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$`)
	regionRE     = regexp.MustCompile(`^[0-9a-z-]{2,25}$`)
	registryIDRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// Error is a configuration ECR refuses, with the ECR error type
// (ValidationException for a member outside the model's constraints,
// InvalidParameterException for a configuration that cannot be served)
// and ECR's wording.
type Error struct {
	Type, Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func validation(member, value, constraint string) *Error {
	return &Error{Type: "ValidationException", Message: fmt.Sprintf(
		"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, member, constraint)}
}

func invalid(format string, a ...any) *Error {
	return &Error{Type: "InvalidParameterException", Message: fmt.Sprintf(format, a...)}
}

// Validate checks c as ECR does, then what this server needs: self is
// this registry (a rule may not replicate to it), and known reports
// whether a destination is configured (auth config). The error is an
// *Error.
func (c Config) Validate(self Destination, known func(Destination) bool) error {
	if len(c.Rules) > MaxRules {
		return validation("replicationConfiguration.rules", fmt.Sprintf("[%d rules]", len(c.Rules)),
			fmt.Sprintf("Member must have length less than or equal to %d", MaxRules))
	}
	unique := map[Destination]bool{}
	for i, r := range c.Rules {
		at := fmt.Sprintf("replicationConfiguration.rules.%d", i+1)
		switch {
		case r.Destinations == nil:
			return validation(at+".destinations", "null", "Member must not be null")
		case len(r.Destinations) > MaxRuleDestinations:
			return validation(at+".destinations", fmt.Sprintf("[%d destinations]", len(r.Destinations)),
				fmt.Sprintf("Member must have length less than or equal to %d", MaxRuleDestinations))
		case len(r.Destinations) == 0:
			return invalid("Invalid parameter at '%s.destinations' failed to satisfy constraint: 'a replication rule needs at least one destination'", at)
		case r.RepositoryFilters != nil && len(r.RepositoryFilters) == 0:
			return validation(at+".repositoryFilters", "[]", "Member must have length greater than or equal to 1")
		case len(r.RepositoryFilters) > MaxRepositoryFilters:
			return validation(at+".repositoryFilters", fmt.Sprintf("[%d filters]", len(r.RepositoryFilters)),
				fmt.Sprintf("Member must have length less than or equal to %d", MaxRepositoryFilters))
		}
		for j, d := range r.Destinations {
			dat := fmt.Sprintf("%s.destinations.%d", at, j+1)
			switch {
			case !regionRE.MatchString(d.Region):
				return validation(dat+".region", clip(d.Region), "Member must satisfy regular expression pattern: [0-9a-z-]{2,25}")
			case !registryIDRE.MatchString(d.RegistryID):
				return validation(dat+".registryId", clip(d.RegistryID), "Member must satisfy regular expression pattern: [0-9]{12}")
			case d == self:
				return invalid("Invalid parameter at '%s' failed to satisfy constraint: 'Replication destination cannot be the source registry and region (%s)'", dat, d.Key())
			}
			unique[d] = true
		}
		for j, f := range r.RepositoryFilters {
			fat := fmt.Sprintf("%s.repositoryFilters.%d", at, j+1)
			switch {
			case f.FilterType != FilterPrefixMatch:
				return validation(fat+".filterType", clip(f.FilterType), "Member must satisfy enum value set: [PREFIX_MATCH]")
			case len(f.Filter) < 2 || len(f.Filter) > 256:
				return validation(fat+".filter", clip(f.Filter), "Member must have length between 2 and 256")
			case !filterRE.MatchString(f.Filter):
				return validation(fat+".filter", clip(f.Filter), "Member must satisfy regular expression pattern: "+filterRE.String())
			}
		}
	}
	if len(unique) > MaxDestinations {
		return invalid("Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'a replication configuration may have at most %d unique destinations across its rules (it has %d)'", MaxDestinations, len(unique))
	}
	for _, r := range c.Rules {
		for _, d := range r.Destinations {
			if !known(d) {
				return invalid("Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'destination %s is not configured on this server: name its registry URL and credentials in the replication section of the auth config (docs/replication.md)'", d.Key())
			}
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// Matches reports whether r replicates repo: a rule without filters
// matches every repository, else one of its PREFIX_MATCH filters is a
// prefix of the name.
func (r Rule) Matches(repo string) bool {
	if len(r.RepositoryFilters) == 0 {
		return true
	}
	for _, f := range r.RepositoryFilters {
		if f.FilterType == FilterPrefixMatch && strings.HasPrefix(repo, f.Filter) {
			return true
		}
	}
	return false
}

// DestinationsFor returns the destinations repo replicates to: those of
// every rule that matches it, each once, in configuration order.
func (c Config) DestinationsFor(repo string) []Destination {
	var out []Destination
	seen := map[Destination]bool{}
	for _, r := range c.Rules {
		if !r.Matches(repo) {
			continue
		}
		for _, d := range r.Destinations {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// Decode reads a stored configuration; nil or empty is no rules.
func Decode(raw json.RawMessage) (Config, error) {
	c := Config{Rules: []Rule{}}
	if len(raw) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("replication: stored configuration: %w", err)
	}
	if c.Rules == nil {
		c.Rules = []Rule{}
	}
	return c, nil
}
