package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The image and layer operations driven by the strict client, the AWS SDK
// for Go v2, against a started server.

func sdkClient(ts *testServer, keyID, secret string) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.url),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		// Errors are asserted, not retried (ThrottlingException aside,
		// none of these is retryable anyway).
		RetryMaxAttempts: 1,
	})
}

// errCode is the ECR error code of an SDK error ("" for nil).
func errCode(err error) string {
	if err == nil {
		return ""
	}
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "non-API error: " + err.Error()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// uploadLayer uploads b into repo with the layer operations, in parts of
// part bytes, and returns its digest.
func uploadLayer(t *testing.T, c *ecr.Client, repo string, b []byte, part int) string {
	t.Helper()
	ctx := context.Background()
	up, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(repo)})
	if err != nil {
		t.Fatalf("InitiateLayerUpload: %v", err)
	}
	for off := 0; off < len(b); off += part {
		end := min(off+part, len(b))
		out, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{
			RepositoryName: aws.String(repo), UploadId: up.UploadId,
			PartFirstByte: aws.Int64(int64(off)), PartLastByte: aws.Int64(int64(end - 1)), LayerPartBlob: b[off:end],
		})
		if err != nil {
			t.Fatalf("UploadLayerPart %d-%d: %v", off, end-1, err)
		}
		if got := aws.ToInt64(out.LastByteReceived); got != int64(end-1) {
			t.Fatalf("UploadLayerPart lastByteReceived = %d, want %d", got, end-1)
		}
	}
	d := sha(b)
	out, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: up.UploadId, LayerDigests: []string{d}})
	if err != nil {
		t.Fatalf("CompleteLayerUpload: %v", err)
	}
	if aws.ToString(out.LayerDigest) != d || aws.ToString(out.RepositoryName) != repo {
		t.Fatalf("CompleteLayerUpload = %+v", out)
	}
	return d
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

type desc struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int    `json:"size"`
}

// manifestJSON is an OCI image manifest (with subject and artifactType
// when given).
func manifestJSON(t *testing.T, config desc, layers []desc, artifactType string, subject *desc) string {
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        config,
		"layers":        layers,
	}
	if artifactType != "" {
		m["artifactType"] = artifactType
	}
	if subject != nil {
		m["subject"] = subject
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitScanned waits for a completed scan of repo@digest.
func waitScanned(t *testing.T, c *ecr.Client, repo, digest string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := c.DescribeImageScanFindings(context.Background(), &ecr.DescribeImageScanFindingsInput{
			RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(digest)},
		})
		if err == nil && out.ImageScanStatus.Status == ecrtypes.ScanStatusComplete {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed scan of %s@%s: %v %+v", repo, digest, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestECRImageOperationsSDK(t *testing.T) {
	sc := &layerScanner{}
	ts := startServerWith(t, func(c *Config) {
		c.AccessKeys = append(c.AccessKeys, AccessKey{ID: "AKIDSTOWAWAYPULL0001", Secret: "pull-only", Grants: []Grant{{Repository: "*", Actions: []string{"pull"}}}})
	}, sc)
	ctx := context.Background()
	c := sdkClient(ts, testKeyID, testSecret)
	puller := sdkClient(ts, "AKIDSTOWAWAYPULL0001", "pull-only")
	if _, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
		ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{ScanFrequency: ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}},
	}); err != nil {
		t.Fatal(err)
	}
	const repo = "team/app"
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	pushed := ts.push(t, repo+":v1", 2, ciAuth)
	v1d, _ := pushed.Digest()
	v1 := v1d.String()
	v1manifest, _ := pushed.RawManifest()
	v1mt, _ := pushed.MediaType()
	waitScanned(t, c, repo, v1)

	// BatchGetImage.
	got, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RepositoryName: aws.String(repo),
		ImageIds: []ecrtypes.ImageIdentifier{
			{ImageTag: aws.String("v1")},
			{ImageDigest: aws.String(v1)},
			{ImageTag: aws.String("v1"), ImageDigest: aws.String("sha256:" + fmt.Sprintf("%064d", 0))},
			{ImageTag: aws.String("nope")},
			{ImageDigest: aws.String("not-a-digest")},
			{},
		},
		AcceptedMediaTypes: []string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"},
	})
	if err != nil {
		t.Fatalf("BatchGetImage: %v", err)
	}
	img := func(tag string) ecrtypes.Image {
		i := ecrtypes.Image{RegistryId: aws.String("000000000000"), RepositoryName: aws.String(repo), ImageManifest: aws.String(string(v1manifest)),
			ImageManifestMediaType: aws.String(string(v1mt)), ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(v1)}}
		if tag != "" {
			i.ImageId.ImageTag = aws.String(tag)
		}
		return i
	}
	fail := func(tag, dgst string, code ecrtypes.ImageFailureCode) ecrtypes.ImageFailure {
		f := ecrtypes.ImageFailure{ImageId: &ecrtypes.ImageIdentifier{}, FailureCode: code}
		if tag != "" {
			f.ImageId.ImageTag = aws.String(tag)
		}
		if dgst != "" {
			f.ImageId.ImageDigest = aws.String(dgst)
		}
		return f
	}
	wantImages := []ecrtypes.Image{img("v1"), img("")}
	wantFailures := []ecrtypes.ImageFailure{
		fail("v1", "sha256:"+fmt.Sprintf("%064d", 0), ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest),
		fail("nope", "", ecrtypes.ImageFailureCodeImageNotFound),
		fail("", "not-a-digest", ecrtypes.ImageFailureCodeInvalidImageDigest),
		fail("", "", ecrtypes.ImageFailureCodeMissingDigestAndTag),
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(ecrtypes.Image{}, ecrtypes.ImageIdentifier{}, ecrtypes.ImageFailure{}), cmpopts.IgnoreFields(ecrtypes.ImageFailure{}, "FailureReason")}
	if diff := cmp.Diff(wantImages, got.Images, opts); diff != "" {
		t.Errorf("BatchGetImage images (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantFailures, got.Failures, opts); diff != "" {
		t.Errorf("BatchGetImage failures (-want +got):\n%s", diff)
	}

	// The retag flow: PutImage of the fetched manifest under a new tag.
	put, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: got.Images[0].ImageManifest, ImageTag: aws.String("v2")})
	if err != nil {
		t.Fatalf("PutImage retag: %v", err)
	}
	if diff := cmp.Diff(img("v2"), *put.Image, opts); diff != "" {
		t.Errorf("PutImage retag (-want +got):\n%s", diff)
	}
	ref, _ := name.ParseReference(ts.host+"/"+repo+":v2", name.Insecure)
	pulled, err := remote.Image(ref, remote.WithAuth(ciAuth))
	if err != nil {
		t.Fatalf("pull v2: %v", err)
	}
	if d, _ := pulled.Digest(); d.String() != v1 {
		t.Errorf("v2 pulls %s, want %s", d, v1)
	}

	// Layer operations: a new image from uploaded blobs.
	layerBytes := randomBytes(t, 3000)
	layerD := uploadLayer(t, c, repo, layerBytes, 1024)
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, sha(layerBytes))
	configD := uploadLayer(t, c, repo, []byte(config), 4096)
	newManifest := manifestJSON(t, desc{"application/vnd.oci.image.config.v1+json", configD, len(config)},
		[]desc{{"application/vnd.oci.image.layer.v1.tar+gzip", layerD, len(layerBytes)}}, "", nil)
	newD := sha([]byte(newManifest))
	if _, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(newManifest), ImageDigest: aws.String(newD), ImageTag: aws.String("v3")}); err != nil {
		t.Fatalf("PutImage new: %v", err)
	}
	// Scans run in order of enqueueing: once the new image is scanned, a
	// scan the retag had enqueued would have run too.
	waitScanned(t, c, repo, newD)
	sc.mu.Lock()
	calls := sc.calls
	sc.mu.Unlock()
	if calls != 2 {
		t.Errorf("scanner ran %d times, want 2 (v1 and v3; the v2 retag starts none)", calls)
	}

	// PutImage errors.
	missing := manifestJSON(t, desc{"application/vnd.oci.image.config.v1+json", configD, len(config)},
		[]desc{{"application/vnd.oci.image.layer.v1.tar+gzip", sha([]byte("absent")), 6}}, "", nil)
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + sha([]byte("absent")) + `","size":6}]}`
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/imm"), ImageTagMutability: ecrtypes.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	immLayer := uploadLayer(t, c, "team/imm", layerBytes, 4096)
	immConfig := uploadLayer(t, c, "team/imm", []byte(config), 4096)
	immA := manifestJSON(t, desc{"application/vnd.oci.image.config.v1+json", immConfig, len(config)},
		[]desc{{"application/vnd.oci.image.layer.v1.tar+gzip", immLayer, len(layerBytes)}}, "", nil)
	immB := manifestJSON(t, desc{"application/vnd.oci.image.config.v1+json", immConfig, len(config)},
		[]desc{{"application/vnd.oci.image.layer.v1.tar", immLayer, len(layerBytes)}}, "", nil)
	if _, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("team/imm"), ImageManifest: aws.String(immA), ImageTag: aws.String("t1")}); err != nil {
		t.Fatalf("PutImage immutable first: %v", err)
	}
	for _, tt := range []struct {
		name string
		cl   *ecr.Client
		in   ecr.PutImageInput
		want string
	}{
		{"same digest and tag", c, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(v1manifest)), ImageTag: aws.String("v2")}, "ImageAlreadyExistsException"},
		{"same digest, no tag", c, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(string(v1manifest))}, "ImageAlreadyExistsException"},
		{"digest mismatch", c, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(newManifest), ImageDigest: aws.String(v1), ImageTag: aws.String("x")}, "ImageDigestDoesNotMatchException"},
		{"missing layer", c, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(missing), ImageTag: aws.String("x")}, "LayersNotFoundException"},
		{"missing index child", c, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(index), ImageTag: aws.String("x")}, "ReferencedImagesNotFoundException"},
		{"not JSON", c, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String("{"), ImageTag: aws.String("x")}, "InvalidParameterException"},
		{"no repository", c, ecr.PutImageInput{RepositoryName: aws.String("team/none"), ImageManifest: aws.String(newManifest)}, "RepositoryNotFoundException"},
		{"immutable tag on another digest", c, ecr.PutImageInput{RepositoryName: aws.String("team/imm"), ImageManifest: aws.String(immB), ImageTag: aws.String("t1")}, "ImageTagAlreadyExistsException"},
		{"pull-only caller", puller, ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(newManifest), ImageTag: aws.String("y")}, "AccessDeniedException"},
	} {
		_, err := tt.cl.PutImage(ctx, &tt.in)
		if got := errCode(err); got != tt.want {
			t.Errorf("PutImage %s: error %q (%v), want %s", tt.name, got, err, tt.want)
		}
	}

	// Upload errors.
	initiate := func(r string) *string {
		up, err := c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String(r)})
		if err != nil {
			t.Fatalf("InitiateLayerUpload: %v", err)
		}
		if aws.ToInt64(up.PartSize) <= 0 {
			t.Errorf("InitiateLayerUpload partSize = %v", up.PartSize)
		}
		return up.UploadId
	}
	part := func(id *string, first, last int64, b []byte) error {
		_, err := c.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String(repo), UploadId: id, PartFirstByte: aws.Int64(first), PartLastByte: aws.Int64(last), LayerPartBlob: b})
		return err
	}
	complete := func(id *string, d string) error {
		_, err := c.CompleteLayerUpload(ctx, &ecr.CompleteLayerUploadInput{RepositoryName: aws.String(repo), UploadId: id, LayerDigests: []string{d}})
		return err
	}
	bad := initiate(repo)
	empty := initiate(repo)
	dup := initiate(repo)
	unknown := aws.String("00000000-0000-4000-8000-000000000000")
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"part 1", part(bad, 0, 3, []byte("abcd")), ""},
		{"part not at the end", part(bad, 2, 5, []byte("cdef")), "InvalidLayerPartException"},
		{"part length and range disagree", part(bad, 4, 9, []byte("ef")), "InvalidLayerPartException"},
		{"part 2", part(bad, 4, 5, []byte("ef")), ""},
		{"wrong digest", complete(bad, sha([]byte("other"))), "InvalidLayerException"},
		{"discarded after a wrong digest", complete(bad, sha([]byte("abcdef"))), "UploadNotFoundException"},
		{"unknown upload part", part(unknown, 0, 0, []byte("a")), "UploadNotFoundException"},
		{"unknown upload", complete(unknown, layerD), "UploadNotFoundException"},
		{"empty upload", complete(empty, sha(nil)), "EmptyUploadException"},
		{"dup part", part(dup, 0, int64(len(layerBytes)-1), layerBytes), ""},
		{"layer already exists", complete(dup, layerD), "LayerAlreadyExistsException"},
	} {
		if got := errCode(tt.err); got != tt.want {
			t.Errorf("%s: error %q (%v), want %q", tt.name, got, tt.err, tt.want)
		}
	}

	// BatchCheckLayerAvailability.
	avail, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String(repo), LayerDigests: []string{layerD, sha([]byte("absent")), "bogus"},
	})
	if err != nil {
		t.Fatalf("BatchCheckLayerAvailability: %v", err)
	}
	lopts := cmpopts.IgnoreUnexported(ecrtypes.Layer{}, ecrtypes.LayerFailure{})
	if diff := cmp.Diff([]ecrtypes.Layer{{LayerDigest: aws.String(layerD), LayerAvailability: ecrtypes.LayerAvailabilityAvailable, LayerSize: aws.Int64(int64(len(layerBytes)))}}, avail.Layers, lopts); diff != "" {
		t.Errorf("BatchCheckLayerAvailability layers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ecrtypes.LayerFailure{
		{LayerDigest: aws.String(sha([]byte("absent"))), FailureCode: ecrtypes.LayerFailureCodeMissingLayerDigest, FailureReason: aws.String("Could not find layer")},
		{LayerDigest: aws.String("bogus"), FailureCode: ecrtypes.LayerFailureCodeInvalidLayerDigest, FailureReason: aws.String("Invalid layer digest")},
	}, avail.Failures, lopts); diff != "" {
		t.Errorf("BatchCheckLayerAvailability failures (-want +got):\n%s", diff)
	}

	// GetDownloadUrlForLayer: the URL serves the blob without credentials;
	// a tampered URL does not.
	dl, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String(repo), LayerDigest: aws.String(layerD)})
	if err != nil {
		t.Fatalf("GetDownloadUrlForLayer: %v", err)
	}
	if b, code := httpGet(t, aws.ToString(dl.DownloadUrl)); code != 200 || !bytes.Equal(b, layerBytes) {
		t.Errorf("download URL: %d, %d bytes (want 200, the %d layer bytes)", code, len(b), len(layerBytes))
	}
	u, _ := url.Parse(aws.ToString(dl.DownloadUrl))
	q := u.Query()
	q.Set("layerDigest", configD)
	u.RawQuery = q.Encode()
	if _, code := httpGet(t, u.String()); code != http.StatusForbidden {
		t.Errorf("tampered download URL: %d, want 403", code)
	}
	if _, err := c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String(repo), LayerDigest: aws.String(sha([]byte("absent")))}); errCode(err) != "LayersNotFoundException" {
		t.Errorf("GetDownloadUrlForLayer of a missing layer: %v", err)
	}

	// Referrers: a signature and an SBOM-like artifact of the v3 image.
	emptyD := uploadLayer(t, c, repo, []byte("{}"), 16)
	subject := &desc{"application/vnd.oci.image.manifest.v1+json", newD, len(newManifest)}
	var refDigests []string
	for _, at := range []string{"application/vnd.cncf.notary.signature", "application/spdx+json"} {
		blob := []byte("payload of " + at)
		bd := uploadLayer(t, c, repo, blob, 64)
		m := manifestJSON(t, desc{"application/vnd.oci.empty.v1+json", emptyD, 2}, []desc{{"application/octet-stream", bd, len(blob)}}, at, subject)
		if _, err := c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(m), ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json")}); err != nil {
			t.Fatalf("PutImage referrer %s: %v", at, err)
		}
		refDigests = append(refDigests, sha([]byte(m)))
	}
	var all []string
	var next *string
	for pages := 0; pages < 3; pages++ {
		out, err := puller.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(newD)}, MaxResults: aws.Int32(1), NextToken: next})
		if err != nil {
			t.Fatalf("ListImageReferrers: %v", err)
		}
		for _, r := range out.Referrers {
			if r.ArtifactStatus != ecrtypes.ArtifactStatusActive || aws.ToString(r.MediaType) != "application/vnd.oci.image.manifest.v1+json" || r.Size == nil {
				t.Errorf("referrer %+v", r)
			}
			all = append(all, aws.ToString(r.Digest))
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	if diff := cmp.Diff(refDigests, all, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("ListImageReferrers pages (-want +got):\n%s", diff)
	}
	filtered, err := c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo), SubjectId: &ecrtypes.SubjectIdentifier{ImageDigest: aws.String(newD)},
		Filter: &ecrtypes.ListImageReferrersFilter{ArtifactTypes: []string{"application/spdx+json"}}})
	if err != nil || len(filtered.Referrers) != 1 || aws.ToString(filtered.Referrers[0].Digest) != refDigests[1] {
		t.Errorf("ListImageReferrers filtered: %v %+v", err, filtered)
	}

	// DescribeImageSigningStatus.
	for _, tt := range []struct {
		tag  string
		want int
	}{{"v3", 1}, {"v1", 0}} {
		out, err := c.DescribeImageSigningStatus(ctx, &ecr.DescribeImageSigningStatusInput{RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String(tt.tag)}})
		if err != nil {
			t.Fatalf("DescribeImageSigningStatus %s: %v", tt.tag, err)
		}
		if len(out.SigningStatuses) != tt.want || (tt.want > 0 && out.SigningStatuses[0].Status != ecrtypes.SigningStatusComplete) {
			t.Errorf("DescribeImageSigningStatus %s = %+v, want %d COMPLETE", tt.tag, out.SigningStatuses, tt.want)
		}
	}
	if _, err := c.DescribeImageSigningStatus(ctx, &ecr.DescribeImageSigningStatusInput{RepositoryName: aws.String(repo), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("nope")}}); errCode(err) != "ImageNotFoundException" {
		t.Errorf("DescribeImageSigningStatus of a missing image: %v", err)
	}
}

func httpGet(t *testing.T, u string) ([]byte, int) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

// awsCLIs are the AWS CLIs installed: Debian's v2 and a pip v1 that some
// machines have first on PATH.
func awsCLIs(t *testing.T) []string {
	var bins []string
	for _, p := range []string{"/usr/bin/aws", "/root/.pyenv/shims/aws"} {
		if _, err := os.Stat(p); err == nil {
			bins = append(bins, p)
		}
	}
	if p, err := exec.LookPath("aws"); err == nil && !slices.Contains(bins, p) {
		bins = append(bins, p)
	}
	if len(bins) == 0 {
		t.Skip("AWS CLI not installed (apt-get install -y awscli); skipping the retag flow test")
	}
	return bins
}

func cliLabel(bin string) string {
	if bin == "/usr/bin/aws" {
		return "debian"
	}
	return strings.Trim(strings.ReplaceAll(filepath.Dir(bin), "/", "_"), "_")
}

// TestAWSCLIRetag is the retag flow every CI uses, through the real CLI:
// batch-get-image's manifest as text into put-image under a new tag. The new
// tag pulls the same digest and no scan starts for it.
func TestAWSCLIRetag(t *testing.T) {
	for _, bin := range awsCLIs(t) {
		t.Run(cliLabel(bin), func(t *testing.T) {
			sc := &layerScanner{}
			ts := startServerWith(t, nil, sc)
			cl := newCLI(t, ts, testKeyID, testSecret)
			cl.bin = bin
			c := sdkClient(ts, testKeyID, testSecret)
			ctx := context.Background()
			if _, err := c.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
				ScanType: ecrtypes.ScanTypeBasic,
				Rules: []ecrtypes.RegistryScanningRule{{ScanFrequency: ecrtypes.ScanFrequencyScanOnPush,
					RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("*"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}}}},
			}); err != nil {
				t.Fatal(err)
			}
			cl.ok(nil, "create-repository", "--repository-name", "ci/app")
			pushed := ts.push(t, "ci/app:v1", 2, ciAuth)
			want, _ := pushed.Digest()
			waitScanned(t, c, "ci/app", want.String())

			m := cl.ok(nil, "batch-get-image", "--repository-name", "ci/app", "--image-ids", "imageTag=v1",
				"--query", "images[].imageManifest", "--output", "text")
			m = strings.TrimSuffix(m, "\n")
			var put struct {
				Image struct {
					ImageID struct{ ImageDigest, ImageTag string }
				}
			}
			cl.ok(&put, "put-image", "--repository-name", "ci/app", "--image-tag", "v2", "--image-manifest", m)
			if put.Image.ImageID.ImageDigest != want.String() || put.Image.ImageID.ImageTag != "v2" {
				t.Errorf("put-image = %+v, want digest %s tag v2", put.Image.ImageID, want)
			}
			cl.fails("ImageAlreadyExistsException", "put-image", "--repository-name", "ci/app", "--image-tag", "v2", "--image-manifest", m)

			ref, _ := name.ParseReference(ts.host+"/ci/app:v2", name.Insecure)
			img, err := remote.Image(ref, remote.WithAuth(ciAuth))
			if err != nil {
				t.Fatalf("pull v2: %v", err)
			}
			if d, _ := img.Digest(); d != want {
				t.Errorf("v2 pulls %s, want %s", d, want)
			}
			// OnPush enqueues before put-image returns: nothing is queued
			// and the scanner ran once.
			if n, err := ts.store.QueueDepth(ctx); err != nil || n != 0 {
				t.Errorf("scan queue after the retag: %d %v, want 0", n, err)
			}
			time.Sleep(200 * time.Millisecond)
			sc.mu.Lock()
			defer sc.mu.Unlock()
			if sc.calls != 1 {
				t.Errorf("scanner ran %d times, want 1 (the retag starts no scan)", sc.calls)
			}
		})
	}
}
