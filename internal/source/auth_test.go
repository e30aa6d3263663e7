package source

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
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

// anonymous stands for a Docker config without an entry.
type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// TestRefusedNamesCredentialFiles: a registry that answers 401 gets an
// error saying which credential files were tried, or which one was used.
func TestRefusedNamesCredentialFiles(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	runtime := filepath.Join(dir, "run")
	home := filepath.Join(dir, "home")
	tests := []struct {
		name  string
		files map[string]map[string]string // path -> registry -> user
		want  []string
	}{
		{"no entry anywhere", nil, []string{"UNAUTHORIZED", "were looked up in",
			filepath.Join(runtime, "containers", "auth.json") + " (absent)",
			filepath.Join(home, ".config", "containers", "auth.json") + " (absent)", "skopeo login"}},
		{"entry in the runtime file", map[string]map[string]string{
			filepath.Join(runtime, "containers", "auth.json"): {host: "bob"},
		}, []string{"UNAUTHORIZED", "came from " + filepath.Join(runtime, "containers", "auth.json")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(runtime)
			for p, e := range tc.files {
				writeAuth(t, p, e)
			}
			env := map[string]string{"XDG_RUNTIME_DIR": runtime, "HOME": home}
			kc := Keychain{Getenv: func(k string) string { return env[k] }, Fallback: anonymous{}}
			_, err := Resolve(context.Background(), "registry:"+host+"/app:1", Options{Keychain: kc})
			if err == nil {
				t.Fatal("no error from a registry that answers 401")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
