package auth

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const credsConfig = `users: []
registry_credentials:
  - name: docker-hub
    username: mirror
    password_env: HUB_TOKEN
  - name: team/quay
    username: robot
    password_file: quay.token
`

func TestRegistryCredentials(t *testing.T) {
	c, err := ParseConfig(strings.NewReader(credsConfig))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HUB_TOKEN": "hub-token"}
	files := map[string]string{"quay.token": "  quay-token\n"}
	got, err := c.ResolveCredentials(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, func(name string) ([]byte, error) {
		v, ok := files[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(v), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []RegistryCredential{{Name: "docker-hub", Username: "mirror", Password: "hub-token"}, {Name: "team/quay", Username: "robot", Password: "quay-token"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ResolveCredentials (-want +got):\n%s", d)
	}
	set := NewCredentialSet(got)
	if c, ok := set.Lookup("team/quay"); !ok || c.Password != "quay-token" {
		t.Errorf("Lookup(team/quay) = %v, %v", c, ok)
	}
	if _, ok := set.Lookup("none"); ok {
		t.Error("Lookup(none) found a credential")
	}
	set.Replace(nil)
	if _, ok := set.Lookup("docker-hub"); ok {
		t.Error("Replace(nil) kept a credential")
	}
	if s := want[0].String(); strings.Contains(s, "hub-token") {
		t.Errorf("String() shows the password: %s", s)
	}

	// Unset secrets are errors naming the entry.
	_, err = c.ResolveCredentials(func(string) (string, bool) { return "", false }, func(string) ([]byte, error) { return []byte("x"), nil })
	if err == nil || !strings.Contains(err.Error(), "registry_credentials[0] (docker-hub)") || !strings.Contains(err.Error(), "HUB_TOKEN") {
		t.Errorf("unset password_env: %v", err)
	}
}

func TestRegistryCredentialErrors(t *testing.T) {
	for _, tt := range []struct {
		name, entry, want string
	}{
		{"no name", `{username: u, password_env: X}`, "name is required"},
		{"bad name", `{name: "a b", username: u, password_env: X}`, `name "a b"`},
		{"no username", `{name: hub, password_env: X}`, "username is required"},
		{"inline password", `{name: hub, username: u, password: p}`, "inline password is refused"},
		{"no password", `{name: hub, username: u}`, "want password_env"},
		{"both", `{name: hub, username: u, password_env: X, password_file: f}`, "both set"},
		{"bad env name", `{name: hub, username: u, password_env: "1X"}`, "not an environment variable name"},
		{"unknown field", `{name: hub, username: u, password_env: X, token: t}`, "field token not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader("registry_credentials:\n  - " + tt.entry + "\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	_, err := ParseConfig(strings.NewReader("registry_credentials:\n  - {name: hub, username: u, password_env: X}\n  - {name: hub, username: v, password_env: Y}\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3: registry_credentials[1]") || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate: %v", err)
	}
}

func TestLoadCredentialsRelativeFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "quay.token"), []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(path, []byte("registry_credentials:\n  - {name: quay, username: robot, password_file: quay.token}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCredentials(path)
	if err != nil || len(got) != 1 || got[0].Password != "tok" {
		t.Fatalf("LoadCredentials = %v, %v", got, err)
	}
}

func TestCredentialARNName(t *testing.T) {
	for _, tt := range []struct {
		arn, name string
		ok        bool
	}{
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/docker-hub", "docker-hub", true},
		{"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:ecr-pullthroughcache/team/quay-AbCdEf", "team/quay-AbCdEf", true},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:other/docker-hub-credentials", "", false},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/" + strings.Repeat("x", 540), "", false}, // longer than 612
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/a b", "", false},
	} {
		name, ok := CredentialARNName(tt.arn)
		if name != tt.name || ok != tt.ok {
			t.Errorf("CredentialARNName(%q) = %q, %v; want %q, %v", tt.arn, name, ok, tt.name, tt.ok)
		}
	}
}
