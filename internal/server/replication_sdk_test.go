package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// destRegistry is a destination registry: go-containerregistry's
// pkg/registry behind Basic authentication, counting every manifest PUT
// by (digest, reference), and answering 503 to everything while down.
type destRegistry struct {
	h  http.Handler
	mu sync.Mutex
	// puts counts manifest PUTs by "digest reference".
	puts map[string]int
	down bool
}

const destUser, destPassword = "robot", "dest-pass"

func (d *destRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	down := d.down
	d.mu.Unlock()
	if down {
		http.Error(w, "destination down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != destUser || p != destPassword {
		w.Header().Set("WWW-Authenticate", `Basic realm="dest"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(body)
		ref := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		d.mu.Lock()
		d.puts["sha256:"+hex.EncodeToString(sum[:])+" "+ref]++
		d.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	d.h.ServeHTTP(w, r)
}

func (d *destRegistry) setDown(down bool) {
	d.mu.Lock()
	d.down = down
	d.mu.Unlock()
}

func (d *destRegistry) putCounts() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for k, v := range d.puts {
		out[k] = v
	}
	return out
}

// runServer serves a Server on its own address until the returned stop is
// called (a restart is stop, then runServer again on the same DataDir).
func runServer(t *testing.T, cfg Config, scanner Scanner) (url string, stop func()) {
	t.Helper()
	s, err := New(context.Background(), cfg, scanner)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// TestReplicationSDK replicates to a second registry with an outage and a
// restart of the source in the middle, driven through the AWS SDK for Go
// v2: every image and referrer arrives exactly once, DescribeImage
// ReplicationStatus says FAILED with the reason while the destination is
// down and COMPLETE once it caught up, on SQLite and on PostgreSQL.
func TestReplicationSDK(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dbURL := ""
			if db == "postgres" {
				dbURL = storetest.PostgresURL(t)
			}
			testReplicationSDK(t, dbURL)
		})
	}
}

func testReplicationSDK(t *testing.T, dbURL string) {
	ctx := context.Background()
	dest := &destRegistry{h: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithReferrersSupport(true)), puts: map[string]int{}}
	dts := httptest.NewServer(dest)
	defer dts.Close()
	du, err := url.Parse(dts.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		DataDir:     t.TempDir(),
		DatabaseURL: dbURL,
		RegistryID:  "123456789012",
		Region:      "us-east-1",
		AccessKeys:  []AccessKey{{ID: testKeyID, Secret: testSecret, Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Users:       []User{{Name: "ci", Password: "ci-pass", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Workers:     1,
		SBOMFormats: "cyclonedx",
		Replication: ReplicationConfig{
			Destinations: []ReplicationDestination{{Region: "us-west-2", RegistryID: "210987654321", URL: du, Username: destUser, Password: destPassword}},
			// A delivery cut by the restart is leased for 2s, then resumed.
			Poll: 20 * time.Millisecond, Lease: 2 * time.Second, BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		},
	}
	srcURL, stop := runServer(t, cfg, sbomScanner{})
	client := func(u string) *ecr.Client {
		return ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(u),
			Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")})
	}
	c := client(srcURL)

	reg, err := c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(reg.RegistryId) != "123456789012" || reg.ReplicationConfiguration == nil || len(reg.ReplicationConfiguration.Rules) != 0 {
		t.Fatalf("DescribeRegistry before any configuration = %s %+v", aws.ToString(reg.RegistryId), reg.ReplicationConfiguration)
	}

	dr := ecrtypes.ReplicationDestination{Region: aws.String("us-west-2"), RegistryId: aws.String("210987654321")}
	prod := []ecrtypes.RepositoryFilter{{Filter: aws.String("prod"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}
	rule := func(ds ...ecrtypes.ReplicationDestination) ecrtypes.ReplicationRule {
		return ecrtypes.ReplicationRule{Destinations: ds, RepositoryFilters: prod}
	}
	var many []ecrtypes.ReplicationDestination
	for i := range 26 {
		many = append(many, ecrtypes.ReplicationDestination{Region: aws.String("us-west-2"), RegistryId: aws.String(fmt.Sprintf("2109876543%02d", i))})
	}
	var elevenRules []ecrtypes.ReplicationRule
	for range 11 {
		elevenRules = append(elevenRules, rule(dr))
	}
	for _, tt := range []struct {
		name     string
		rules    []ecrtypes.ReplicationRule
		code, in string
	}{
		{"eleven rules", elevenRules, "ValidationException", "less than or equal to 10"},
		{"26 destinations in a rule", []ecrtypes.ReplicationRule{rule(many...)}, "ValidationException", "rules.1.destinations"},
		{"26 unique destinations", []ecrtypes.ReplicationRule{rule(many[:13]...), rule(many[13:]...)}, "InvalidParameterException", "at most 25 unique destinations"},
		{"wildcard filter", []ecrtypes.ReplicationRule{{Destinations: []ecrtypes.ReplicationDestination{dr}, RepositoryFilters: []ecrtypes.RepositoryFilter{{Filter: aws.String("prod"), FilterType: "WILDCARD"}}}}, "ValidationException", "[PREFIX_MATCH]"},
		{"bad filter", []ecrtypes.ReplicationRule{{Destinations: []ecrtypes.ReplicationDestination{dr}, RepositoryFilters: []ecrtypes.RepositoryFilter{{Filter: aws.String("Prod*"), FilterType: ecrtypes.RepositoryFilterTypePrefixMatch}}}}, "ValidationException", "regular expression"},
		{"bad registry id", []ecrtypes.ReplicationRule{rule(ecrtypes.ReplicationDestination{Region: aws.String("us-west-2"), RegistryId: aws.String("2109")})}, "ValidationException", "[0-9]{12}"},
		{"itself", []ecrtypes.ReplicationRule{rule(ecrtypes.ReplicationDestination{Region: aws.String("us-east-1"), RegistryId: aws.String("123456789012")})}, "InvalidParameterException", "cannot be the source registry"},
		{"not configured", []ecrtypes.ReplicationRule{rule(ecrtypes.ReplicationDestination{Region: aws.String("eu-west-1"), RegistryId: aws.String("210987654321")})}, "InvalidParameterException", "eu-west-1/210987654321 is not configured"},
	} {
		_, err := c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{Rules: tt.rules}})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || !strings.Contains(ae.ErrorMessage(), tt.in) {
			t.Errorf("%s: PutReplicationConfiguration = %v, want %s saying %q", tt.name, err, tt.code, tt.in)
		}
	}

	// prod/* scans on push, and each scan stores an SBOM referrer.
	if _, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{ScanFrequency: ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("prod/*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}}}); err != nil {
		t.Fatal(err)
	}
	want := &ecrtypes.ReplicationConfiguration{Rules: []ecrtypes.ReplicationRule{rule(dr)}}
	put, err := c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: want})
	if err != nil {
		t.Fatalf("PutReplicationConfiguration: %v", err)
	}
	ignore := cmpopts.IgnoreUnexported(ecrtypes.ReplicationConfiguration{}, ecrtypes.ReplicationRule{}, ecrtypes.ReplicationDestination{}, ecrtypes.RepositoryFilter{})
	if diff := cmp.Diff(want, put.ReplicationConfiguration, ignore); diff != "" {
		t.Errorf("PutReplicationConfiguration response (-want +got):\n%s", diff)
	}
	reg, err = c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, reg.ReplicationConfiguration, ignore); diff != "" {
		t.Errorf("DescribeRegistry (-want +got):\n%s", diff)
	}

	host := strings.TrimPrefix(srcURL, "http://")
	ci := authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "ci-pass"})
	push := func(host, ref string) v1.Image {
		t.Helper()
		img, err := random.Image(512, 2)
		if err != nil {
			t.Fatal(err)
		}
		r, err := name.ParseReference(host+"/"+ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img, remote.WithAuth(ci)); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		return img
	}
	// pushReferrer pushes a signature-like artifact whose subject is img.
	pushReferrer := func(host, repo string, img v1.Image) v1.Image {
		t.Helper()
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		mt, _ := img.MediaType()
		sz, _ := img.Size()
		art, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		art = mutate.ConfigMediaType(mutate.MediaType(art, types.OCIManifestSchema1), "application/vnd.dev.cosign.artifact.sig.v1+json")
		sig := mutate.Subject(art, v1.Descriptor{MediaType: mt, Digest: d, Size: sz}).(v1.Image)
		sd, err := sig.Digest()
		if err != nil {
			t.Fatal(err)
		}
		r, err := name.ParseReference(host+"/"+repo+"@"+sd.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, sig, remote.WithAuth(ci)); err != nil {
			t.Fatalf("push referrer of %s: %v", d, err)
		}
		return sig
	}
	digest := func(img v1.Image) string {
		t.Helper()
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	// status returns the destinations' statuses of repo@dgst.
	status := func(c *ecr.Client, repo, dgst string) []ecrtypes.ImageReplicationStatus {
		t.Helper()
		out, err := c.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{
			RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(dgst)}})
		if err != nil {
			t.Fatalf("DescribeImageReplicationStatus %s@%s: %v", repo, dgst, err)
		}
		if aws.ToString(out.RepositoryName) != repo || aws.ToString(out.ImageId.ImageDigest) != dgst {
			t.Fatalf("DescribeImageReplicationStatus names %s@%s, want %s@%s", aws.ToString(out.RepositoryName), aws.ToString(out.ImageId.ImageDigest), repo, dgst)
		}
		return out.ReplicationStatuses
	}
	type image struct{ repo, digest string }
	// waitFor polls until every image has one status, st, at the
	// destination, and returns their failure codes.
	waitFor := func(c *ecr.Client, st ecrtypes.ReplicationStatus, imgs ...image) []string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var codes []string
			ok := true
			var last []ecrtypes.ImageReplicationStatus
			for _, im := range imgs {
				last = status(c, im.repo, im.digest)
				if len(last) != 1 || last[0].Status != st || aws.ToString(last[0].Region) != "us-west-2" || aws.ToString(last[0].RegistryId) != "210987654321" {
					ok = false
					break
				}
				codes = append(codes, aws.ToString(last[0].FailureCode))
			}
			if ok {
				return codes
			}
			if time.Now().After(deadline) {
				var got []string
				for _, s := range last {
					got = append(got, fmt.Sprintf("%s/%s %s %q", aws.ToString(s.Region), aws.ToString(s.RegistryId), s.Status, aws.ToString(s.FailureCode)))
				}
				t.Fatalf("no %s for all of %v; last statuses %v", st, imgs, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Destination up: an image and its signature arrive; a repository no
	// rule matches is not replicated.
	a := push(host, "prod/app:v1")
	sigA := pushReferrer(host, "prod/app", a)
	dev := push(host, "dev/app:v1")
	// A multi-platform index (not scanned: prod/* does not match it).
	multi, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	mref, err := name.ParseReference(host+"/production/multi:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(mref, multi, remote.WithAuth(ci)); err != nil {
		t.Fatal(err)
	}
	mim, err := multi.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	md, err := multi.Digest()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(c, ecrtypes.ReplicationStatusComplete, image{"prod/app", digest(a)}, image{"prod/app", digest(sigA)},
		image{"production/multi", md.String()}, image{"production/multi", mim.Manifests[0].Digest.String()}, image{"production/multi", mim.Manifests[1].Digest.String()})
	if got := status(c, "dev/app", digest(dev)); len(got) != 0 {
		t.Errorf("dev/app statuses = %+v, want none (no rule matches)", got)
	}

	// Outage: the pushes fail with the destination's answer as the reason.
	dest.setDown(true)
	b := push(host, "prod/app:v2")
	sigB := pushReferrer(host, "prod/app", b)
	web := push(host, "prod/web:v1")
	pending := []image{{"prod/app", digest(b)}, {"prod/app", digest(sigB)}, {"prod/web", digest(web)}}
	for _, code := range waitFor(c, ecrtypes.ReplicationStatusFailed, pending...) {
		if !strings.Contains(code, "503") {
			t.Errorf("failureCode %q does not give the destination's answer (503)", code)
		}
	}

	// The failed attempts are counted.
	if n := counter(t, srcURL, `stowaway_replication_deliveries_total{destination="us-west-2/210987654321",outcome="retry"}`); n < 3 {
		t.Errorf("retry counter = %v during the outage, want at least 3", n)
	}

	// Restart mid-replication, then the destination comes back: the
	// outbox resumes and catches up.
	stop()
	srcURL, _ = runServer(t, cfg, sbomScanner{})
	c = client(srcURL)
	host = strings.TrimPrefix(srcURL, "http://")
	dest.setDown(false)
	waitFor(c, ecrtypes.ReplicationStatusComplete, pending...)

	// A new tag of an image already replicated goes too (one PUT, by the tag).
	r, err := name.ParseReference(host+"/prod/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(r.Context().Tag("latest"), a, remote.WithAuth(ci)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for dest.putCounts()[digest(a)+" latest"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the new tag never arrived; PUTs %v", dest.putCounts())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(c, ecrtypes.ReplicationStatusComplete, image{"prod/app", digest(a)})

	// The SBOMs the scans stored arrive too (those written during the
	// outage after the restart).
	sbomOf := func(repo, subject, sig string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(subject)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Referrers {
				if aws.ToString(r.Digest) != sig && strings.Contains(aws.ToString(r.ArtifactType), "cyclonedx") {
					return aws.ToString(r.Digest)
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no SBOM referrer of %s@%s at the source", repo, subject)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	sboms := []image{{"prod/app", sbomOf("prod/app", digest(a), digest(sigA))}, {"prod/app", sbomOf("prod/app", digest(b), digest(sigB))}, {"prod/web", sbomOf("prod/web", digest(web), "")}}
	waitFor(c, ecrtypes.ReplicationStatusComplete, sboms...)
	if n := counter(t, srcURL, `stowaway_replication_deliveries_total{destination="us-west-2/210987654321",outcome="delivered"}`); n < 4 {
		t.Errorf("delivered counter = %v after the restart, want at least 4 (3 caught up, 1 new tag)", n)
	}
	wantPuts := map[string]int{
		digest(a) + " v1": 1, digest(a) + " latest": 1, digest(sigA) + " " + digest(sigA): 1,
		digest(b) + " v2": 1, digest(sigB) + " " + digest(sigB): 1,
		digest(web) + " v1": 1,
	}
	for _, sb := range sboms {
		wantPuts[sb.digest+" "+sb.digest] = 1
	}
	wantPuts[md.String()+" v1"] = 1
	for _, m := range mim.Manifests {
		wantPuts[m.Digest.String()+" "+m.Digest.String()] = 1
	}
	if diff := cmp.Diff(wantPuts, dest.putCounts()); diff != "" {
		t.Errorf("manifest PUTs at the destination (-want +got):\n%s", diff)
	}
	// The destination serves them, referrers included.
	dauth := remote.WithAuth(&authn.Basic{Username: destUser, Password: destPassword})
	for ref, want := range map[string]string{"prod/app:v1": digest(a), "prod/app:latest": digest(a), "prod/app:v2": digest(b), "prod/web:v1": digest(web)} {
		r, err := name.ParseReference(du.Host+"/"+ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(r, dauth)
		if err != nil {
			t.Errorf("pull %s from the destination: %v", ref, err)
			continue
		}
		if got := digest(img); got != want {
			t.Errorf("destination %s = %s, want %s", ref, got, want)
		}
		if ls, err := img.Layers(); err != nil || len(ls) != 2 {
			t.Errorf("destination %s: %d layers, %v", ref, len(ls), err)
		}
	}
	midx, err := remote.Index(func() name.Reference {
		r, err := name.ParseReference(du.Host+"/production/multi:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}(), dauth)
	if err != nil {
		t.Fatalf("pull the index from the destination: %v", err)
	}
	if got, _ := midx.Digest(); got != md {
		t.Errorf("destination production/multi:v1 = %s, want %s", got, md)
	}
	for _, m := range mim.Manifests {
		child, err := midx.Image(m.Digest)
		if err == nil {
			_, err = child.RawManifest()
		}
		if err != nil {
			t.Errorf("destination index child %s: %v", m.Digest, err)
		}
	}
	for subj, sig := range map[string]string{digest(a): digest(sigA), digest(b): digest(sigB)} {
		sd, err := name.NewDigest(du.Host+"/prod/app@"+subj, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := remote.Referrers(sd, dauth)
		if err != nil {
			t.Fatalf("referrers of %s at the destination: %v", subj, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range im.Manifests {
			got = append(got, m.Digest.String())
		}
		if len(got) != 2 || !slices.Contains(got, sig) {
			t.Errorf("referrers of %s at the destination = %v, want %s and its SBOM", subj, got, sig)
		}
	}
}

// counter reads one counter's value from the server's /metrics (0 when
// absent).
func counter(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// TestReplicationToStowaway replicates to another Stowaway, as one of its
// users: the image and its signature arrive; the SBOM this server wrote
// after its scan is refused there (its annotations are reserved to the
// registry that scanned), which fails that referrer's own replication
// with the destination's reason and does not hold back the image.
func TestReplicationToStowaway(t *testing.T) {
	ctx := context.Background()
	destCfg := Config{
		DataDir: t.TempDir(), RegistryID: "210987654321", Region: "us-west-2",
		Users: []User{{Name: destUser, Password: destPassword, Grants: []Grant{{Repository: "prod/*", Actions: []string{"push"}}}}},
	}
	destURL, _ := runServer(t, destCfg, &layerScanner{})
	du, err := url.Parse(destURL)
	if err != nil {
		t.Fatal(err)
	}
	srcURL, _ := runServer(t, Config{
		DataDir: t.TempDir(), RegistryID: "123456789012", Region: "us-east-1", SBOMFormats: "cyclonedx",
		AccessKeys: []AccessKey{{ID: testKeyID, Secret: testSecret, Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Users:      []User{{Name: "ci", Password: "ci-pass", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Workers:    1,
		Replication: ReplicationConfig{
			Destinations: []ReplicationDestination{{Region: "us-west-2", RegistryID: "210987654321", URL: du, Username: destUser, Password: destPassword}},
			Poll:         20 * time.Millisecond, BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		},
	}, sbomScanner{})
	c := ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(srcURL),
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")})
	if _, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{ScanFrequency: ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("prod*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutReplicationConfiguration(ctx, &ecr.PutReplicationConfigurationInput{ReplicationConfiguration: &ecrtypes.ReplicationConfiguration{
		Rules: []ecrtypes.ReplicationRule{{Destinations: []ecrtypes.ReplicationDestination{{Region: aws.String("us-west-2"), RegistryId: aws.String("210987654321")}}}}}}); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srcURL, "http://")
	ci := remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "ci", Password: "ci-pass"}))
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := func(s string) name.Reference {
		t.Helper()
		r, err := name.ParseReference(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if err := remote.Write(ref(host+"/prod/app:v1"), img, ci); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	mt, _ := img.MediaType()
	sz, _ := img.Size()
	art, _ := random.Image(128, 1)
	art = mutate.ConfigMediaType(mutate.MediaType(art, types.OCIManifestSchema1), "application/vnd.dev.cosign.artifact.sig.v1+json")
	sig := mutate.Subject(art, v1.Descriptor{MediaType: mt, Digest: d, Size: sz}).(v1.Image)
	sd, _ := sig.Digest()
	if err := remote.Write(ref(host+"/prod/app@"+sd.String()), sig, ci); err != nil {
		t.Fatal(err)
	}

	// The scan stores an SBOM referrer at the source.
	var sbom string
	deadline := time.Now().Add(30 * time.Second)
	for sbom == "" {
		out, err := c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("prod/app"), SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(d.String())}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Referrers {
			if aws.ToString(r.Digest) != sd.String() {
				sbom = aws.ToString(r.Digest)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SBOM referrer at the source; referrers %+v", out.Referrers)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := map[string]string{d.String(): "COMPLETE", sd.String(): "COMPLETE", sbom: "FAILED"}
	var got map[string]string
	var sbomReason string
	for time.Now().Before(deadline.Add(30 * time.Second)) {
		got = map[string]string{}
		for dg := range want {
			out, err := c.DescribeImageReplicationStatus(ctx, &ecr.DescribeImageReplicationStatusInput{RepositoryName: aws.String("prod/app"), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(dg)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range out.ReplicationStatuses {
				got[dg] = string(s.Status)
				if dg == sbom {
					sbomReason = aws.ToString(s.FailureCode)
				}
			}
		}
		if cmp.Equal(want, got) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("statuses (-want +got):\n%s", diff)
	}
	if !strings.Contains(sbomReason, "reserved") {
		t.Errorf("the SBOM's failureCode %q does not give the destination's reason", sbomReason)
	}
	// At the destination, as its user: the image and the signature.
	robot := remote.WithAuth(&authn.Basic{Username: destUser, Password: destPassword})
	pulled, err := remote.Image(ref(du.Host+"/prod/app:v1"), robot)
	if err != nil {
		t.Fatal(err)
	}
	if pd, _ := pulled.Digest(); pd != d {
		t.Errorf("destination prod/app:v1 = %s, want %s", pd, d)
	}
	sdg, err := name.NewDigest(du.Host+"/prod/app@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(sdg, robot)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != sd {
		t.Errorf("destination referrers of the image = %+v, want the signature %s", im.Manifests, sd)
	}
}
