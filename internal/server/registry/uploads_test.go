package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/metrics"
)

// clock is a settable test clock.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

var admins = []auth.User{
	{Name: "alice", Password: "a-pass", Grants: []auth.Grant{{Repository: "*", Actions: []string{"pull", "push", "admin"}}}},
	{Name: "bob", Password: "b-pass", Grants: []auth.Grant{{Repository: "*", Actions: []string{"pull", "push", "admin"}}}},
}

// upload is one raw /v2/ request as user (password "<first letter>-pass").
func (f *fixture) upload(t *testing.T, user, method, path string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, user[:1]+"-pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// open starts an upload session and returns its location path, failing
// the test on any status but 202.
func (f *fixture) open(t *testing.T, user, repo string) string {
	t.Helper()
	resp := f.upload(t, user, "POST", "/v2/"+repo+"/blobs/uploads/", "")
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: POST %s uploads = %d %s, want 202", user, repo, resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("202 without a Location (%q) and Docker-Upload-UUID", resp.Header.Get("Location"))
	}
	return loc.RequestURI()
}

// refused checks that opening one more session is a 429 TOOMANYREQUESTS
// whose message contains want.
func (f *fixture) refused(t *testing.T, user, repo, want string) {
	t.Helper()
	resp := f.upload(t, user, "POST", "/v2/"+repo+"/blobs/uploads/", "")
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusTooManyRequests || len(body.Errors) != 1 || body.Errors[0].Code != "TOOMANYREQUESTS" || !strings.Contains(body.Errors[0].Message, want) {
		t.Fatalf("%s: POST %s uploads = %d %+v, want 429 TOOMANYREQUESTS containing %q", user, repo, resp.StatusCode, body.Errors, want)
	}
}

func withUploads(m *metrics.Metrics, now func() time.Time, l UploadLimits) func(*Options) {
	return func(o *Options) {
		o.Uploads, o.Metrics = l, m
		if now != nil {
			o.Now = now
		}
	}
}

// TestUploadPurgeAge: sessions abandoned mid-push survive until the purge
// age and are gone after it, their bytes with them; completed blobs and
// images are untouched; purges are counted.
func TestUploadPurgeAge(t *testing.T) {
	m := metrics.New()
	var c clock
	f := newFixtureWith(t, admins, t.TempDir(), withUploads(m, c.now, UploadLimits{}))
	ctx := context.Background()

	img, _ := random.Image(512, 2)
	ref, _ := name.ParseReference(f.host+"/team/app:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "a-pass"}))); err != nil {
		t.Fatal(err)
	}
	// Two interrupted pushes: one sent 1 KiB of its layer, one nothing.
	first := f.open(t, "alice", "team/app")
	if resp := f.upload(t, "alice", "PATCH", first, strings.Repeat("x", 1024)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH = %d", resp.StatusCode)
	}
	second := f.open(t, "bob", "team/other")

	c.advance(DefaultUploadPurgeAge - time.Hour)
	if n, err := f.reg.PurgeUploads(ctx); err != nil || n != 0 {
		t.Fatalf("purge at 23h: %d purged, %v; want none", n, err)
	}
	if resp := f.upload(t, "alice", "GET", first, ""); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-1023" {
		t.Fatalf("status of a 23 h old upload = %d (Range %q), want 204 with its 1 KiB", resp.StatusCode, resp.Header.Get("Range"))
	}

	c.advance(time.Hour + time.Minute)
	n, err := f.reg.PurgeUploads(ctx)
	if err != nil || n != 2 {
		t.Fatalf("purge past 24h: %d purged, %v; want 2", n, err)
	}
	for _, loc := range []string{first, second} {
		if resp := f.upload(t, "alice", "GET", loc, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s after the purge = %d, want 404", loc, resp.StatusCode)
		}
	}
	for _, repo := range []string{"team/app", "team/other"} {
		if k, err := f.reg.CountUploads(ctx, repo); err != nil || k != 0 {
			t.Errorf("%s: %d uploads left (%v)", repo, k, err)
		}
	}
	if _, err := remote.Image(ref, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "alice", Password: "a-pass"}))); err != nil {
		t.Errorf("the pushed image after the purge: %v", err)
	}
	if got := testutil.ToFloat64(m.UploadsPurged); got != 2 {
		t.Errorf("stowaway_uploads_purged_total = %v, want 2", got)
	}
}

// TestUploadPurgeRuns: with a short --upload-purge-age the scheduled purge
// removes an interrupted upload on its own.
func TestUploadPurgeRuns(t *testing.T) {
	m := metrics.New()
	f := newFixtureWith(t, admins, t.TempDir(), withUploads(m, nil, UploadLimits{PurgeAge: time.Second}))
	loc := f.open(t, "alice", "team/app")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.reg.RunUploadPurge(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(15 * time.Second)
	for testutil.ToFloat64(m.UploadsPurged) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the interrupted upload was not purged within 15 s of a 1 s purge age")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp := f.upload(t, "alice", "GET", loc, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET the purged upload = %d, want 404", resp.StatusCode)
	}
}

// TestUploadCaps: the session over a cap is refused with 429 naming the
// cap; finishing a session (complete or cancel) frees its place; refusals
// are counted per limit; the ECR API's path gets the same error.
func TestUploadCaps(t *testing.T) {
	m := metrics.New()
	f := newFixtureWith(t, admins, t.TempDir(), withUploads(m, nil, UploadLimits{PerRepository: 3, PerUser: 2}))
	ctx := context.Background()

	a1 := f.open(t, "alice", "team/a")
	f.open(t, "alice", "team/a")
	f.refused(t, "alice", "team/b", "user alice has 2 uploads in progress, the most this server allows (--max-uploads-per-user 2)")

	if resp := f.upload(t, "alice", "DELETE", a1, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("cancel = %d", resp.StatusCode)
	}
	b1 := f.open(t, "alice", "team/b")

	f.open(t, "bob", "team/a")
	f.open(t, "bob", "team/a")
	f.refused(t, "bob", "team/a", "repository team/a has 3 uploads in progress, the most this server allows (--max-uploads-per-repository 3)")
	_, err := f.reg.OpenUpload(ctx, "bob", "team/a")
	var le *UploadLimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrTooManyUploads) || le.Limit != "repository" {
		t.Fatalf("OpenUpload over the repository cap: %v, want an *UploadLimitError for the repository", err)
	}

	// Completing a session frees the user's place.
	f.refused(t, "alice", "team/c", "user alice")
	blob := "layer bytes"
	sum := sha256.Sum256([]byte(blob))
	if resp := f.upload(t, "alice", "PUT", b1+"&digest=sha256:"+hex.EncodeToString(sum[:]), blob); resp.StatusCode != http.StatusCreated {
		t.Fatalf("complete = %d", resp.StatusCode)
	}
	f.open(t, "alice", "team/c")

	want := map[string]float64{"repository": 2, "user": 2}
	got := map[string]float64{}
	for _, l := range []string{"repository", "user"} {
		got[l] = testutil.ToFloat64(m.UploadsRefused.WithLabelValues(l))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stowaway_uploads_refused_total (-want +got):\n%s", diff)
	}
}

// TestUploadCapConcurrent: of 12 sessions opened at once in one repository
// with a cap of 3, exactly 3 are accepted.
func TestUploadCapConcurrent(t *testing.T) {
	f := newFixtureWith(t, admins, t.TempDir(), withUploads(metrics.New(), nil, UploadLimits{PerRepository: 3, PerUser: -1}))
	var wg sync.WaitGroup
	codes := make(chan int, 12)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", f.srv.URL+"/v2/team/app/blobs/uploads/", nil)
			req.SetBasicAuth("alice", "a-pass")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if diff := cmp.Diff(map[int]int{202: 3, 429: 9}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// TestUploadUserCapAcrossReplicas: a session one replica opened and
// another completed stops counting for its user on the first.
func TestUploadUserCapAcrossReplicas(t *testing.T) {
	dir := t.TempDir()
	lim := UploadLimits{PerUser: 2}
	a := newFixtureWith(t, admins, dir, withUploads(metrics.New(), nil, lim))
	b := newFixtureWith(t, admins, dir, withUploads(metrics.New(), nil, lim))
	first := a.open(t, "alice", "team/app")
	a.open(t, "alice", "team/app")
	a.refused(t, "alice", "team/app", "user alice has 2")
	if resp := b.upload(t, "alice", "DELETE", first, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("cancel on the other replica = %d", resp.StatusCode)
	}
	a.open(t, "alice", "team/app")
}

func TestUploadLimitsDefaults(t *testing.T) {
	for _, tc := range []struct {
		in, want UploadLimits
	}{
		{UploadLimits{}, UploadLimits{PerRepository: 256, PerUser: 128, PurgeAge: 24 * time.Hour, PurgeInterval: time.Hour}},
		{UploadLimits{PerRepository: -1, PerUser: 5, PurgeAge: 2 * time.Hour}, UploadLimits{PerRepository: -1, PerUser: 5, PurgeAge: 2 * time.Hour, PurgeInterval: 30 * time.Minute}},
		{UploadLimits{PurgeAge: time.Second}, UploadLimits{PerRepository: 256, PerUser: 128, PurgeAge: time.Second, PurgeInterval: time.Second}},
	} {
		if diff := cmp.Diff(tc.want, tc.in.withDefaults()); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.in, diff)
		}
	}
}

// TestUploadPurgeOrphans: session directories without a usable startedat
// (distribution's cancel left such hash-state directories behind before
// the /v2/ DELETE removed them whole; a garbage file) are dated by their
// modification time and purged once past the age, instead of counting
// against the repository's cap forever. A /v2/ cancel leaves nothing.
func TestUploadPurgeOrphans(t *testing.T) {
	var c clock
	dir := t.TempDir()
	f := newFixtureWith(t, admins, dir, withUploads(metrics.New(), c.now, UploadLimits{}))
	ctx := context.Background()

	loc := f.open(t, "alice", "team/app")
	if resp := f.upload(t, "alice", "DELETE", loc, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("cancel = %d", resp.StatusCode)
	}
	if n, err := f.reg.CountUploads(ctx, "team/app"); err != nil || n != 0 {
		t.Fatalf("%d uploads after a /v2/ cancel (%v), want 0", n, err)
	}

	root := filepath.Join(dir, "blobs")
	orphan := func(id string, files map[string]string, age time.Duration) {
		t.Helper()
		for name, body := range files {
			if err := f.reg.driver.PutContent(ctx, uploadDir("team/app", id)+"/"+name, []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(uploadDir("team/app", id))), old, old); err != nil {
			t.Fatal(err)
		}
	}
	orphan("11111111-1111-1111-1111-111111111111", map[string]string{"hashstates/sha256/0": "state"}, 30*time.Hour)
	orphan("22222222-2222-2222-2222-222222222222", map[string]string{"startedat": "not a time", "data": "x"}, 30*time.Hour)
	orphan("33333333-3333-3333-3333-333333333333", map[string]string{"hashstates/sha256/0": "state"}, time.Hour)
	if n, _ := f.reg.CountUploads(ctx, "team/app"); n != 3 {
		t.Fatalf("%d session directories, want the 3 made", n)
	}
	if n, err := f.reg.PurgeUploads(ctx); err != nil || n != 2 {
		t.Fatalf("purge: %d purged, %v; want the 2 older than 24h", n, err)
	}
	if n, _ := f.reg.CountUploads(ctx, "team/app"); n != 1 {
		t.Fatalf("%d left, want the 1 h old one", n)
	}
	c.advance(24 * time.Hour)
	if n, err := f.reg.PurgeUploads(ctx); err != nil || n != 1 {
		t.Fatalf("purge a day later: %d purged, %v; want 1", n, err)
	}
}
