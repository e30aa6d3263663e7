package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

func writeAuthFile(t *testing.T, path, user string) {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	doc := "users:\n  - name: " + user + "\n    password_hash: \"" + string(h) + "\"\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAuthSourceConflicts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.yaml")
	writeAuthFile(t, path, "alice")
	src := authSource{path: path, flagUsers: []server.User{{Name: "alice", Password: "x"}}}
	if _, _, err := src.load(); err == nil || !strings.Contains(err.Error(), `user "alice" is also given with --user`) {
		t.Errorf("a user in both: %v", err)
	}
	src.flagUsers = []server.User{{Name: "admin", Password: "x"}}
	users, _, err := src.load()
	if err != nil || len(users) != 2 {
		t.Errorf("flags and file combined: %v, %v", users, err)
	}
	code, _, stderr := runCLI(t, "serve", "--data", t.TempDir(), "--user", "alice:pw", "--auth-config", path)
	if code != ExitError || !strings.Contains(stderr, "also given with --user") {
		t.Errorf("serve with alice twice: exit %d, %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "--data", t.TempDir(), "--auth-config", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != ExitError || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("serve with a missing auth config: exit %d, %q", code, stderr)
	}
}

// TestWatchAuthConfig: SIGHUP reloads even when the file looks unchanged
// (a secret file rotated), a change is picked up by polling, and a bad file
// is logged and not applied.
func TestWatchAuthConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.yaml")
	writeAuthFile(t, path, "alice")
	var mu sync.Mutex
	var applied []string
	apply := func(users []server.User, _ []server.AccessKey) error {
		mu.Lock()
		defer mu.Unlock()
		if len(users) != 1 {
			t.Errorf("applied %d users: a half-written file was read", len(users))
			return nil
		}
		applied = append(applied, users[0].Name)
		return nil
	}
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), applied...)
	}
	var log bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return log.Write(p)
	}), nil))
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchAuthConfig(ctx, authSource{path: path}, 20*time.Millisecond, hup, apply, logger)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(100 * time.Millisecond)
	if n := len(got()); n != 0 {
		t.Fatalf("reloaded %d times with no change", n)
	}
	hup <- syscall.SIGHUP
	waitFor(t, "the SIGHUP reload", func() bool { return len(got()) == 1 })
	writeAuthFile(t, path, "bob")
	waitFor(t, "the polled reload", func() bool { g := got(); return len(g) == 2 && g[1] == "bob" })
	if err := os.WriteFile(path, []byte("users: [{name: x, password: y}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal in the log", func() bool {
		logMu.Lock()
		defer logMu.Unlock()
		return strings.Contains(log.String(), "auth config not reloaded") && strings.Contains(log.String(), "field password not found")
	})
	if n := len(got()); n != 2 {
		t.Errorf("a bad file was applied (%d applications)", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestServeRegistryCredentials: serve resolves the auth config's
// registry_credentials at start, and does not start when a password is
// missing.
func TestServeRegistryCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.yaml")
	writeAuthFile(t, path, "alice")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("registry_credentials:\n  - {name: hub, username: mirror, password_env: STOWAWAY_TEST_UNSET_HUB_TOKEN}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, _, stderr := runCLI(t, "serve", "--data", t.TempDir(), "--auth-config", path)
	if code != ExitError || !strings.Contains(stderr, "registry_credentials[0] (hub)") || !strings.Contains(stderr, "STOWAWAY_TEST_UNSET_HUB_TOKEN") {
		t.Errorf("serve with an unset registry credential: exit %d, %q", code, stderr)
	}
	t.Setenv("STOWAWAY_TEST_UNSET_HUB_TOKEN", "tok")
	creds, err := server.LoadRegistryCredentials(path)
	if err != nil || len(creds) != 1 || creds[0].Password != "tok" {
		t.Errorf("LoadRegistryCredentials = %v, %v", creds, err)
	}
}

// reloadRecorder is an authTarget recording what a reload applied.
type reloadRecorder struct {
	users []string
	creds []string
	dsts  []string
}

func (r *reloadRecorder) ReplacePrincipals(users []server.User, _ []server.AccessKey) error {
	r.users = nil
	for _, u := range users {
		r.users = append(r.users, u.Name)
	}
	return nil
}

func (r *reloadRecorder) ReplaceRegistryCredentials(creds []auth.RegistryCredential) {
	r.creds = nil
	for _, c := range creds {
		r.creds = append(r.creds, c.Name+" "+c.Username+" "+c.Password)
	}
}

func (r *reloadRecorder) ReplaceReplicationDestinations(dsts []server.ReplicationDestination) error {
	r.dsts = nil
	for _, d := range dsts {
		r.dsts = append(r.dsts, d.Region+"/"+d.RegistryID+" "+d.URL.String())
	}
	return nil
}

// TestReloadAuthConfig: a reload applies the file's users, its
// registry_credentials and its replication destinations, and a file
// whose replication section does not load applies nothing.
func TestReloadAuthConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(filepath.Join(dir, "hub.pass"), []byte("hub-tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dr.pass"), []byte("dr-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &reloadRecorder{}
	reload := func(t *testing.T, extra string) error {
		t.Helper()
		writeAuthFile(t, path, "alice")
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(extra); err != nil {
			t.Fatal(err)
		}
		f.Close()
		users, keys, err := authSource{path: path}.load()
		if err != nil {
			return err
		}
		return reloadAuthConfig(rec, path)(users, keys)
	}
	if err := reload(t, "registry_credentials:\n  - {name: hub, username: mirror, password_file: hub.pass}\n"+
		"replication:\n  - {region: us-west-2, registry_id: \"210987654321\", url: \"https://dr.example.com\", username: robot, password_file: dr.pass}\n"); err != nil {
		t.Fatal(err)
	}
	want := &reloadRecorder{users: []string{"alice"}, creds: []string{"hub mirror hub-tok"}, dsts: []string{"us-west-2/210987654321 https://dr.example.com"}}
	if diff := cmp.Diff(want, rec, cmp.AllowUnexported(reloadRecorder{})); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	// A destination given twice is refused: nothing changes.
	before := *rec
	err := reload(t, "replication:\n  - {region: eu-west-1, registry_id: \"123456789012\", url: \"http://10.0.0.7:5000\"}\n"+
		"  - {region: eu-west-1, registry_id: \"123456789012\", url: \"http://10.0.0.8:5000\"}\n")
	if err == nil {
		t.Fatal("a destination given twice was applied")
	}
	if diff := cmp.Diff(&before, rec, cmp.AllowUnexported(reloadRecorder{})); diff != "" {
		t.Errorf("a refused reload changed what was applied (-before +after):\n%s", diff)
	}
	// Sections removed: no credentials, no destinations.
	if err := reload(t, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&reloadRecorder{users: []string{"alice"}}, rec, cmp.AllowUnexported(reloadRecorder{})); diff != "" {
		t.Errorf("applied after the sections were removed (-want +got):\n%s", diff)
	}
}
