package scanning

import (
	"encoding/json"
	"fmt"
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"regexp"
)

// ScanType is BASIC or ENHANCED.
type ScanType string

// Scan types.
const (
	ScanBasic    ScanType = "BASIC"
	ScanEnhanced ScanType = "ENHANCED"
)

// Frequency is a rule's scan frequency.
type Frequency string

// Scan frequencies.
const (
	ScanOnPush     Frequency = "SCAN_ON_PUSH"
	ContinuousScan Frequency = "CONTINUOUS_SCAN"
	Manual         Frequency = "MANUAL"
)

// Filter is a repository filter of a rule.
type Filter struct {
	Filter     string `json:"filter"`
	FilterType string `json:"filterType"`
}

// Rule is one registry scanning rule.
type Rule struct {
	ScanFrequency     Frequency `json:"scanFrequency"`
	RepositoryFilters []Filter  `json:"repositoryFilters"`
}

// Config is the registry scanning configuration.
type Config struct {
	ScanType ScanType `json:"scanType"`
	Rules    []Rule   `json:"rules"`
}

// DefaultConfig is the configuration of a new registry: BASIC, no rules.
func DefaultConfig() Config { return Config{ScanType: ScanBasic, Rules: []Rule{}} }

// filterRE is the filter pattern from ECR's API reference.
var filterRE = regexp.MustCompile(`^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`)

// ConfigError is a rejected configuration. Code is the ECR error type
// (ValidationException or InvalidParameterException).
type ConfigError struct {
	Code    string
	Message string
}

func (e *ConfigError) Error() string { return e.Code + ": " + e.Message }

func validation(format string, a ...any) error {
	return &ConfigError{Code: "ValidationException", Message: fmt.Sprintf(format, a...)}
}

func invalidParam(format string, a ...any) error {
	return &ConfigError{Code: "InvalidParameterException", Message: fmt.Sprintf(format, a...)}
}

// Validate checks c against ECR's constraints. It returns a *ConfigError.
func (c Config) Validate() error {
	switch c.ScanType {
	case ScanBasic, ScanEnhanced:
	default:
		return validation("scanType %q must be one of BASIC, ENHANCED", c.ScanType)
	}
	if len(c.Rules) > 2 {
		return validation("rules: at most 2 rules are allowed, got %d", len(c.Rules))
	}
	seen := map[Frequency]bool{}
	for i, r := range c.Rules {
		switch r.ScanFrequency {
		case ScanOnPush, ContinuousScan, Manual:
		default:
			return validation("rules[%d].scanFrequency %q must be one of SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL", i, r.ScanFrequency)
		}
		if c.ScanType == ScanBasic && r.ScanFrequency != ScanOnPush {
			return invalidParam("rules[%d]: scan type BASIC allows only SCAN_ON_PUSH rules, got %s", i, r.ScanFrequency)
		}
		if c.ScanType == ScanEnhanced && r.ScanFrequency == Manual {
			return invalidParam("rules[%d]: scan type ENHANCED allows only SCAN_ON_PUSH and CONTINUOUS_SCAN rules, got %s", i, r.ScanFrequency)
		}
		if seen[r.ScanFrequency] {
			return invalidParam("rules[%d]: more than one %s rule", i, r.ScanFrequency)
		}
		seen[r.ScanFrequency] = true
		if len(r.RepositoryFilters) < 1 || len(r.RepositoryFilters) > 100 {
			return validation("rules[%d].repositoryFilters: 1 to 100 filters are required, got %d", i, len(r.RepositoryFilters))
		}
		for j, f := range r.RepositoryFilters {
			if f.FilterType != "WILDCARD" {
				return validation("rules[%d].repositoryFilters[%d].filterType %q must be WILDCARD", i, j, f.FilterType)
			}
			if len(f.Filter) < 1 || len(f.Filter) > 255 {
				return validation("rules[%d].repositoryFilters[%d].filter must be 1 to 255 characters", i, j)
			}
			if !filterRE.MatchString(f.Filter) {
				return validation("rules[%d].repositoryFilters[%d].filter %q must match %s", i, j, f.Filter, filterRE)
			}
		}
	}
	return nil
}

// Effective is the scanning that applies to one repository.
type Effective struct {
	// Frequency is the winning rule's frequency, or MANUAL.
	Frequency Frequency
	// Scanned is false when no scan may run at all (ENHANCED, no rule).
	Scanned bool
	// Enhanced is true under the ENHANCED scan type.
	Enhanced bool
	// ScanOnPush is true when a push enqueues a scan.
	ScanOnPush bool
	// Applied lists the filters of the winning rule that matched.
	Applied []Filter
}

// Evaluate returns the scanning that applies to repo. repoScanOnPush is the
// repository-level (deprecated in ECR) scanOnPush flag, honoured under BASIC
// only when no registry rule matches.
func (c Config) Evaluate(repo string, repoScanOnPush bool) Effective {
	rank := map[Frequency]int{Manual: 1, ScanOnPush: 2, ContinuousScan: 3}
	best := Effective{Frequency: Manual, Enhanced: c.ScanType == ScanEnhanced}
	bestRank := 0
	for _, r := range c.Rules {
		var applied []Filter
		for _, f := range r.RepositoryFilters {
			if wildcard.MatchFilter(f.Filter, repo) {
				applied = append(applied, f)
			}
		}
		if len(applied) > 0 && rank[r.ScanFrequency] > bestRank {
			bestRank = rank[r.ScanFrequency]
			best.Frequency = r.ScanFrequency
			best.Applied = applied
		}
	}
	switch {
	case bestRank > 0:
		best.Scanned = true
	case c.ScanType == ScanBasic:
		best.Scanned = true
		if repoScanOnPush {
			best.Frequency = ScanOnPush
		}
	}
	best.ScanOnPush = best.Scanned && (best.Frequency == ScanOnPush || best.Frequency == ContinuousScan)
	return best
}

// DecodeConfig decodes a stored configuration; nil is DefaultConfig.
func DecodeConfig(raw []byte) (Config, error) {
	if raw == nil {
		return DefaultConfig(), nil
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("scanning: decode configuration: %w", err)
	}
	if cfg.Rules == nil {
		cfg.Rules = []Rule{}
	}
	return cfg, nil
}
