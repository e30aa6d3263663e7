package auth

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const replicationDoc = `replication:
  - region: us-west-2
    registry_id: "210987654321"
    url: https://dr.example.com/mirror
    username: robot
    password_env: DR_PASSWORD
  - region: eu-west-1
    registry_id: "123456789012"
    url: http://127.0.0.1:5001
`

func TestReplicationSection(t *testing.T) {
	c, err := ParseConfig(strings.NewReader(replicationDoc))
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		return map[string]string{"DR_PASSWORD": "hunter2"}[k], k == "DR_PASSWORD"
	}
	ds, err := c.ResolveReplication(env, func(string) ([]byte, error) { return nil, fs.ErrNotExist })
	if err != nil {
		t.Fatal(err)
	}
	type view struct{ Key, URL, Prefix, User, Password string }
	var got []view
	for _, d := range ds {
		got = append(got, view{d.Key(), d.URL.String(), d.RepositoryPrefix(), d.Username, d.Password})
	}
	want := []view{
		{"us-west-2/210987654321", "https://dr.example.com/mirror", "mirror/", "robot", "hunter2"},
		{"eu-west-1/123456789012", "http://127.0.0.1:5001", "", "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("destinations (-want +got):\n%s", diff)
	}
	if _, err := c.ResolveReplication(func(string) (string, bool) { return "", false }, nil); err == nil || !strings.Contains(err.Error(), "line 2: replication[0] (us-west-2/210987654321): environment variable DR_PASSWORD is unset") {
		t.Errorf("unset password env: %v", err)
	}
}

func TestReplicationSectionErrors(t *testing.T) {
	entry := func(fields string) string {
		return "replication:\n  - {region: us-west-2, registry_id: \"210987654321\", " + fields + "}\n"
	}
	for _, tt := range []struct {
		name, doc string
		want      []string
	}{
		{"inline password", entry(`url: "https://r.example", username: u, password: hunter2`), []string{"line 2", "replication[0] (us-west-2/210987654321)", "inline password is refused"}},
		{"no url", entry(`username: u, password_env: P`), []string{"url is required"}},
		{"ftp url", entry(`url: "ftp://r.example"`), []string{"want an http or https URL"}},
		{"credentials in url", entry(`url: "https://u:hunter2@r.example"`), []string{"credentials in the URL are refused"}},
		{"query", entry(`url: "https://r.example/?x=1"`), []string{"want no query"}},
		{"upper-case path", entry(`url: "https://r.example/Mirror"`), []string{"repository prefix"}},
		{"password without user", entry(`url: "https://r.example", password_env: P`), []string{"needs a username"}},
		{"user without password", entry(`url: "https://r.example", username: u`), []string{"needs password_env"}},
		{"both password sources", entry(`url: "https://r.example", username: u, password_env: P, password_file: f`), []string{"both set"}},
		{"bad env name", entry(`url: "https://r.example", username: u, password_env: "P-1"`), []string{"not an environment variable name"}},
		{"unquoted registry id", "replication:\n  - {region: us-west-2, registry_id: 0123, url: \"https://r.example\"}\n", []string{"registry_id \"0123\"", "12-digit"}},
		{"bad region", "replication:\n  - {region: US_WEST, registry_id: \"210987654321\", url: \"https://r.example\"}\n", []string{"region \"US_WEST\""}},
		{"twice", entry(`url: "https://a.example"`) + "  - {region: us-west-2, registry_id: \"210987654321\", url: \"https://b.example\"}\n", []string{"line 3", "listed twice"}},
		{"unknown field", entry(`url: "https://r.example", insecure: true`), []string{"field insecure not found"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(bytes.NewReader([]byte(tt.doc)))
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

func TestLoadReplicationFile(t *testing.T) {
	dir := t.TempDir()
	doc := "replication:\n  - {region: us-west-2, registry_id: \"210987654321\", url: \"https://r.example\", username: u, password_file: dr.pass}\n"
	if err := os.WriteFile(filepath.Join(dir, "auth.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dr.pass"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ds, err := LoadReplication(filepath.Join(dir, "auth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Password != "s3cret" || ds[0].Username != "u" {
		t.Errorf("LoadReplication = %+v", ds)
	}
}
