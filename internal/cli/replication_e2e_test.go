package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// TestServeReplicationSection runs `serve --auth-config` whose replication
// section names a destination registry with a password file: a push is
// replicated there with those credentials, and a section that does not
// load keeps serve from starting, naming the entry.
func TestServeReplicationSection(t *testing.T) {
	var authOK atomic.Int32
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	dest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "replicator" || p != "dr-pass" {
			w.Header().Set("WWW-Authenticate", `Basic realm="dr"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		authOK.Add(1)
		inner.ServeHTTP(w, r)
	}))
	defer dest.Close()

	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("ci-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dr.pass"), []byte("dr-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REPL_CI_SECRET", "ci-secret")
	config := filepath.Join(dir, "auth.yaml")
	write := func(replication string) {
		t.Helper()
		doc := fmt.Sprintf(`users:
  - name: ci
    password_hash: %q
    grants: [{repository: "*", actions: [admin]}]
access_keys:
  - {id: AKIDCI, secret_env: REPL_CI_SECRET, user: ci}
replication:
%s`, h, replication)
		if err := os.WriteFile(config, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(dir, "db")
	if _, err := vulndb.Update(context.Background(), db, []feed.Updater{}, nil, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	args := func(addr string) []string {
		return []string{"serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--db", db, "--auth-config", config,
			"--sbom-formats", "none", "--workers", "1", "--lifecycle-interval", "0", "--account-id", "123456789012"}
	}

	// An inline password: serve does not start, and says where.
	write(`  - {region: us-west-2, registry_id: "210987654321", url: "` + dest.URL + `", username: replicator, password: dr-pass}` + "\n")
	stderr := &syncBuffer{}
	if code := Main(context.Background(), args("127.0.0.1:0"), io.Discard, stderr); code != ExitError {
		t.Fatalf("serve with an inline password exited %d, want %d", code, ExitError)
	}
	if msg := stderr.String(); !strings.Contains(msg, "replication[0] (us-west-2/210987654321): an inline password is refused") || strings.Contains(msg, "dr-pass") {
		t.Errorf("serve's error %q does not name the entry, or echoes the password", msg)
	}

	write(`  - {region: us-west-2, registry_id: "210987654321", url: "` + dest.URL + `", username: replicator, password_file: dr.pass}` + "\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { done <- Main(ctx, args(host), io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("serve exited %d:\n%s", code, logs.String())
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + host + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("serve did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + host),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDCI", "ci-secret", "")})
	ctx2 := context.Background()
	if _, err := c.PutReplicationConfiguration(ctx2, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{
		Rules: []ecrtypes.ReplicationRule{{Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String("us-west-2"), RegistryId: aws.String("210987654321")}}}}}}); err != nil {
		t.Fatal(err)
	}
	img, _ := random.Image(256, 1)
	ref, err := name.ParseReference(host+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "ci-pw"}))); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeImageReplicationStatus(ctx2, &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("team/app"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ReplicationStatuses) == 1 && out.ReplicationStatuses[0].Status == ecrtypes.ReplicationStatusComplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not replicated: %+v\n%s", out.ReplicationStatuses, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	dref, err := name.ParseReference(strings.TrimPrefix(dest.URL, "http://")+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(dref, remote.WithAuth(&authn.Basic{Username: "replicator", Password: "dr-pass"}))
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != d || authOK.Load() == 0 {
		t.Errorf("destination team/app:v1 = %s (authenticated requests %d), want %s", gd, authOK.Load(), d)
	}
	if strings.Contains(logs.String(), "dr-pass") {
		t.Error("serve's log holds the destination password")
	}
}
