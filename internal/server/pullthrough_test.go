package server

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// upstream is an in-process OCI registry (go-containerregistry's) that
// counts the manifest and blob requests it gets and can be told to lie
// about blob contents.
type upstream struct {
	srv  *httptest.Server
	host string

	mu        sync.Mutex
	manifests int
	blobs     int
	lie       bool
	// user and pass, when set, are required (HTTP Basic).
	user, pass string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		lie := u.lie
		if u.user != "" {
			if user, pass, ok := r.BasicAuth(); !ok || user != u.user || pass != u.pass {
				u.mu.Unlock()
				w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		switch {
		case strings.Contains(r.URL.Path, "/manifests/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			u.manifests++
		case strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet:
			u.blobs++
		}
		u.mu.Unlock()
		if lie && strings.Contains(r.URL.Path, "/blobs/sha256:") && r.Method == http.MethodGet {
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 0 {
				body[len(body)/2] ^= 0xff // same size, other content
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	u.host = strings.TrimPrefix(u.srv.URL, "http://")
	return u
}

// counts returns the manifest and blob requests so far.
func (u *upstream) counts() (int, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.manifests, u.blobs
}

func (u *upstream) push(t *testing.T, repoTag string, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(512, layers)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(u.host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	u.mu.Lock()
	a := authn.FromConfig(authn.AuthConfig{Username: u.user, Password: u.pass})
	if u.user == "" {
		a = authn.Anonymous
	}
	u.mu.Unlock()
	if err := remote.Write(ref, img, remote.WithAuth(a)); err != nil {
		t.Fatalf("push %s to the upstream: %v", repoTag, err)
	}
	return img
}

// pullAll pulls ref from ts with a, reading every layer, and returns the
// image's digest.
func pullAll(t *testing.T, ts *testServer, ref string, a authn.Authenticator) (v1.Hash, error) {
	t.Helper()
	r, err := name.ParseReference(ts.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithAuth(a))
	if err != nil {
		return v1.Hash{}, err
	}
	ls, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, err
		}
	}
	return img.Digest()
}

// waitScan waits for the scan of repo@dgst to leave IN_PROGRESS and returns
// its findings.
func waitScan(t *testing.T, client *ecr.Client, repo string, dgst v1.Hash) *ecr.DescribeImageScanFindingsOutput {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := client.DescribeImageScanFindings(ctx, &ecr.DescribeImageScanFindingsInput{
			RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(dgst.String())},
		})
		var nf *ecrtypes.ScanNotFoundException
		switch {
		case errors.As(err, &nf):
		case err != nil:
			t.Fatalf("DescribeImageScanFindings %s@%s: %v", repo, dgst, err)
		case out.ImageScanStatus.Status != ecrtypes.ScanStatusInProgress:
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scan of %s@%s did not finish (last error %v)", repo, dgst, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPullThroughCache(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	first := up.push(t, "library/app:1", 3)
	firstDigest, _ := first.Digest()

	ts := startServer(t, func(c *Config) {
		c.Users = append(c.Users,
			User{Name: "reader", Password: "reader-pass", Grants: []Grant{{Repository: "hub/*", Actions: []string{"pull"}}}})
	})
	client := sdkClient(ts, testKeyID, testSecret)
	if _, err := client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
		ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{ScanFrequency: ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("hub/*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}},
	}); err != nil {
		t.Fatal(err)
	}
	// The repositories the cache creates get the PULL_THROUGH_CACHE
	// template's settings.
	if _, err := client.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("hub"), AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForPullThroughCache},
		ResourceTags: []ecrtypes.Tag{{Key: aws.String("source"), Value: aws.String("pull-through")}},
	}); err != nil {
		t.Fatal(err)
	}
	created, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String(up.host),
	})
	if err != nil {
		t.Fatalf("CreatePullThroughCacheRule: %v", err)
	}
	if aws.ToString(created.UpstreamRegistryUrl) != up.host || aws.ToString(created.EcrRepositoryPrefix) != "hub" || created.CreatedAt == nil {
		t.Errorf("CreatePullThroughCacheRule = %+v", created)
	}
	v, err := client.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")})
	if err != nil || !v.IsValid || v.Failure != nil {
		t.Fatalf("ValidatePullThroughCacheRule = %+v, %v", v, err)
	}

	// A pull-only caller cannot make the cache fetch from the upstream.
	reader := authn.FromConfig(authn.AuthConfig{Username: "reader", Password: "reader-pass"})
	mStart, bStart := up.counts() // the push asked for its manifest
	_, err = pullAll(t, ts, "hub/library/app:1", reader)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
		t.Fatalf("first pull as a pull-only user: %v, want 403", err)
	}
	if m0, b0 := up.counts(); m0 != mStart || b0 != bStart {
		t.Errorf("a refused import asked the upstream (%d manifest, %d blob requests)", m0-mStart, b0-bStart)
	}

	// The first pull fetches the image and scans it.
	got, err := pullAll(t, ts, "hub/library/app:1", ciAuth)
	if err != nil {
		t.Fatalf("first pull: %v", err)
	}
	if got != firstDigest {
		t.Fatalf("first pull got %s, want %s", got, firstDigest)
	}
	m1, b1 := up.counts()
	if m1 == mStart || b1-bStart != 4 {
		t.Errorf("first pull: %d manifest and %d blob requests upstream, want some and 4 (config and 3 layers)", m1-mStart, b1-bStart)
	}
	scan := waitScan(t, client, "hub/library/app", firstDigest)
	if scan.ImageScanStatus.Status != ecrtypes.ScanStatusComplete || len(scan.ImageScanFindings.Findings) != 3 {
		t.Errorf("scan of the cached image: %+v, %d findings", scan.ImageScanStatus, len(scan.ImageScanFindings.Findings))
	}
	tags, err := client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecr:us-east-1:000000000000:repository/hub/library/app")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "source" {
		t.Errorf("the cached repository's tags = %+v, %v; want the PULL_THROUGH_CACHE template's", tags, err)
	}

	// The second pull, and a pull-only caller's, are served locally.
	for _, a := range []authn.Authenticator{ciAuth, reader} {
		if got, err := pullAll(t, ts, "hub/library/app:1", a); err != nil || got != firstDigest {
			t.Fatalf("second pull: %s, %v", got, err)
		}
	}
	if got, err := pullAll(t, ts, "hub/library/app@"+firstDigest.String(), ciAuth); err != nil || got != firstDigest {
		t.Fatalf("pull by digest: %s, %v", got, err)
	}
	if m, b := up.counts(); m != m1 || b != b1 {
		t.Errorf("local pulls asked the upstream: %d→%d manifest, %d→%d blob requests", m1, m, b1, b)
	}

	// The upstream tag moves: within the re-check interval the cached
	// copy is served without asking.
	second := up.push(t, "library/app:1", 2)
	secondDigest, _ := second.Digest()
	m2, b2 := up.counts() // after the push's own requests
	if got, err := pullAll(t, ts, "hub/library/app:1", ciAuth); err != nil || got != firstDigest {
		t.Fatalf("pull within the re-check interval: %s, %v; want the cached %s", got, err, firstDigest)
	}
	if m, b := up.counts(); m != m2 || b != b2 {
		t.Errorf("a pull within the re-check interval asked the upstream")
	}
	// 24 h later (the check aged in the store), the next pull asks the
	// upstream, fetches the moved tag's image and scans it.
	rec, err := ts.store.GetPullThroughTag(ctx, "hub/library/app", "1")
	if err != nil || rec.Digest != firstDigest.String() {
		t.Fatalf("the tag's check: %+v, %v", rec, err)
	}
	rec.CheckedAt = rec.CheckedAt.Add(-24*time.Hour - time.Second)
	if err := ts.store.PutPullThroughTag(ctx, "hub/library/app", "1", rec); err != nil {
		t.Fatal(err)
	}
	if got, err := pullAll(t, ts, "hub/library/app:1", ciAuth); err != nil || got != secondDigest {
		t.Fatalf("pull after the re-check interval: %s, %v; want the moved tag's %s", got, err, secondDigest)
	}
	if _, b := up.counts(); b != b2+3 {
		t.Errorf("the moved tag's image took %d blob requests, want 3 (config and 2 layers)", b-b2)
	}
	scan = waitScan(t, client, "hub/library/app", secondDigest)
	if scan.ImageScanStatus.Status != ecrtypes.ScanStatusComplete || len(scan.ImageScanFindings.Findings) != 2 {
		t.Errorf("scan of the moved tag's image: %+v, %d findings", scan.ImageScanStatus, len(scan.ImageScanFindings.Findings))
	}
	// An unchanged tag re-checked only asks for its manifest.
	rec, _ = ts.store.GetPullThroughTag(ctx, "hub/library/app", "1")
	rec.CheckedAt = rec.CheckedAt.Add(-25 * time.Hour)
	if err := ts.store.PutPullThroughTag(ctx, "hub/library/app", "1", rec); err != nil {
		t.Fatal(err)
	}
	m3, b3 := up.counts()
	if got, err := pullAll(t, ts, "hub/library/app:1", ciAuth); err != nil || got != secondDigest {
		t.Fatalf("re-check of an unchanged tag: %s, %v", got, err)
	}
	if m, b := up.counts(); m != m3+1 || b != b3 {
		t.Errorf("re-check of an unchanged tag: %d manifest and %d blob requests, want 1 and 0", m-m3, b-b3)
	}
	if rec, _ := ts.store.GetPullThroughTag(ctx, "hub/library/app", "1"); time.Since(rec.CheckedAt) > time.Minute {
		t.Errorf("the re-check was not recorded: %+v", rec)
	}

	// Repositories under no rule never reach the upstream.
	m4, b4 := up.counts()
	ts.push(t, "other/app:1", 1, ciAuth)
	if _, err := pullAll(t, ts, "other/app:1", ciAuth); err != nil {
		t.Fatal(err)
	}
	if _, err := pullAll(t, ts, "other/library/app:1", ciAuth); err == nil {
		t.Error("a repository under no rule was found")
	}
	if m, b := up.counts(); m != m4 || b != b4 {
		t.Errorf("pulls outside every rule asked the upstream")
	}

	// A tag the upstream does not have is MANIFEST_UNKNOWN, naming why.
	_, err = pullAll(t, ts, "hub/library/app:missing", ciAuth)
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "upstream registry does not have it") {
		t.Errorf("pull of a tag the upstream lacks: %v", err)
	}

	// The rule operations.
	rules, err := client.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{})
	if err != nil || len(rules.PullThroughCacheRules) != 1 || aws.ToString(rules.PullThroughCacheRules[0].UpstreamRepositoryPrefix) != "ROOT" {
		t.Fatalf("DescribePullThroughCacheRules = %+v, %v", rules, err)
	}
	if _, err := client.DeletePullThroughCacheRule(ctx, &ecr.DeletePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("hub")}); err != nil {
		t.Fatal(err)
	}
	// Without the rule, the cached images stay and nothing else is fetched.
	if got, err := pullAll(t, ts, "hub/library/app:1", ciAuth); err != nil || got != secondDigest {
		t.Errorf("pull of a cached image after the rule was deleted: %s, %v", got, err)
	}
	if _, err := pullAll(t, ts, "hub/library/other:1", ciAuth); err == nil {
		t.Error("a pull fetched from the upstream after the rule was deleted")
	}
}

func TestPullThroughRefusesALyingUpstream(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	img := up.push(t, "team/app:1", 2)
	dgst, _ := img.Digest()
	ts := startServer(t, nil)
	client := sdkClient(ts, testKeyID, testSecret)
	if _, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("mirror"), UpstreamRegistryUrl: aws.String(up.host), UpstreamRepositoryPrefix: aws.String("team"),
	}); err != nil {
		t.Fatal(err)
	}
	up.mu.Lock()
	up.lie = true
	up.mu.Unlock()
	_, err := pullAll(t, ts, "mirror/app:1", ciAuth)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("pull from a lying upstream: %v, want 404 naming the digest mismatch", err)
	}
	// Nothing was stored: no image, and the tag was never recorded.
	if _, err := ts.store.GetImage(ctx, "mirror/app", dgst.String()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetImage after a refused fetch: %v, want not found", err)
	}
	if _, err := ts.store.GetPullThroughTag(ctx, "mirror/app", "1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused fetch was recorded as a check: %v", err)
	}
	// The upstream tells the truth again: upstreamRepositoryPrefix maps
	// mirror/app to team/app.
	up.mu.Lock()
	up.lie = false
	up.mu.Unlock()
	if got, err := pullAll(t, ts, "mirror/app:1", ciAuth); err != nil || got != dgst {
		t.Fatalf("pull after the upstream recovered: %s, %v", got, err)
	}
	if got := pullDigests(t, ts, "mirror/app"); !cmp.Equal(got, []string{dgst.String()}) {
		t.Errorf("images stored: %v", got)
	}
}

// cmpSorted compares string slices as sets.
var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// pullDigests lists the digests stored in repo.
func pullDigests(t *testing.T, ts *testServer, repo string) []string {
	t.Helper()
	imgs, err := ts.store.ListImages(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range imgs {
		out = append(out, i.Digest)
	}
	return out
}

// TestPullThroughUpstreamCredentials: a rule's credentialArn names the
// auth config's registry credential the upstream is pulled with.
func TestPullThroughUpstreamCredentials(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	up.user, up.pass = "mirror", "tok-1"
	img := up.push(t, "org/app:1", 1)
	dgst, _ := img.Digest()
	ts := startServer(t, func(c *Config) {
		c.RegistryCredentials = []auth.RegistryCredential{{Name: "up", Username: "mirror", Password: "tok-1"}}
	})
	client := sdkClient(ts, testKeyID, testSecret)
	arn := "arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/up"
	if _, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("anon"), UpstreamRegistryUrl: aws.String(up.host),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("cred"), UpstreamRegistryUrl: aws.String(up.host), CredentialArn: aws.String(arn),
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		prefix, failure string
	}{{"cred", ""}, {"anon", "refused the credentials"}} {
		v, err := client.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String(tt.prefix)})
		if err != nil || v.IsValid != (tt.failure == "") || !strings.Contains(aws.ToString(v.Failure), tt.failure) {
			t.Errorf("ValidatePullThroughCacheRule(%s) = %v %q, %v; want failure %q", tt.prefix, v.IsValid, aws.ToString(v.Failure), err, tt.failure)
		}
	}
	var te *transport.Error
	if _, err := pullAll(t, ts, "anon/org/app:1", ciAuth); !errors.As(err, &te) || !strings.Contains(err.Error(), "refused the credentials") {
		t.Errorf("pull without credentials: %v", err)
	}
	if got, err := pullAll(t, ts, "cred/org/app:1", ciAuth); err != nil || got != dgst {
		t.Fatalf("pull with credentials: %s, %v", got, err)
	}
	// A reloaded auth config with a stale token: the rule no longer
	// validates, and what is cached is still served.
	ts.ReplaceRegistryCredentials([]auth.RegistryCredential{{Name: "up", Username: "mirror", Password: "stale"}})
	v, err := client.ValidatePullThroughCacheRule(ctx, &ecr.ValidatePullThroughCacheRuleInput{EcrRepositoryPrefix: aws.String("cred")})
	if err != nil || v.IsValid {
		t.Errorf("ValidatePullThroughCacheRule with a stale token = %+v, %v", v, err)
	}
	if got, err := pullAll(t, ts, "cred/org/app:1", ciAuth); err != nil || got != dgst {
		t.Errorf("cached pull with a stale token: %s, %v", got, err)
	}
	// A credential that is not configured at all.
	ts.ReplaceRegistryCredentials(nil)
	if _, err := pullAll(t, ts, "cred/org/other:1", ciAuth); err == nil || !strings.Contains(err.Error(), "credentials are not configured") {
		t.Errorf("pull with an unconfigured credential: %v", err)
	}
}

// TestPullThroughIndex: an index is fetched with its child manifests and
// their blobs; each child image is stored and scanned.
func TestPullThroughIndex(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(up.host+"/multi/app:1", name.Insecure)
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	ts := startServer(t, nil)
	client := sdkClient(ts, testKeyID, testSecret)
	if _, err := client.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
		ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{ScanFrequency: ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("mirror/team"), UpstreamRegistryUrl: aws.String(up.host),
	}); err != nil {
		t.Fatal(err)
	}
	local, _ := name.ParseReference(ts.host+"/mirror/team/multi/app:1", name.Insecure)
	got, err := remote.Index(local, remote.WithAuth(ciAuth))
	if err != nil {
		t.Fatalf("pull the index: %v", err)
	}
	if d, _ := got.Digest(); d != idxDigest {
		t.Fatalf("index digest %s, want %s", d, idxDigest)
	}
	want := []string{idxDigest.String()}
	for _, m := range im.Manifests {
		want = append(want, m.Digest.String())
	}
	if d := cmp.Diff(want, pullDigests(t, ts, "mirror/team/multi/app"), cmpSorted); d != "" {
		t.Errorf("stored manifests (-want +got):\n%s", d)
	}
	for _, m := range im.Manifests {
		if scan := waitScan(t, client, "mirror/team/multi/app", m.Digest); scan.ImageScanStatus.Status != ecrtypes.ScanStatusComplete {
			t.Errorf("scan of child %s: %+v", m.Digest, scan.ImageScanStatus)
		}
		// Each child's layers are served locally.
		child, _ := name.ParseReference(ts.host+"/mirror/team/multi/app@"+m.Digest.String(), name.Insecure)
		img, err := remote.Image(child, remote.WithAuth(ciAuth))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := img.ConfigFile(); err != nil {
			t.Errorf("child %s config: %v", m.Digest, err)
		}
	}
}

// TestPullThroughConcurrentPullsShareOneFetch: pulls of one uncached tag
// at once make one fetch: each blob is asked of the upstream once.
func TestPullThroughConcurrentPullsShareOneFetch(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	img := up.push(t, "lib/app:1", 3)
	dgst, _ := img.Digest()
	ts := startServer(t, nil)
	client := sdkClient(ts, testKeyID, testSecret)
	if _, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String(up.host),
	}); err != nil {
		t.Fatal(err)
	}
	_, b0 := up.counts()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := pullAll(t, ts, "hub/lib/app:1", ciAuth)
			if err == nil && got != dgst {
				err = errors.New("pulled " + got.String())
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	if _, b := up.counts(); b-b0 != 4 {
		t.Errorf("8 concurrent pulls made %d blob requests upstream, want 4 (one fetch: config and 3 layers)", b-b0)
	}
	if got := pullDigests(t, ts, "hub/lib/app"); !cmp.Equal(got, []string{dgst.String()}) {
		t.Errorf("images stored: %v", got)
	}
}

// TestPullThroughImmutableTag: a repository the PULL_THROUGH_CACHE template
// makes tag-immutable keeps its cached image when the upstream tag moves
// (the moved image is refused, the cached one served), and a new tag is
// fetched as usual.
func TestPullThroughImmutableTag(t *testing.T) {
	ctx := context.Background()
	up := newUpstream(t)
	first := up.push(t, "lib/app:1", 1)
	firstDigest, _ := first.Digest()
	ts := startServer(t, nil)
	client := sdkClient(ts, testKeyID, testSecret)
	if _, err := client.CreateRepositoryCreationTemplate(ctx, &ecr.CreateRepositoryCreationTemplateInput{
		Prefix: aws.String("ROOT"), AppliedFor: []ecrtypes.RCTAppliedFor{ecrtypes.RCTAppliedForPullThroughCache},
		ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("hub"), UpstreamRegistryUrl: aws.String(up.host),
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := pullAll(t, ts, "hub/lib/app:1", ciAuth); err != nil || got != firstDigest {
		t.Fatalf("first pull: %s, %v", got, err)
	}
	repo, err := ts.store.GetRepository(ctx, "hub/lib/app")
	if err != nil || !repo.TagImmutable {
		t.Fatalf("the cached repository: %+v, %v; want immutable tags from the template", repo, err)
	}
	up.push(t, "lib/app:1", 2)
	rec, _ := ts.store.GetPullThroughTag(ctx, "hub/lib/app", "1")
	rec.CheckedAt = rec.CheckedAt.Add(-25 * time.Hour)
	if err := ts.store.PutPullThroughTag(ctx, "hub/lib/app", "1", rec); err != nil {
		t.Fatal(err)
	}
	if got, err := pullAll(t, ts, "hub/lib/app:1", ciAuth); err != nil || got != firstDigest {
		t.Errorf("pull after the upstream tag moved: %s, %v; want the cached %s", got, err, firstDigest)
	}
	third := up.push(t, "lib/app:2", 1)
	thirdDigest, _ := third.Digest()
	if got, err := pullAll(t, ts, "hub/lib/app:2", ciAuth); err != nil || got != thirdDigest {
		t.Errorf("pull of a new tag: %s, %v", got, err)
	}
}
