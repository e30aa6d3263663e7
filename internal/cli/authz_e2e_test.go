package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// syncBuffer is a bytes.Buffer safe for serve's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// authzServe is a real `stowaway serve --auth-config` in this process.
type authzServe struct {
	host, config string
	// data is serve's --data directory (its SQLite store).
	data   string
	log    *syncBuffer
	hashes map[string]string
}

// writeConfig writes the auth config with bob's grant actions.
func (s *authzServe) writeConfig(t *testing.T, bobActions string, extra string) {
	t.Helper()
	doc := fmt.Sprintf(`users:
  - name: alice
    password_hash: %q
    grants: [{repository: "*", actions: [admin]}]
  - name: bob
    password_hash: %q
    grants: [{repository: "team/*", actions: [%s]}]
  - name: carol
    password_hash: %q
access_keys:
  - {id: AKIDALICE, secret_env: AUTHZ_ALICE_SECRET, user: alice}
  - {id: AKIDBOB, secret_file: bob.secret, user: bob}
  - {id: AKIDCAROL, secret_env: AUTHZ_CAROL_SECRET, user: carol}
%s`, s.hashes["alice"], s.hashes["bob"], bobActions, s.hashes["carol"], extra)
	// Write and rename, as an editor or a config manager does.
	tmp := s.config + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, s.config); err != nil {
		t.Fatal(err)
	}
}

func startAuthzServe(t *testing.T) *authzServe {
	t.Helper()
	dir := t.TempDir()
	s := &authzServe{config: filepath.Join(dir, "auth.yaml"), data: filepath.Join(dir, "data"), log: &syncBuffer{}, hashes: map[string]string{}}
	for _, u := range []string{"alice", "bob", "carol"} {
		h, err := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		s.hashes[u] = string(h)
	}
	t.Setenv("AUTHZ_ALICE_SECRET", "alice-secret")
	t.Setenv("AUTHZ_CAROL_SECRET", "carol-secret")
	if err := os.WriteFile(filepath.Join(dir, "bob.secret"), []byte("bob-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.writeConfig(t, "pull", "")
	db := filepath.Join(dir, "db")
	if _, err := vulndb.Update(context.Background(), db, []feed.Updater{}, nil, vulndb.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.host = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"serve", "--addr", s.host, "--data", s.data, "--db", db,
			"--auth-config", s.config, "--auth-config-poll", "100ms", "--sbom-formats", "none", "--workers", "1",
			"--lifecycle-interval", "0", "--account-id", "123456789012"}, io.Discard, s.log)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("serve exited %d:\n%s", code, s.log.String())
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + s.host + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("serve did not start: %v\n%s", err, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func (s *authzServe) ecr(id, secret string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.host),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
}

func (s *authzServe) ref(t *testing.T, repoTag string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// get sends a GET as user and returns the status and body.
func (s *authzServe) get(t *testing.T, method, path, user string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+s.host+path, nil)
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return "ok"
}

func TestServeAuthConfigEndToEnd(t *testing.T) {
	s := startAuthzServe(t)
	ctx := context.Background()
	alice := authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "alice-pw"})
	bob := authn.FromConfig(authn.AuthConfig{Username: "bob", Password: "bob-pw"})
	carol := authn.FromConfig(authn.AuthConfig{Username: "carol", Password: "carol-pw"})
	img, _ := random.Image(256, 2)
	for _, repo := range []string{"team/app", "secret/app"} {
		if err := remote.Write(s.ref(t, repo+":1"), img, remote.WithAuth(alice)); err != nil {
			t.Fatalf("alice pushes %s: %v", repo, err)
		}
	}
	img2, _ := random.Image(256, 1)
	digest, _ := img.Digest()

	t.Run("registry", func(t *testing.T) {
		if _, err := remote.Image(s.ref(t, "team/app:1"), remote.WithAuth(bob)); err != nil {
			t.Errorf("bob pulls team/app: %v", err)
		}
		denied := func(what string, err error) {
			t.Helper()
			if err == nil || !strings.Contains(err.Error(), "DENIED") {
				t.Errorf("%s: err = %v, want DENIED", what, err)
			}
		}
		denied("bob pushes team/app", remote.Write(s.ref(t, "team/app:2"), img2, remote.WithAuth(bob)))
		denied("bob tags team/app", remote.Tag(s.ref(t, "team/app:1").Context().Tag("retag"), img, remote.WithAuth(bob)))
		denied("bob deletes team/app", remote.Delete(s.ref(t, "team/app@"+digest.String()), remote.WithAuth(bob)))
		_, err := remote.Image(s.ref(t, "secret/app:1"), remote.WithAuth(bob))
		denied("bob pulls secret/app", err)
		_, err = remote.Image(s.ref(t, "team/app:1"), remote.WithAuth(carol))
		denied("carol pulls team/app", err)
		_, err = remote.List(s.ref(t, "team/app:1").Context(), remote.WithAuth(carol))
		denied("carol lists team/app's tags", err)
		// The refusal is the distribution spec's error JSON.
		code, body := s.get(t, http.MethodGet, "/v2/team/app/manifests/1", "carol")
		var oci struct{ Errors []struct{ Code string } }
		if code != http.StatusForbidden || json.Unmarshal([]byte(body), &oci) != nil || len(oci.Errors) != 1 || oci.Errors[0].Code != "DENIED" {
			t.Errorf("carol GET manifest: %d %s", code, body)
		}
		for user, want := range map[string][]string{"alice": {"secret/app", "team/app"}, "bob": {"team/app"}, "carol": {}} {
			code, body := s.get(t, http.MethodGet, "/v2/_catalog", user)
			var cat struct{ Repositories []string }
			if err := json.Unmarshal([]byte(body), &cat); code != http.StatusOK || err != nil {
				t.Fatalf("%s catalog: %d %s", user, code, body)
			}
			if diff := cmp.Diff(want, cat.Repositories); diff != "" {
				t.Errorf("%s's catalog (-want +got):\n%s", user, diff)
			}
		}
		if err := remote.Tag(s.ref(t, "team/app:1").Context().Tag("retag"), img, remote.WithAuth(alice)); err != nil {
			t.Errorf("alice tags: %v", err)
		}
	})

	t.Run("ecr", func(t *testing.T) {
		ea, eb, ec := s.ecr("AKIDALICE", "alice-secret"), s.ecr("AKIDBOB", "bob-secret"), s.ecr("AKIDCAROL", "carol-secret")
		names := func(c *ecr.Client) []string {
			out, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
			if err != nil {
				t.Fatalf("DescribeRepositories: %v", err)
			}
			var n []string
			for _, r := range out.Repositories {
				n = append(n, aws.ToString(r.RepositoryName))
			}
			return n
		}
		if diff := cmp.Diff([]string{"secret/app", "team/app"}, names(ea)); diff != "" {
			t.Errorf("alice's repositories (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"team/app"}, names(eb)); diff != "" {
			t.Errorf("bob's repositories (-want +got):\n%s", diff)
		}
		if got := names(ec); len(got) != 0 {
			t.Errorf("carol's repositories: %v, want none", got)
		}
		team, secret := aws.String("team/app"), aws.String("secret/app")
		id := []ecrtypes.ImageIdentifier{{ImageTag: aws.String("1")}}
		bg, err := eb.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: team, ImageIds: id})
		if err != nil || len(bg.Images) != 1 {
			t.Fatalf("bob BatchGetImage team/app: %v", err)
		}
		manifest := bg.Images[0].ImageManifest
		policy := aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}`)
		arn := aws.String("arn:aws:ecr:us-east-1:123456789012:repository/team/app")
		type call struct {
			what string
			do   func(*ecr.Client) error
		}
		writes := []call{
			{"PutImage", func(c *ecr.Client) error {
				_, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: team, ImageManifest: manifest, ImageTag: aws.String("sdk")})
				return err
			}},
			{"PutImageScanningConfiguration", func(c *ecr.Client) error {
				_, err := c.PutImageScanningConfiguration(ctx, &ecr.PutImageScanningConfigurationInput{RepositoryName: team, ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
				return err
			}},
			{"PutLifecyclePolicy", func(c *ecr.Client) error {
				_, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: team, LifecyclePolicyText: policy})
				return err
			}},
			{"TagResource", func(c *ecr.Client) error {
				_, err := c.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: []ecrtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
				return err
			}},
			{"PutRegistryScanningConfiguration", func(c *ecr.Client) error {
				_, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic})
				return err
			}},
			{"BatchDeleteImage", func(c *ecr.Client) error {
				_, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: team, ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("sdk")}}})
				return err
			}},
		}
		for _, w := range writes {
			if got := apiCode(w.do(eb)); got != "AccessDeniedException" {
				t.Errorf("bob %s: %s, want AccessDeniedException", w.what, got)
			}
			if got := apiCode(w.do(ec)); got != "AccessDeniedException" {
				t.Errorf("carol %s: %s, want AccessDeniedException", w.what, got)
			}
		}
		for _, tt := range []struct {
			who  string
			c    *ecr.Client
			repo *string
			want string
		}{
			{"bob", eb, team, "ok"},
			{"bob", eb, secret, "AccessDeniedException"},
			{"bob", eb, aws.String("team/none"), "RepositoryNotFoundException"}, // bob may describe team/*
			{"bob", eb, aws.String("other/none"), "AccessDeniedException"},      // and learns nothing elsewhere
			{"carol", ec, team, "AccessDeniedException"},
			{"alice", ea, secret, "ok"},
		} {
			_, err := tt.c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: tt.repo})
			if got := apiCode(err); got != tt.want {
				t.Errorf("%s DescribeImages %s: %s, want %s", tt.who, aws.ToString(tt.repo), got, tt.want)
			}
		}
		_, err = eb.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: secret})
		if err == nil || !strings.Contains(err.Error(), "arn:aws:iam::123456789012:user/bob") || !strings.Contains(err.Error(), "ecr:DescribeImages") {
			t.Errorf("the refusal does not name the caller's ARN and the action: %v", err)
		}
		if got := apiCode(func() error { _, err := ec.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}); return err }()); got != "AccessDeniedException" {
			t.Errorf("carol GetAuthorizationToken: %s", got)
		}
		if _, err := eb.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}); err != nil {
			t.Errorf("bob GetAuthorizationToken: %v", err)
		}
		for _, w := range writes {
			if err := w.do(ea); err != nil {
				t.Errorf("alice %s: %v", w.what, err)
			}
		}
	})

	t.Run("console", func(t *testing.T) {
		code, body := s.get(t, http.MethodGet, "/console/repos", "bob")
		if code != http.StatusOK || !strings.Contains(body, "team/app") || strings.Contains(body, "secret/app") {
			t.Errorf("bob's repository list: %d, team/app %v, secret/app %v", code, strings.Contains(body, "team/app"), strings.Contains(body, "secret/app"))
		}
		if code, _ := s.get(t, http.MethodGet, "/console/repos/secret/app/images", "bob"); code != http.StatusForbidden {
			t.Errorf("bob opens secret/app: %d, want 403", code)
		}
		if code, _ := s.get(t, http.MethodGet, "/console/repos/team/app/images/"+digest.String()+"/sbom", "carol"); code != http.StatusForbidden {
			t.Errorf("carol downloads team/app's SBOM: %d, want 403", code)
		}
		code, body = s.get(t, http.MethodGet, "/console/repos", "carol")
		if code != http.StatusOK || strings.Contains(body, "team/app") || strings.Contains(body, "secret/app") {
			t.Errorf("carol's repository list shows repositories (%d)", code)
		}
		for _, m := range []string{http.MethodPost, http.MethodDelete} {
			if code, _ := s.get(t, m, "/console/repos/team/app/images", "alice"); code != http.StatusMethodNotAllowed {
				t.Errorf("%s to the console: %d, want 405 (it is read-only)", m, code)
			}
		}
		if code, _ := s.get(t, http.MethodGet, "/console/repos/secret/app/images", "alice"); code != http.StatusOK {
			t.Errorf("alice opens secret/app: %d", code)
		}
	})

	t.Run("tools", func(t *testing.T) {
		t.Run("skopeo", func(t *testing.T) { skopeoAuthz(t, s) })
		t.Run("awscli", func(t *testing.T) { awsCLIAuthz(t, s) })
	})

	t.Run("reload", func(t *testing.T) {
		eb := s.ecr("AKIDBOB", "bob-secret")
		// A new image each time: remote.Write skips what the registry has.
		bobPushes := func() error {
			fresh, _ := random.Image(64, 1)
			return remote.Write(s.ref(t, "team/app:reload"), fresh, remote.WithAuth(bob))
		}
		if err := bobPushes(); err == nil {
			t.Fatal("bob pushes before the reload")
		}
		s.writeConfig(t, "push", "")
		waitFor(t, "bob's push grant to apply", func() bool { return bobPushes() == nil })
		if _, err := eb.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("reload")}}}); err != nil {
			t.Errorf("bob's key after the reload: %v", err)
		}
		// A broken file (an inline secret) keeps the configuration in force.
		s.writeConfig(t, "pull", "  - {id: AKIDX, secret: hunter2, user: bob}\n")
		waitFor(t, "the refused reload to be logged", func() bool { return strings.Contains(s.log.String(), "auth config not reloaded") })
		if err := bobPushes(); err != nil {
			t.Errorf("bob lost his push grant to a broken file: %v", err)
		}
		if strings.Contains(s.log.String(), "hunter2") || strings.Contains(s.log.String(), "bob-secret") {
			t.Error("the log holds a secret")
		}
		if !strings.Contains(s.log.String(), "inline secret is refused") {
			t.Errorf("the log does not say why:\n%s", s.log.String())
		}
		s.writeConfig(t, "pull", "")
		waitFor(t, "bob's grant back to pull", func() bool { return bobPushes() != nil })
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// skopeoAuthz: bob copies team/app out with skopeo and cannot copy in.
func skopeoAuthz(t *testing.T, s *authzServe) {
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (apt-get install -y skopeo); skipping the skopeo authorization check")
	}
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--insecure-policy"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	layout := "oci:" + filepath.Join(dir, "layout") + ":app"
	if out, err := run("copy", "--src-tls-verify=false", "--src-creds", "bob:bob-pw", "docker://"+s.host+"/team/app:1", layout); err != nil {
		t.Fatalf("skopeo copy out as bob: %v\n%s", err, out)
	}
	out, err := run("copy", "--dest-tls-verify=false", "--dest-creds", "bob:bob-pw", layout, "docker://"+s.host+"/team/app:skopeo")
	if err == nil || !strings.Contains(strings.ToLower(out), "denied") {
		t.Errorf("skopeo copy in as bob: err %v\n%s", err, out)
	}
	if out, err := run("copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-pw", layout, "docker://"+s.host+"/team/app:skopeo"); err != nil {
		t.Errorf("skopeo copy in as alice: %v\n%s", err, out)
	}
}

// awsCLIAuthz: the AWS CLI with each user's key: describe-repositories
// lists only what each may pull, and only alice may set a lifecycle policy
// or the repository's scanning configuration.
func awsCLIAuthz(t *testing.T, s *authzServe) {
	bin := "/usr/bin/aws"
	if _, err := os.Stat(bin); err != nil {
		p, err := exec.LookPath("aws")
		if err != nil {
			t.Skip("AWS CLI not installed (apt-get install -y awscli); skipping the aws ecr authorization check")
		}
		bin = p
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	keys := map[string][2]string{"alice": {"AKIDALICE", "alice-secret"}, "bob": {"AKIDBOB", "bob-secret"}, "carol": {"AKIDCAROL", "carol-secret"}}
	run := func(user string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--endpoint-url", "http://" + s.host, "--output", "json", "ecr"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "AWS_ACCESS_KEY_ID=" + keys[user][0], "AWS_SECRET_ACCESS_KEY=" + keys[user][1],
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty, "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for user, want := range map[string][]string{"alice": {"secret/app", "team/app"}, "bob": {"team/app"}, "carol": nil} {
		out, err := run(user, "describe-repositories")
		if err != nil {
			t.Fatalf("aws ecr describe-repositories as %s: %v\n%s", user, err, out)
		}
		var resp struct {
			Repositories []struct{ RepositoryName string }
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var got []string
		for _, r := range resp.Repositories {
			got = append(got, r.RepositoryName)
		}
		if !slices.Equal(got, want) {
			t.Errorf("aws ecr describe-repositories as %s: %v, want %v", user, got, want)
		}
	}
	policy := `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}`
	for _, user := range []string{"bob", "carol", "alice"} {
		for _, args := range [][]string{
			{"put-lifecycle-policy", "--repository-name", "team/app", "--lifecycle-policy-text", policy},
			{"put-image-scanning-configuration", "--repository-name", "team/app", "--image-scanning-configuration", "scanOnPush=true"},
		} {
			out, err := run(user, args...)
			if user == "alice" {
				if err != nil {
					t.Errorf("aws ecr %s as alice: %v\n%s", args[0], err, out)
				}
				continue
			}
			if err == nil || !strings.Contains(out, "AccessDeniedException") {
				t.Errorf("aws ecr %s as %s: %v\n%s", args[0], user, err, out)
			}
		}
	}
}
