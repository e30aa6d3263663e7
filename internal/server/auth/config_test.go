package auth

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readConfig(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "config", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseConfigValid(t *testing.T) {
	c, err := ParseConfig(bytes.NewReader(readConfig(t, "valid.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ALICE_SECRET": "alice-secret"}
	files := map[string]string{"bob.secret": "bob-secret\n"}
	users, keys, err := c.Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, func(name string) ([]byte, error) {
		v, ok := files[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(v), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []User{
		{Name: "alice", PasswordHash: "$2y$05$QqzbIlOa2Rzbyb/MJFI1Ve8b0sW93Pp6qPDD0LHRWaOOzM6MI1F0q", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{Name: "bob", PasswordHash: "$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm", Grants: []Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
		{Name: "carol", PasswordHash: "$2y$05$kOyk2iJTBFwdFNdttdtiTeE5ZXBuxD6uxxd8fnpP3o0Sg/f5verv2"},
	}
	wantKeys := []AccessKey{{ID: "AKIDALICE", Secret: "alice-secret", User: "alice"}, {ID: "AKIDBOB", Secret: "bob-secret", User: "bob"}}
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	// The principals work: htpasswd's $2y$ hashes verify.
	a, err := NewRequired(users, keys, []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := basicPrincipal(t, a, "bob", "bob-pw"); p == nil || !can(p, "ecr:BatchGetImage", "team/app") || can(p, "ecr:PutImage", "team/app") {
		t.Errorf("bob = %v", p)
	}
	if p := a.AccessKeyPrincipal("AKIDBOB"); p == nil || p.Name != "bob" || p.ARN("123456789012") != "arn:aws:iam::123456789012:user/bob" || !can(p, "ecr:BatchGetImage", "team/app") {
		t.Errorf("AKIDBOB = %+v", p)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		doc  string // a testdata file, or the document itself
		want []string
	}{
		{"inline-secret.yaml", "", []string{"line 5", "access_keys[0] (AKIDBOB)", "inline secret is refused", "secret_env", "secret_file"}},
		{"unknown-field.yaml", "", []string{"line 3", "field password not found"}},
		{"bad-hash.yaml", "", []string{"line 4", "users[1] (bob)", "password_hash is not a bcrypt hash"}},
		{"bad-action.yaml", "", []string{"line 2", "users[0] (bob): grants[0]", `unknown permission "delete"`}},
		{"key-unknown-user.yaml", "", []string{"line 5", `user "mallory" is not in users`}},
		{"duplicate user", "users:\n  - {name: a, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\"}\n  - {name: a, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\"}\n", []string{"line 3", `user "a" is listed twice`}},
		{"reserved name", "users:\n  - {name: AWS, password_hash: x}\n", []string{"line 2", "reserved"}},
		{"no hash", "users:\n  - name: bob\n", []string{"line 2", "password_hash is required", "htpasswd"}},
		{"bad name", "users:\n  - {name: \"bo b\", password_hash: x}\n", []string{"line 2", "name \"bo b\""}},
		{"empty pattern", "users:\n  - {name: b, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\", grants: [{actions: [pull]}]}\n", []string{"grants[0]", "empty repository pattern"}},
		{"no actions", "users:\n  - {name: b, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\", grants: [{repository: x}]}\n", []string{"grants[0]", "no actions"}},
		{"no secret source", "users: [{name: b, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\"}]\naccess_keys:\n  - {id: K, user: b}\n", []string{"line 3", "want secret_env"}},
		{"both secret sources", "users: [{name: b, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\"}]\naccess_keys:\n  - {id: K, user: b, secret_env: A, secret_file: f}\n", []string{"both set"}},
		{"key without user", "access_keys:\n  - {id: K, secret_env: A}\n", []string{"user is required"}},
		{"duplicate key", "users: [{name: b, password_hash: \"$2y$05$KOaaBUKKCkM7jFaKOW7K1.Ybl9I32NV41mwEifN8zN1bljpDFl0bm\"}]\naccess_keys:\n  - {id: K, user: b, secret_env: A}\n  - {id: K, user: b, secret_env: A}\n", []string{"line 4", `"K" is listed twice`}},
		{"not a mapping", "- a\n- b\n", []string{"parse"}},
		{"top-level typo", "user: []\n", []string{"field user not found"}},
		{"too large", "users: []\n" + strings.Repeat("#", MaxConfigSize), []string{"larger than"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			if tt.doc == "" {
				doc = readConfig(t, tt.name)
			}
			_, err := ParseConfig(bytes.NewReader(doc))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	c, err := ParseConfig(bytes.NewReader(readConfig(t, "valid.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) (string, bool) { return "", false }
	env := func(string) (string, bool) { return "s", true }
	noFile := func(string) ([]byte, error) { return nil, fs.ErrNotExist }
	for _, tt := range []struct {
		name     string
		env      func(string) (string, bool)
		readFile func(string) ([]byte, error)
		want     string
	}{
		{"unset env", noEnv, noFile, "environment variable ALICE_SECRET is unset or empty"},
		{"missing file", env, noFile, "secret_file: file does not exist"},
		{"empty file", env, func(string) ([]byte, error) { return []byte(" \n"), nil }, "is empty"},
		{"huge file", env, func(string) ([]byte, error) { return bytes.Repeat([]byte("a"), 5000), nil }, "larger than 4096"},
	} {
		_, _, err := c.Resolve(tt.env, tt.readFile)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auth.yaml"), readConfig(t, "valid.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bob.secret"), []byte("bob-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALICE_SECRET", "alice-secret")
	_, keys, err := LoadConfig(filepath.Join(dir, "auth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1].Secret != "bob-secret" {
		t.Errorf("keys = %+v (bob.secret is relative to the config's directory)", keys)
	}
	_, _, err = LoadConfig(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseConfig: any document either parses into a configuration whose
// principals the Authenticator accepts, or fails with an error; nothing
// panics.
func FuzzParseConfig(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "config"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(readConfig(f, e.Name()))
	}
	f.Add([]byte("users: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := ParseConfig(bytes.NewReader(doc))
		if err != nil {
			return
		}
		users, keys, err := c.Resolve(func(string) (string, bool) { return "s", true }, func(string) ([]byte, error) { return []byte("s"), nil })
		if err != nil {
			t.Fatalf("a valid configuration does not resolve: %v", err)
		}
		if _, err := NewRequired(users, keys, []byte("k"), nil); err != nil {
			t.Fatalf("a valid configuration is refused by New: %v", err)
		}
	})
}
