package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// MaxConfigSize bounds an --auth-config file.
const MaxConfigSize = 1 << 20

// Config is an --auth-config file (docs/auth.md): users with bcrypt
// password hashes and grants, and access keys whose secrets come from the
// environment or a file, never from the file itself.
type Config struct {
	Users      []ConfigUser `yaml:"users"`
	AccessKeys []ConfigKey  `yaml:"access_keys"`
	// RegistryCredentials are what the server presents to other
	// registries (registrycreds.go).
	RegistryCredentials []ConfigCredential `yaml:"registry_credentials"`
	// Replication names the registries that replication destinations
	// stand for (replication.go).
	Replication []ConfigDestination `yaml:"replication"`
}

// ConfigUser is one user of a Config.
type ConfigUser struct {
	Name         string  `yaml:"name"`
	PasswordHash string  `yaml:"password_hash"`
	Grants       []Grant `yaml:"grants"`
	// Line is the user's line in the file.
	Line int `yaml:"-"`
}

// ConfigKey is one access key of a Config.
type ConfigKey struct {
	ID         string `yaml:"id"`
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
	User       string `yaml:"user"`
	// Secret is refused: it exists to name the mistake.
	Secret *string `yaml:"secret"`
	// Line is the key's line in the file.
	Line int `yaml:"-"`
}

// userName is what IAM allows in a user name.
var userName = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

// accessKeyID is what an access key id may be (AWS's are 16-128
// characters of [A-Z0-9]; ours may be shorter and mixed case).
var accessKeyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// envName is a portable environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseConfig reads and validates an --auth-config document: strict YAML
// (an unknown field is an error), at most MaxConfigSize bytes. Errors name
// the line and the field. Secrets are not read here (Resolve does).
func ParseConfig(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxConfigSize)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return &c, nil // an empty file: no principals
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	// The same document again as nodes, for the line of each entry.
	var lines struct {
		Users               []yaml.Node `yaml:"users"`
		AccessKeys          []yaml.Node `yaml:"access_keys"`
		RegistryCredentials []yaml.Node `yaml:"registry_credentials"`
		Replication         []yaml.Node `yaml:"replication"`
	}
	if err := yaml.Unmarshal(data, &lines); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	for i := range c.Users {
		if i < len(lines.Users) {
			c.Users[i].Line = lines.Users[i].Line
		}
	}
	for i := range c.AccessKeys {
		if i < len(lines.AccessKeys) {
			c.AccessKeys[i].Line = lines.AccessKeys[i].Line
		}
	}
	for i := range c.RegistryCredentials {
		if i < len(lines.RegistryCredentials) {
			c.RegistryCredentials[i].Line = lines.RegistryCredentials[i].Line
		}
	}
	for i := range c.Replication {
		if i < len(lines.Replication) {
			c.Replication[i].Line = lines.Replication[i].Line
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := validateCredentials(c.RegistryCredentials); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate() error {
	users := map[string]bool{}
	for i, u := range c.Users {
		at := fmt.Sprintf("line %d: users[%d]", u.Line, i)
		switch {
		case u.Name == "":
			return fmt.Errorf("%s: name is required", at)
		case u.Name == "AWS":
			return fmt.Errorf("%s: name %q is reserved (ECR authorization tokens use it)", at, u.Name)
		case !userName.MatchString(u.Name):
			return fmt.Errorf("%s: name %q: want 1-64 characters of letters, digits and +=,.@_-", at, clip(u.Name))
		case users[u.Name]:
			return fmt.Errorf("%s: user %q is listed twice", at, u.Name)
		}
		users[u.Name] = true
		at += " (" + u.Name + ")"
		if u.PasswordHash == "" {
			return fmt.Errorf("%s: password_hash is required (a bcrypt hash: htpasswd -nbB NAME PASSWORD)", at)
		}
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			return fmt.Errorf("%s: password_hash is not a bcrypt hash ($2a$, $2b$ or $2y$; htpasswd -nbB NAME PASSWORD writes one): %w", at, err)
		}
		for j, g := range u.Grants {
			if _, err := compile([]Grant{g}); err != nil {
				return fmt.Errorf("%s: grants[%d]: %w", at, j, err)
			}
		}
	}
	keys := map[string]bool{}
	for i, k := range c.AccessKeys {
		at := fmt.Sprintf("line %d: access_keys[%d]", k.Line, i)
		switch {
		case k.ID == "":
			return fmt.Errorf("%s: id is required", at)
		case !accessKeyID.MatchString(k.ID):
			return fmt.Errorf("%s: id %q: want 1-128 letters, digits, _ or -", at, clip(k.ID))
		case keys[k.ID]:
			return fmt.Errorf("%s: access key %q is listed twice", at, k.ID)
		}
		keys[k.ID] = true
		at += " (" + k.ID + ")"
		switch {
		case k.Secret != nil:
			return fmt.Errorf("%s: an inline secret is refused: this file is read by whoever reads the configuration (backups, version control, support bundles); name an environment variable with secret_env or a file with secret_file", at)
		case k.SecretEnv == "" && k.SecretFile == "":
			return fmt.Errorf("%s: want secret_env (an environment variable) or secret_file (a file holding the secret)", at)
		case k.SecretEnv != "" && k.SecretFile != "":
			return fmt.Errorf("%s: secret_env and secret_file are both set; want one", at)
		case k.SecretEnv != "" && !envName.MatchString(k.SecretEnv):
			return fmt.Errorf("%s: secret_env %q is not an environment variable name", at, clip(k.SecretEnv))
		case k.User == "":
			return fmt.Errorf("%s: user is required (the key acts with that user's grants)", at)
		case !users[k.User]:
			return fmt.Errorf("%s: user %q is not in users", at, clip(k.User))
		}
	}
	return c.validateReplication()
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Resolve turns c into principals, reading each key's secret through
// lookupEnv and readFile (os.LookupEnv and os.ReadFile in serve). A secret
// file holds the secret alone; surrounding white space is dropped.
func (c *Config) Resolve(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) ([]User, []AccessKey, error) {
	users := make([]User, 0, len(c.Users))
	for _, u := range c.Users {
		users = append(users, User{Name: u.Name, PasswordHash: u.PasswordHash, Grants: u.Grants})
	}
	keys := make([]AccessKey, 0, len(c.AccessKeys))
	for i, k := range c.AccessKeys {
		at := fmt.Sprintf("line %d: access_keys[%d] (%s)", k.Line, i, k.ID)
		var secret string
		if k.SecretEnv != "" {
			v, ok := lookupEnv(k.SecretEnv)
			if !ok || v == "" {
				return nil, nil, fmt.Errorf("%s: environment variable %s is unset or empty", at, k.SecretEnv)
			}
			secret = v
		} else {
			b, err := readFile(k.SecretFile)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: secret_file: %w", at, err)
			}
			if len(b) > 4096 {
				return nil, nil, fmt.Errorf("%s: secret_file %s is larger than 4096 bytes; want the secret alone", at, k.SecretFile)
			}
			secret = strings.TrimSpace(string(b))
			if secret == "" {
				return nil, nil, fmt.Errorf("%s: secret_file %s is empty", at, k.SecretFile)
			}
		}
		keys = append(keys, AccessKey{ID: k.ID, Secret: secret, User: k.User})
	}
	return users, keys, nil
}

// LoadConfig reads, validates and resolves the --auth-config file at path
// (secrets from the process environment and the file system; a relative
// secret_file is relative to the directory of path).
func LoadConfig(path string) ([]User, []AccessKey, error) {
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
	readFile := func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return readSmall(name, 4097)
	}
	users, keys, err := c.Resolve(os.LookupEnv, readFile)
	if err != nil {
		return nil, nil, fmt.Errorf("auth config %s: %w", path, err)
	}
	return users, keys, nil
}

// readSmall reads at most max bytes of the file at name.
func readSmall(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
