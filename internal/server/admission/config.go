package admission

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/stowaway-scanner/stowaway/internal/severity"
	"io"
	"math"
	"net"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxConfigSize bounds a policy file.
const MaxConfigSize = 1 << 20

// Failure policies: what the webhook answers when it cannot decide.
const (
	FailClosed = "closed"
	FailOpen   = "open"
)

// Config is the admission policy, read from YAML by DecodeConfig.
type Config struct {
	// RegistryHosts are the host[:port] names under which clients pull from
	// this server. An image on one of them is resolved against this server's
	// stored scans; default: the server's --public-host.
	RegistryHosts []string `yaml:"registryHosts"`
	// AllowedRegistries are host[:port][/path prefix] entries; an image must
	// match one. A path prefix matches whole path segments.
	AllowedRegistries []string `yaml:"allowedRegistries"`
	// Mirrors maps an upstream registry host[:port][/path prefix] to the
	// repository prefix under which this registry mirrors or proxy-caches
	// it: with docker.io: dockerhub, docker.io/library/nginx:1.25 is judged
	// by this registry's dockerhub/library/nginx:1.25. An empty prefix keeps
	// the upstream path. The nodes' runtime must pull through the mirror.
	Mirrors map[string]string `yaml:"mirrors"`
	// Severity is the threshold: findings at or above it deny (default HIGH).
	Severity severity.Severity `yaml:"severity"`
	// FixableOnly counts only findings that have a fix.
	FixableOnly bool `yaml:"fixableOnly"`
	// Deny names exploit context that denies an image whatever the
	// severity of its findings (and whether they have a fix).
	Deny DenyRules `yaml:"deny"`
	// IgnoreNotPresent leaves out, of the severity count and the deny
	// rules, the Go findings whose vulnerable symbols are not in their
	// binary (symbol presence NOT_PRESENT).
	IgnoreNotPresent bool `yaml:"ignoreNotPresent"`
	// RequireScan denies images without a COMPLETE scan in this registry
	// (default true). With false, such images are allowed with a warning.
	RequireScan *bool `yaml:"requireScan"`
	// FailurePolicy is "closed" (default) or "open": the answer when the
	// webhook cannot decide (store unreachable, timeout, namespace lookup
	// failed).
	FailurePolicy string `yaml:"failurePolicy"`
	// Timeout bounds one review (default 5s; keep it below the webhook
	// configuration's timeoutSeconds).
	Timeout time.Duration `yaml:"timeout"`
	// ExpiryWarning: an allowed exemption expiring within this window adds a
	// warning (default 168h).
	ExpiryWarning time.Duration `yaml:"expiryWarning"`
	Exemptions    Exemptions    `yaml:"exemptions"`
	// NamespaceLabels configures the server-side namespace label lookup.
	NamespaceLabels NamespaceLookup `yaml:"namespaceLabels"`
}

// DenyRules deny an image for the exploit context of its findings.
type DenyRules struct {
	// KEV denies an image with a finding whose CVE is in CISA's Known
	// Exploited Vulnerabilities catalog (exploitAvailable YES).
	KEV bool `yaml:"kev"`
	// EPSS (0..1, 0 = off) denies an image with a finding whose EPSS score
	// is at or above it.
	EPSS float64 `yaml:"epss"`
}

// Exemptions lists what the policy does not judge.
type Exemptions struct {
	Namespaces NamespaceExemptions `yaml:"namespaces"`
	Images     []ImageExemption    `yaml:"images"`
}

// NamespaceExemptions exempt namespaces by name, or by labels (all of
// MatchLabels must match, as a Kubernetes label selector's matchLabels).
type NamespaceExemptions struct {
	Names       []string          `yaml:"names"`
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// ImageExemption exempts one image digest until Expires.
type ImageExemption struct {
	Digest  string    `yaml:"digest"`
	Expires time.Time `yaml:"expires"`
	Reason  string    `yaml:"reason"`
}

// NamespaceLookup configures reading a namespace's labels from the
// Kubernetes API. Zero paths default to the in-cluster service account.
type NamespaceLookup struct {
	// Lookup enables the server-side lookup (needed only for
	// exemptions.namespaces.matchLabels when the webhook configuration's
	// namespaceSelector does not already skip those namespaces).
	Lookup bool `yaml:"lookup"`
	// APIServer is the API server URL (default
	// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).
	APIServer string `yaml:"apiServer"`
	// TokenFile and CAFile default to the service account's files under
	// /var/run/secrets/kubernetes.io/serviceaccount.
	TokenFile string `yaml:"tokenFile"`
	CAFile    string `yaml:"caFile"`
	// CacheTTL is how long labels are cached (default 30s).
	CacheTTL time.Duration `yaml:"cacheTTL"`
}

// DecodeConfig reads a policy strictly: unknown fields, bad values and
// trailing documents are errors naming the field. It fills defaults.
func DecodeConfig(r io.Reader) (Config, error) {
	var c Config
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return c, fmt.Errorf("admission config: read: %w", err)
	}
	if len(data) > MaxConfigSize {
		return c, fmt.Errorf("admission config: larger than %d bytes", MaxConfigSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return c, errors.New("admission config: empty document")
		}
		return c, fmt.Errorf("admission config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return c, errors.New("admission config: more than one YAML document")
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	if c.Severity == "" {
		c.Severity = severity.High
	}
	threshold, err := severity.Parse(string(c.Severity))
	if err != nil || threshold.Rank() == 0 {
		return fmt.Errorf("admission config: severity %q: want one of %s", strings.ToUpper(string(c.Severity)), thresholds())
	}
	c.Severity = threshold
	if c.RequireScan == nil {
		t := true
		c.RequireScan = &t
	}
	switch c.FailurePolicy {
	case "":
		c.FailurePolicy = FailClosed
	case FailClosed, FailOpen:
	default:
		return fmt.Errorf("admission config: failurePolicy %q: want closed or open", c.FailurePolicy)
	}
	if math.IsNaN(c.Deny.EPSS) || c.Deny.EPSS < 0 || c.Deny.EPSS > 1 {
		return fmt.Errorf("admission config: deny.epss %v: want a probability in 0..1 (0 = off)", c.Deny.EPSS)
	}
	if c.Timeout < 0 || c.ExpiryWarning < 0 || c.NamespaceLabels.CacheTTL < 0 {
		return errors.New("admission config: timeout, expiryWarning and namespaceLabels.cacheTTL must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.ExpiryWarning == 0 {
		c.ExpiryWarning = 7 * 24 * time.Hour
	}
	if c.NamespaceLabels.CacheTTL == 0 {
		c.NamespaceLabels.CacheTTL = 30 * time.Second
	}
	for i, h := range c.RegistryHosts {
		if err := validHost(h); err != nil {
			return fmt.Errorf("admission config: registryHosts[%d] %q: %w", i, h, err)
		}
		c.RegistryHosts[i] = strings.ToLower(h)
	}
	if len(c.AllowedRegistries) == 0 {
		return errors.New("admission config: allowedRegistries is empty: no image could be admitted")
	}
	for i, a := range c.AllowedRegistries {
		host, path, _ := strings.Cut(a, "/")
		if err := validHost(host); err != nil {
			return fmt.Errorf("admission config: allowedRegistries[%d] %q: %w", i, a, err)
		}
		path = strings.TrimSuffix(path, "/")
		if !validPath(path) {
			return fmt.Errorf("admission config: allowedRegistries[%d] %q: bad path prefix", i, a)
		}
		c.AllowedRegistries[i] = strings.ToLower(host)
		if path != "" {
			c.AllowedRegistries[i] += "/" + path
		}
	}
	mirrors := make(map[string]string, len(c.Mirrors))
	for k, v := range c.Mirrors {
		host, path, _ := strings.Cut(k, "/")
		if err := validHost(host); err != nil {
			return fmt.Errorf("admission config: mirrors[%q]: %w", k, err)
		}
		if !validPath(path) {
			return fmt.Errorf("admission config: mirrors[%q]: bad path prefix", k)
		}
		v = strings.Trim(v, "/")
		if v != "" && !validPath(v) {
			return fmt.Errorf("admission config: mirrors[%q]: bad repository prefix %q", k, v)
		}
		k = strings.ToLower(host)
		if path = strings.TrimSuffix(path, "/"); path != "" {
			k += "/" + path
		}
		mirrors[k] = v
	}
	c.Mirrors = mirrors
	for i, n := range c.Exemptions.Namespaces.Names {
		if n == "" {
			return fmt.Errorf("admission config: exemptions.namespaces.names[%d] is empty", i)
		}
	}
	for k := range c.Exemptions.Namespaces.MatchLabels {
		if k == "" {
			return errors.New("admission config: exemptions.namespaces.matchLabels has an empty key")
		}
	}
	for i, e := range c.Exemptions.Images {
		if !validDigest(e.Digest) {
			return fmt.Errorf("admission config: exemptions.images[%d]: digest %q: want sha256:<64 hex digits>", i, e.Digest)
		}
		if e.Expires.IsZero() {
			return fmt.Errorf("admission config: exemptions.images[%d] (%s): expires is required", i, e.Digest)
		}
	}
	return nil
}

func validHost(h string) error {
	if h == "" {
		return errors.New("empty host")
	}
	if strings.ContainsAny(h, "/@ \t") {
		return errors.New("want host[:port]")
	}
	host := h
	if strings.Contains(h, ":") {
		hh, port, err := net.SplitHostPort(h)
		if err != nil {
			return fmt.Errorf("want host[:port]: %w", err)
		}
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return fmt.Errorf("bad port %q", port)
		}
		host = hh
	}
	if host == "" {
		return errors.New("empty host")
	}
	return nil
}

// validPath accepts a repository path prefix: lower-case path components
// of the distribution grammar's characters ("" is valid: no prefix).
func validPath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return true
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || strings.Trim(seg, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "" {
			return false
		}
	}
	return true
}

func validDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	return strings.Trim(hex, "0123456789abcdef") == ""
}

// thresholds lists the levels a threshold may name, in increasing order:
// all but UNDEFINED (UNDEFINED findings never count against a threshold).
func thresholds() string {
	var names []string
	for _, l := range severity.Levels {
		if l.Rank() > 0 {
			names = append(names, string(l))
		}
	}
	return strings.Join(names, ", ")
}
