package notify

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Sink types.
const (
	TypeWebhook = "webhook"
	TypeNATS    = "nats"
)

// maxConfigSize bounds the configuration file.
const maxConfigSize = 1 << 20

// Config is the events configuration file (docs/events.md).
type Config struct {
	Sinks    []SinkConfig `yaml:"sinks"`
	Delivery Delivery     `yaml:"delivery"`
}

// SinkConfig is one destination. The fields after Type apply to one type
// only: URL to both, SecretEnv, SecretFile and Timeout to webhooks,
// SubjectPrefix and Stream to NATS.
type SinkConfig struct {
	// ID names the sink in the outbox: changing it orphans the sink's
	// undelivered rows, so keep it stable.
	ID   string `yaml:"id"`
	Type string `yaml:"type"`
	URL  string `yaml:"url"`
	// SecretEnv or SecretFile names where the webhook's HMAC key is read
	// from; the key itself never appears in the file or in logs.
	SecretEnv  string        `yaml:"secretEnv"`
	SecretFile string        `yaml:"secretFile"`
	Timeout    time.Duration `yaml:"timeout"`
	// SubjectPrefix (default "stowaway.events") and Stream (default
	// "STOWAWAY_EVENTS", created if missing to capture "<prefix>.>").
	SubjectPrefix string `yaml:"subjectPrefix"`
	Stream        string `yaml:"stream"`
	// Rules select the events the sink receives: an event goes to the sink
	// when any rule matches (every event when there are no rules).
	Rules []Rule `yaml:"rules"`
	Retry Retry  `yaml:"retry"`
}

// Rule selects events: all its set conditions must hold.
type Rule struct {
	// RepositoryFilters are ECR WILDCARD filters (any may match).
	RepositoryFilters []string `yaml:"repositoryFilters"`
	// MinSeverity keeps events with a finding at or above this level.
	MinSeverity severity.Severity `yaml:"minSeverity"`
	// DetailTypes keeps only these detail types.
	DetailTypes []string `yaml:"detailTypes"`
}

// Retry is the in-process retry of one delivery attempt, with a circuit
// breaker per sink. Zero values get the defaults noted.
type Retry struct {
	Attempts         int           `yaml:"attempts"`         // default 3
	Base             time.Duration `yaml:"base"`             // default 200ms
	Max              time.Duration `yaml:"max"`              // default 5s
	BreakerThreshold int           `yaml:"breakerThreshold"` // default 5
	BreakerCooldown  time.Duration `yaml:"breakerCooldown"`  // default 30s
}

// Delivery tunes the outbox dispatcher. Zero values get the defaults noted.
type Delivery struct {
	// MaxAttempts: outbox attempts before a row is dead (default 20).
	MaxAttempts int `yaml:"maxAttempts"`
	// Backoff between outbox attempts: exponential from BackoffBase
	// (default 1s) to BackoffMax (default 1h), with jitter.
	BackoffBase time.Duration `yaml:"backoffBase"`
	BackoffMax  time.Duration `yaml:"backoffMax"`
	// Lease: how long a claimed row is reserved (default 1m); a delivery
	// is cut at 90% of it.
	Lease time.Duration `yaml:"lease"`
	// Poll: the wait when nothing is due (default 1s).
	Poll time.Duration `yaml:"poll"`
	// Batch: rows claimed at once (default 32).
	Batch int `yaml:"batch"`
}

// Load reads and validates the configuration file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("events config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration (strictly: unknown fields are errors),
// applies defaults and validates it. It does not read secrets.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("events config: read: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("events config: larger than %d bytes", maxConfigSize)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("events config: empty document")
		}
		return nil, fmt.Errorf("events config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("events config: want exactly one YAML document")
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) setDefaults() {
	for i := range c.Sinks {
		s := &c.Sinks[i]
		switch s.Type {
		case TypeWebhook:
			if s.Timeout == 0 {
				s.Timeout = 10 * time.Second
			}
		case TypeNATS:
			if s.SubjectPrefix == "" {
				s.SubjectPrefix = "stowaway.events"
			}
			if s.Stream == "" {
				s.Stream = "STOWAWAY_EVENTS"
			}
		}
		r := &s.Retry
		r.Attempts = orDefault(r.Attempts, 3)
		r.Base = orDefault(r.Base, 200*time.Millisecond)
		r.Max = orDefault(r.Max, 5*time.Second)
		r.BreakerThreshold = orDefault(r.BreakerThreshold, 5)
		r.BreakerCooldown = orDefault(r.BreakerCooldown, 30*time.Second)
	}
	d := &c.Delivery
	d.MaxAttempts = orDefault(d.MaxAttempts, 20)
	d.BackoffBase = orDefault(d.BackoffBase, time.Second)
	d.BackoffMax = orDefault(d.BackoffMax, time.Hour)
	d.Lease = orDefault(d.Lease, time.Minute)
	d.Poll = orDefault(d.Poll, time.Second)
	d.Batch = orDefault(d.Batch, 32)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	streamRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	tokenRE  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate checks the whole configuration; the error names the field.
func (c *Config) Validate() error {
	if len(c.Sinks) == 0 {
		return errors.New("events config: sinks: at least one sink is required")
	}
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		where := fmt.Sprintf("events config: sinks[%d]", i)
		if !idRE.MatchString(s.ID) {
			return fmt.Errorf("%s.id %q: want 1-64 characters of letters, digits, '.', '_', '-', starting with a letter or digit", where, s.ID)
		}
		where = fmt.Sprintf("events config: sinks[%d] (id %s)", i, s.ID)
		if seen[s.ID] {
			return fmt.Errorf("%s: duplicate id", where)
		}
		seen[s.ID] = true
		if err := s.validate(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	d := c.Delivery
	switch {
	case d.MaxAttempts < 1 || d.MaxAttempts > 1000:
		return fmt.Errorf("events config: delivery.maxAttempts %d: want 1 to 1000", d.MaxAttempts)
	case d.BackoffBase < 0:
		return fmt.Errorf("events config: delivery.backoffBase %v: must be positive", d.BackoffBase)
	case d.BackoffMax < d.BackoffBase:
		return fmt.Errorf("events config: delivery.backoffMax %v: must be at least backoffBase %v", d.BackoffMax, d.BackoffBase)
	case d.Lease < time.Second:
		return fmt.Errorf("events config: delivery.lease %v: want at least 1s", d.Lease)
	case d.Poll < 10*time.Millisecond:
		return fmt.Errorf("events config: delivery.poll %v: want at least 10ms", d.Poll)
	case d.Batch < 1 || d.Batch > 1000:
		return fmt.Errorf("events config: delivery.batch %d: want 1 to 1000", d.Batch)
	}
	for i, s := range c.Sinks {
		// A delivery (every retry included) must fit in the lease.
		if budget := s.worstCase(); budget > d.Lease*9/10 {
			return fmt.Errorf("events config: sinks[%d] (id %s): retry and timeout may take %v, more than 90%% of delivery.lease %v", i, s.ID, budget, d.Lease)
		}
	}
	return nil
}

// worstCase bounds one delivery through the retry stack.
func (s SinkConfig) worstCase() time.Duration {
	per := s.Timeout
	if s.Type == TypeNATS {
		per = 5 * time.Second
	}
	total := time.Duration(s.Retry.Attempts) * per
	for n := 1; n < s.Retry.Attempts; n++ {
		total += min(s.Retry.Base<<(n-1), s.Retry.Max)
	}
	return total
}

func (s SinkConfig) validate() error {
	switch s.Type {
	case TypeWebhook:
		if err := checkURL(s.URL, "http", "https"); err != nil {
			return err
		}
		switch {
		case s.SecretEnv == "" && s.SecretFile == "":
			return errors.New("webhook: one of secretEnv or secretFile is required (events are HMAC-signed)")
		case s.SecretEnv != "" && s.SecretFile != "":
			return errors.New("webhook: set only one of secretEnv and secretFile")
		case s.SecretEnv != "" && !envRE.MatchString(s.SecretEnv):
			return fmt.Errorf("secretEnv %q: not an environment variable name", s.SecretEnv)
		case s.Timeout < 0 || s.Timeout > 5*time.Minute:
			return fmt.Errorf("timeout %v: want 0 (default 10s) to 5m", s.Timeout)
		case s.SubjectPrefix != "" || s.Stream != "":
			return errors.New("subjectPrefix and stream apply only to nats sinks")
		}
	case TypeNATS:
		if err := checkURL(s.URL, "nats", "tls"); err != nil {
			return err
		}
		switch {
		case s.SecretEnv != "" || s.SecretFile != "" || s.Timeout != 0:
			return errors.New("secretEnv, secretFile and timeout apply only to webhook sinks")
		case !streamRE.MatchString(s.Stream):
			return fmt.Errorf("stream %q: want 1-64 letters, digits, '_' or '-'", s.Stream)
		}
		for _, tok := range strings.Split(s.SubjectPrefix, ".") {
			if !tokenRE.MatchString(tok) {
				return fmt.Errorf("subjectPrefix %q: want dot-separated tokens of letters, digits, '_' or '-' (no wildcards)", s.SubjectPrefix)
			}
		}
	case "":
		return fmt.Errorf("type: required (%s or %s)", TypeWebhook, TypeNATS)
	default:
		return fmt.Errorf("type %q: want %s or %s", s.Type, TypeWebhook, TypeNATS)
	}
	for j, r := range s.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("rules[%d]: %w", j, err)
		}
	}
	r := s.Retry
	switch {
	case r.Attempts < 1 || r.Attempts > 10:
		return fmt.Errorf("retry.attempts %d: want 1 to 10", r.Attempts)
	case r.Base < 0:
		return fmt.Errorf("retry.base %v: must be positive", r.Base)
	case r.Max < r.Base:
		return fmt.Errorf("retry.max %v: must be at least retry.base %v", r.Max, r.Base)
	case r.BreakerThreshold < 1:
		return fmt.Errorf("retry.breakerThreshold %d: must be at least 1", r.BreakerThreshold)
	case r.BreakerCooldown < 0:
		return fmt.Errorf("retry.breakerCooldown %v: must be positive", r.BreakerCooldown)
	}
	return nil
}

func (r Rule) validate() error {
	for k, f := range r.RepositoryFilters {
		if err := events.ValidWildcard(f); err != nil {
			return fmt.Errorf("repositoryFilters[%d]: %w", k, err)
		}
	}
	if r.MinSeverity != "" {
		if _, err := severity.Parse(string(r.MinSeverity)); err != nil {
			return fmt.Errorf("minSeverity %q: want one of UNDEFINED, INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL", r.MinSeverity)
		}
	}
	for k, dt := range r.DetailTypes {
		if !slices.Contains(events.DetailTypes(), dt) {
			return fmt.Errorf("detailTypes[%d] %q: want one of %q", k, dt, events.DetailTypes())
		}
	}
	return nil
}

// checkURL accepts an absolute URL with one of schemes and a host, and no
// credentials (they would end up in error messages and logs).
func checkURL(raw string, schemes ...string) error {
	if raw == "" {
		return errors.New("url: required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the input, which may hold a token.
		return errors.New("url: not a valid URL")
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("url: scheme %q: want %s", u.Scheme, strings.Join(schemes, " or "))
	}
	if u.Host == "" {
		return errors.New("url: no host")
	}
	if u.User != nil {
		return errors.New("url: must not carry credentials (use secretEnv or secretFile for the webhook key)")
	}
	return nil
}
