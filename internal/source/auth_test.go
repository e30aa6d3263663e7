package source

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// fallback stands for Docker's config: it answers every registry.
type fallback struct{}

func (fallback) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: "docker-config"}), nil
}

func writeAuth(t *testing.T, path string, entries map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"auths":{`)
	first := true
	for reg, user := range entries {
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(`"` + reg + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":pw-"+user)) + `"}`)
	}
	b.WriteString(`}}`)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestKeychainOrder(t *testing.T) {
	dir := t.TempDir()
	authFile := filepath.Join(dir, "explicit.json")
	runtime := filepath.Join(dir, "run")
	home := filepath.Join(dir, "home")
	writeAuth(t, authFile, map[string]string{"ghcr.io": "from-registry-auth-file"})
	writeAuth(t, filepath.Join(runtime, "containers", "auth.json"), map[string]string{"ghcr.io": "from-runtime", "quay.io": "from-runtime"})
	writeAuth(t, filepath.Join(home, ".config", "containers", "auth.json"), map[string]string{"quay.io": "from-config", "registry.example": "from-config", "docker.io": "hub-user"})
	env := map[string]string{"REGISTRY_AUTH_FILE": authFile, "XDG_RUNTIME_DIR": runtime, "HOME": home}
	kc := Keychain{Getenv: func(k string) string { return env[k] }, Fallback: fallback{}}
	tests := []struct{ ref, wantUser string }{
		{"ghcr.io/o/app:1", "from-registry-auth-file"},
		{"quay.io/o/app:1", "from-runtime"},
		{"registry.example/app:1", "from-config"},
		{"alpine:3.20", "hub-user"}, // Docker Hub: index.docker.io's key is docker.io
		{"other.example/app:1", "docker-config"},
	}
	for _, tc := range tests {
		ref, err := name.ParseReference(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		a, err := kc.Resolve(ref.Context())
		if err != nil {
			t.Fatalf("%s: %v", tc.ref, err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.wantUser, cfg.Username); diff != "" {
			t.Errorf("%s: user (-want +got):\n%s", tc.ref, diff)
		}
	}
}

func TestKeychainBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	kc := Keychain{Getenv: func(k string) string {
		if k == "REGISTRY_AUTH_FILE" {
			return path
		}
		return ""
	}, Fallback: fallback{}}
	ref, _ := name.ParseReference("ghcr.io/o/app:1")
	if _, err := kc.Resolve(ref.Context()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("malformed auth file: %v, want an error naming %s", err, path)
	}
}
