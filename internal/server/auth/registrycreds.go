package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
)

// Registry credentials: what the server presents to other registries (the
// upstreams of pull-through cache rules), named in the --auth-config file
// under registry_credentials and referred to by name. A pull-through cache
// rule's credentialArn, arn:aws:secretsmanager:REGION:ACCOUNT:secret:
// ecr-pullthroughcache/NAME, refers to the entry named NAME. As with access
// keys, the password comes from the environment or a file, never from the
// configuration file itself.

// ConfigCredential is one registry_credentials entry of a Config.
type ConfigCredential struct {
	Name         string `yaml:"name"`
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// Password is refused: it exists to name the mistake.
	Password *string `yaml:"password"`
	// Line is the entry's line in the file.
	Line int `yaml:"-"`
}

// RegistryCredential is a resolved registry credential.
type RegistryCredential struct {
	Name     string
	Username string
	Password string
}

// String never shows the password.
func (c RegistryCredential) String() string { return c.Name + " (user " + c.Username + ")" }

// credentialName is what a Secrets Manager secret name may hold after
// "ecr-pullthroughcache/" in a credentialArn.
var credentialName = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]{1,512}$`)

func validateCredentials(cs []ConfigCredential) error {
	seen := map[string]bool{}
	for i, c := range cs {
		at := fmt.Sprintf("line %d: registry_credentials[%d]", c.Line, i)
		switch {
		case c.Name == "":
			return fmt.Errorf("%s: name is required (a pull-through cache rule's credentialArn ends in ecr-pullthroughcache/NAME)", at)
		case !credentialName.MatchString(c.Name):
			return fmt.Errorf("%s: name %q: want 1-512 letters, digits and /_+=.@-", at, clip(c.Name))
		case seen[c.Name]:
			return fmt.Errorf("%s: credential %q is listed twice", at, c.Name)
		}
		seen[c.Name] = true
		at += " (" + c.Name + ")"
		switch {
		case c.Username == "":
			return fmt.Errorf("%s: username is required", at)
		case c.Password != nil:
			return fmt.Errorf("%s: an inline password is refused: this file is read by whoever reads the configuration; name an environment variable with password_env or a file with password_file", at)
		case c.PasswordEnv == "" && c.PasswordFile == "":
			return fmt.Errorf("%s: want password_env (an environment variable) or password_file (a file holding the password or token)", at)
		case c.PasswordEnv != "" && c.PasswordFile != "":
			return fmt.Errorf("%s: password_env and password_file are both set; want one", at)
		case c.PasswordEnv != "" && !envName.MatchString(c.PasswordEnv):
			return fmt.Errorf("%s: password_env %q is not an environment variable name", at, clip(c.PasswordEnv))
		}
	}
	return nil
}

// ResolveCredentials reads each registry credential's password through
// lookupEnv and readFile, as Resolve reads access key secrets.
func (c *Config) ResolveCredentials(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) ([]RegistryCredential, error) {
	out := make([]RegistryCredential, 0, len(c.RegistryCredentials))
	for i, rc := range c.RegistryCredentials {
		at := fmt.Sprintf("line %d: registry_credentials[%d] (%s)", rc.Line, i, rc.Name)
		pw, err := resolvePassword(at, rc.PasswordEnv, rc.PasswordFile, lookupEnv, readFile)
		if err != nil {
			return nil, err
		}
		out = append(out, RegistryCredential{Name: rc.Name, Username: rc.Username, Password: pw})
	}
	return out, nil
}

// LoadCredentials reads, validates and resolves the registry credentials
// of the --auth-config file at path (passwords from the process
// environment and the file system; a relative password_file is relative
// to the directory of path).
func LoadCredentials(path string) ([]RegistryCredential, error) {
	c, readFile, err := loadAuthFile(path)
	if err != nil {
		return nil, err
	}
	creds, err := c.ResolveCredentials(os.LookupEnv, readFile)
	if err != nil {
		return nil, fmt.Errorf("auth config %s: %w", path, err)
	}
	return creds, nil
}

// loadAuthFile parses the --auth-config file at path and gives the reader
// of its password_file references (relative ones are relative to the
// directory of path; at most 4 KiB plus one byte, so a larger file is told
// apart).
func loadAuthFile(path string) (*Config, func(string) ([]byte, error), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("auth config: %w", err)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return nil, nil, fmt.Errorf("auth config %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	return c, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return readSmall(name, 4097)
	}, nil
}

// resolvePassword reads a password named by reference: the environment
// variable env, else the file file (trimmed, at most 4096 bytes, not
// empty). at names the entry in errors.
func resolvePassword(at, env, file string, lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) (string, error) {
	if env != "" {
		v, ok := lookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s: environment variable %s is unset or empty", at, env)
		}
		return v, nil
	}
	b, err := readFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: password_file: %w", at, err)
	}
	if len(b) > 4096 {
		return "", fmt.Errorf("%s: password_file %s is larger than 4096 bytes; want the password alone", at, file)
	}
	pw := strings.TrimSpace(string(b))
	if pw == "" {
		return "", fmt.Errorf("%s: password_file %s is empty", at, file)
	}
	return pw, nil
}

// CredentialSet holds the registry credentials in force; Replace swaps in
// a reloaded set at once. The zero value holds none.
type CredentialSet struct {
	m atomic.Pointer[map[string]RegistryCredential]
}

// NewCredentialSet holds cs.
func NewCredentialSet(cs []RegistryCredential) *CredentialSet {
	s := &CredentialSet{}
	s.Replace(cs)
	return s
}

// Replace swaps in cs.
func (s *CredentialSet) Replace(cs []RegistryCredential) {
	m := make(map[string]RegistryCredential, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	s.m.Store(&m)
}

// Lookup returns the credential of that name.
func (s *CredentialSet) Lookup(name string) (RegistryCredential, bool) {
	if s == nil {
		return RegistryCredential{}, false
	}
	m := s.m.Load()
	if m == nil {
		return RegistryCredential{}, false
	}
	c, ok := (*m)[name]
	return c, ok
}

// credentialARN is a pull-through cache rule's credentialArn (ECR's
// pattern).
var credentialARN = regexp.MustCompile(`^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/([a-zA-Z0-9\/_+=.@-]+)$`)

// CredentialARNName is the registry credential name a credentialArn refers
// to (what follows ecr-pullthroughcache/); ok is false when arn does not
// have ECR's form.
func CredentialARNName(arn string) (string, bool) {
	m := credentialARN.FindStringSubmatch(arn)
	if m == nil || len(arn) < 50 || len(arn) > 612 {
		return "", false
	}
	return m[2], true
}
