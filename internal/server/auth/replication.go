package auth

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// ConfigDestination is one entry of an --auth-config file's replication
// section: the registry an ECR replication destination (region,
// registryId) stands for, and the credentials to push there
// (docs/replication.md). As for access keys, the password is referenced
// (password_env, password_file), never written in the file.
type ConfigDestination struct {
	Region     string `yaml:"region"`
	RegistryID string `yaml:"registry_id"`
	// URL is http(s)://host[:port][/path]; a path prefixes the
	// repository names at the destination.
	URL          string `yaml:"url"`
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	// Password is refused: it exists to name the mistake.
	Password *string `yaml:"password"`
	// Line is the entry's line in the file.
	Line int `yaml:"-"`
}

// Destination is a resolved replication destination: where images of
// (Region, RegistryID) are pushed, and as whom (Username "" is
// anonymous).
type Destination struct {
	Region, RegistryID string
	// URL is the destination registry: scheme, host and an optional
	// repository prefix path.
	URL                *url.URL
	Username, Password string
}

// Key is the destination's name in rules and statuses, "REGION/REGISTRY_ID".
func (d Destination) Key() string { return d.Region + "/" + d.RegistryID }

// RepositoryPrefix is the URL's path as a repository name prefix ("" or
// "mirror/").
func (d Destination) RepositoryPrefix() string {
	p := strings.Trim(d.URL.Path, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// The shapes ECR gives a replication destination's members.
var (
	regionRE     = regexp.MustCompile(`^[0-9a-z-]{2,25}$`)
	registryIDRE = regexp.MustCompile(`^[0-9]{12}$`)
	// repoPathRE is a repository path prefix: lower-case path components.
	repoPathRE = regexp.MustCompile(`^(/[a-z0-9]+([._-][a-z0-9]+)*)*/?$`)
)

func (c *Config) validateReplication() error {
	seen := map[string]bool{}
	for i, d := range c.Replication {
		at := fmt.Sprintf("line %d: replication[%d]", d.Line, i)
		switch {
		case !regionRE.MatchString(d.Region):
			return fmt.Errorf("%s: region %q: want 2-25 characters of a-z, 0-9 and - (as ECR's region)", at, clip(d.Region))
		case !registryIDRE.MatchString(d.RegistryID):
			return fmt.Errorf("%s: registry_id %q: want the 12-digit account id (quote it in YAML)", at, clip(d.RegistryID))
		case seen[d.Region+"/"+d.RegistryID]:
			return fmt.Errorf("%s: destination %s/%s is listed twice", at, d.Region, d.RegistryID)
		}
		seen[d.Region+"/"+d.RegistryID] = true
		at += " (" + d.Region + "/" + d.RegistryID + ")"
		if _, err := parseDestinationURL(d.URL); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		switch {
		case d.Password != nil:
			return fmt.Errorf("%s: an inline password is refused: this file is read by whoever reads the configuration (backups, version control, support bundles); name an environment variable with password_env or a file with password_file", at)
		case d.PasswordEnv != "" && d.PasswordFile != "":
			return fmt.Errorf("%s: password_env and password_file are both set; want one", at)
		case d.PasswordEnv != "" && !envName.MatchString(d.PasswordEnv):
			return fmt.Errorf("%s: password_env %q is not an environment variable name", at, clip(d.PasswordEnv))
		case d.Username == "" && (d.PasswordEnv != "" || d.PasswordFile != ""):
			return fmt.Errorf("%s: a password needs a username", at)
		case d.Username != "" && d.PasswordEnv == "" && d.PasswordFile == "":
			return fmt.Errorf("%s: username %q needs password_env (an environment variable) or password_file (a file holding the password)", at, clip(d.Username))
		case strings.ContainsAny(d.Username, ":\r\n"):
			return fmt.Errorf("%s: username must not contain ':' or a line break", at)
		}
	}
	return nil
}

// parseDestinationURL checks a destination URL: http or https, a host, an
// optional repository prefix path, nothing else (no credentials, query or
// fragment: credentials belong in username and password_env/file).
func parseDestinationURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("url is required (http(s)://host[:port][/repository-prefix])")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("url %q: want an http or https URL", clip(raw))
	case u.Host == "":
		return nil, fmt.Errorf("url %q: want a host", clip(raw))
	case u.User != nil:
		return nil, fmt.Errorf("url: credentials in the URL are refused; use username and password_env or password_file")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("url %q: want no query or fragment", clip(raw))
	case !repoPathRE.MatchString(u.Path):
		return nil, fmt.Errorf("url %q: the path is a repository prefix: want lower-case path components of a-z, 0-9 and ._-", clip(raw))
	}
	return u, nil
}

// ResolveReplication turns the replication section into destinations,
// reading each password through lookupEnv and readFile (as Resolve).
func (c *Config) ResolveReplication(lookupEnv func(string) (string, bool), readFile func(string) ([]byte, error)) ([]Destination, error) {
	out := make([]Destination, 0, len(c.Replication))
	for i, d := range c.Replication {
		at := fmt.Sprintf("line %d: replication[%d] (%s/%s)", d.Line, i, d.Region, d.RegistryID)
		u, err := parseDestinationURL(d.URL)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		dst := Destination{Region: d.Region, RegistryID: d.RegistryID, URL: u, Username: d.Username}
		if d.PasswordEnv != "" || d.PasswordFile != "" {
			if dst.Password, err = resolvePassword(at, d.PasswordEnv, d.PasswordFile, lookupEnv, readFile); err != nil {
				return nil, err
			}
		}
		out = append(out, dst)
	}
	return out, nil
}

// LoadReplication reads, validates and resolves the replication section
// of the --auth-config file at path (passwords from the process
// environment and the file system; a relative password_file is relative
// to the directory of path).
func LoadReplication(path string) ([]Destination, error) {
	c, readFile, err := loadAuthFile(path)
	if err != nil {
		return nil, err
	}
	ds, err := c.ResolveReplication(os.LookupEnv, readFile)
	if err != nil {
		return nil, fmt.Errorf("auth config %s: %w", path, err)
	}
	return ds, nil
}
