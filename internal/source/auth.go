package source

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Keychain finds registry credentials where the tools users log in with
// write them, per registry, first match wins: $REGISTRY_AUTH_FILE, then
// $XDG_RUNTIME_DIR/containers/auth.json (podman, skopeo, buildah), then
// $XDG_CONFIG_HOME/containers/auth.json (or ~/.config/...), then Docker's
// config with its credential helpers (go-containerregistry's default
// keychain). go-containerregistry's keychain alone reads the containers
// files only when no Docker config exists at all, so a `skopeo login` was
// ignored on any machine that also had ~/.docker/config.json.
type Keychain struct {
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
	// Fallback resolves what no containers file names (nil:
	// authn.DefaultKeychain).
	Fallback authn.Keychain
}

// containersAuthFiles are the containers-auth.json(5) files, in order.
func (k Keychain) containersAuthFiles() []string {
	env := k.Getenv
	if env == nil {
		env = os.Getenv
	}
	var files []string
	if f := env("REGISTRY_AUTH_FILE"); f != "" {
		files = append(files, f)
	}
	if d := env("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, filepath.Join(d, "containers", "auth.json"))
	}
	cfg := env("XDG_CONFIG_HOME")
	if cfg == "" {
		if home := env("HOME"); home != "" {
			cfg = filepath.Join(home, ".config")
		}
	}
	if cfg != "" {
		files = append(files, filepath.Join(cfg, "containers", "auth.json"))
	}
	return files
}

// Resolve implements authn.Keychain.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	// Docker Hub is "docker.io" in the containers files (podman login) and
	// Docker's "https://index.docker.io/v1/".
	keys := []string{target.RegistryStr()}
	if keys[0] == name.DefaultRegistry {
		keys = []string{"docker.io", name.DefaultRegistry, authn.DefaultAuthKey}
	}
	for _, path := range k.containersAuthFiles() {
		f, err := os.Open(path)
		if err != nil {
			continue // absent or unreadable: the next file
		}
		cf, err := config.LoadFromReader(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("registry credentials: %s: %w", path, err)
		}
		for _, key := range keys {
			ac := authEntry(cf.AuthConfigs, key)
			if ac.Username != "" || ac.Password != "" || ac.IdentityToken != "" || ac.RegistryToken != "" {
				return authn.FromConfig(authn.AuthConfig{
					Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
					IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
				}), nil
			}
		}
	}
	fb := k.Fallback
	if fb == nil {
		fb = authn.DefaultKeychain
	}
	return fb.Resolve(target)
}

// authEntry is the entry of a registry in an auths map: under its name, or
// under a URL whose host is that name ("https://quay.io/v1/").
func authEntry(auths map[string]types.AuthConfig, key string) types.AuthConfig {
	if ac, ok := auths[key]; ok {
		return ac
	}
	for k, ac := range auths {
		h := strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
		if i := strings.IndexByte(h, '/'); i >= 0 {
			h = h[:i]
		}
		if h == key {
			return ac
		}
	}
	return types.AuthConfig{}
}

// Explain says where credentials for registry come from, for an error
// message when the registry refused them (or asked for some): the
// containers auth file that holds an entry, else every file tried.
func (k Keychain) Explain(registry string) string {
	keys := []string{registry}
	if registry == name.DefaultRegistry || registry == "docker.io" {
		keys = []string{"docker.io", name.DefaultRegistry, authn.DefaultAuthKey}
	}
	var tried []string
	for _, path := range k.containersAuthFiles() {
		f, err := os.Open(path)
		if err != nil {
			tried = append(tried, path+" (absent)")
			continue
		}
		cf, err := config.LoadFromReader(f)
		f.Close()
		if err != nil {
			tried = append(tried, path+" (unreadable)")
			continue
		}
		for _, key := range keys {
			if ac := authEntry(cf.AuthConfigs, key); ac.Username != "" || ac.Password != "" || ac.IdentityToken != "" || ac.RegistryToken != "" {
				return fmt.Sprintf("the credentials for %s came from %s", registry, path)
			}
		}
		tried = append(tried, path+" (no entry)")
	}
	docker := filepath.Join(config.Dir(), config.ConfigFileName) + " and its credential helpers"
	if k.Fallback != nil {
		docker = "the configured fallback keychain"
	}
	tried = append(tried, docker)
	return fmt.Sprintf("credentials for %s were looked up in %s; log in with `skopeo login`, `podman login` or `docker login`, or set REGISTRY_AUTH_FILE",
		registry, strings.Join(tried, ", "))
}
