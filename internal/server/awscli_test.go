package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// awsCLI finds the real AWS CLI. /usr/bin/aws (Debian's awscli) is preferred
// because a pyenv shim may shadow it on PATH.
func awsCLI(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/aws"); err == nil {
		return "/usr/bin/aws"
	}
	if p, err := exec.LookPath("aws"); err == nil {
		return p
	}
	t.Skip("AWS CLI not installed (apt-get install -y awscli); skipping the aws ecr interoperability test")
	return ""
}

type cli struct {
	t        *testing.T
	bin, url string
	env      []string
}

func newCLI(t *testing.T, ts *testServer, keyID, secret string) *cli {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_ACCESS_KEY_ID=" + keyID,
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_PAGER=",
		"AWS_EC2_METADATA_DISABLED=true",
	}
	return &cli{t: t, bin: awsCLI(t), url: ts.url, env: env}
}

// cliTime is a timestamp as the AWS CLI prints it: ISO 8601 text (v2, and
// v1 with some configurations) or epoch seconds (v1's default).
type cliTime struct{ time.Time }

func (c *cliTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", s, err)
		}
		c.Time = t
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	whole := int64(secs)
	c.Time = time.Unix(whole, int64((secs-float64(whole))*1e9)).UTC()
	return nil
}

// run runs `aws ecr <args>` and returns stdout, stderr and success.
func (c *cli) run(args ...string) (string, string, bool) {
	c.t.Helper()
	full := append([]string{"ecr", "--endpoint-url", c.url, "--output", "json"}, args...)
	cmd := exec.Command(c.bin, full...)
	cmd.Env = c.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if d := time.Since(start); d > 4*time.Second {
		c.t.Logf("aws ecr %s took %s", args[0], d)
	}
	return stdout.String(), stderr.String(), err == nil
}

// par runs independent CLI calls concurrently (each call costs seconds of
// Python start-up) and stops the test if any failed.
func par(t *testing.T, fns ...func()) {
	t.Helper()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// ok runs and decodes JSON output into out (if not nil).
func (c *cli) ok(out any, args ...string) string {
	c.t.Helper()
	stdout, stderr, ok := c.run(args...)
	if !ok {
		c.t.Errorf("aws ecr %s failed:\n%s", strings.Join(args, " "), stderr)
		return ""
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			c.t.Errorf("aws ecr %s: decode %q: %v", args[0], stdout, err)
		}
	}
	return stdout
}

// fails runs and expects an error naming code.
func (c *cli) fails(code string, args ...string) {
	c.t.Helper()
	_, stderr, ok := c.run(args...)
	if ok || !strings.Contains(stderr, code) {
		c.t.Errorf("aws ecr %s: want failure %s, got ok=%v stderr=%s", strings.Join(args, " "), code, ok, stderr)
	}
}

func TestAWSCLI(t *testing.T) {
	ts := startServer(t, nil)
	aws := newCLI(t, ts, testKeyID, testSecret)

	type repoOut struct {
		RepositoryArn, RepositoryName, RepositoryURI, ImageTagMutability string
		CreatedAt                                                        json.RawMessage // ISO 8601 text (v2) or epoch seconds (v1)
		ImageScanningConfiguration                                       struct{ ScanOnPush bool }
	}
	var created struct{ Repository repoOut }
	aws.ok(&created, "create-repository", "--repository-name", "team/app", "--image-tag-mutability", "MUTABLE")
	if r := created.Repository; r.RepositoryArn != "arn:aws:ecr:us-east-1:000000000000:repository/team/app" || r.RepositoryURI != ts.host+"/team/app" || len(r.CreatedAt) == 0 || string(r.CreatedAt) == "null" {
		t.Errorf("create-repository = %+v", r)
	}

	rules := `[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"team","filterType":"WILDCARD"}]}]`
	var repos struct {
		Repositories []struct{ RepositoryName string }
	}
	var tok struct {
		AuthorizationData []struct {
			AuthorizationToken, ProxyEndpoint string
			// The CLI prints expiresAt as epoch seconds or as an ISO
			// timestamp depending on its version and cli_timestamp_format.
			ExpiresAt json.RawMessage
		}
	}
	var password string
	par(t,
		func() {
			aws.fails("RepositoryAlreadyExistsException", "create-repository", "--repository-name", "team/app")
		},
		func() { aws.fails("InvalidParameterException", "create-repository", "--repository-name", "Bad_Name") },
		func() { aws.ok(&repos, "describe-repositories") },
		func() {
			aws.fails("RepositoryNotFoundException", "describe-repositories", "--repository-names", "nope")
		},
		func() { aws.ok(nil, "put-registry-scanning-configuration", "--scan-type", "BASIC", "--rules", rules) },
		func() {
			aws.fails("InvalidParameterException", "put-registry-scanning-configuration", "--scan-type", "BASIC", "--rules",
				`[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"team","filterType":"WILDCARD"}]}]`)
		},
		func() {
			aws.fails("ValidationException", "put-registry-scanning-configuration", "--scan-type", "BASIC", "--rules",
				`[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"UPPER","filterType":"WILDCARD"}]}]`)
		},
		func() { aws.ok(&tok, "get-authorization-token") },
		// get-login-password prints the password half of a fresh token;
		// it is the registry password below.
		func() { password = strings.TrimSpace(aws.ok(nil, "get-login-password")) },
		func() {
			newCLI(t, ts, testKeyID, "not-the-secret").fails("InvalidSignatureException", "describe-repositories")
		},
		func() {
			newCLI(t, ts, "AKIDNOTCONFIGURED", testSecret).fails("UnrecognizedClientException", "describe-repositories")
		},
	)
	if len(repos.Repositories) != 1 || repos.Repositories[0].RepositoryName != "team/app" {
		t.Errorf("describe-repositories = %+v", repos)
	}
	if len(tok.AuthorizationData) != 1 || tok.AuthorizationData[0].ProxyEndpoint != ts.url || len(tok.AuthorizationData[0].ExpiresAt) == 0 {
		t.Fatalf("get-authorization-token = %+v", tok)
	}
	raw, err := base64.StdEncoding.DecodeString(tok.AuthorizationData[0].AuthorizationToken)
	if err != nil || !strings.HasPrefix(string(raw), "AWS:") {
		t.Fatalf("token %q is not base64(AWS:...)", tok.AuthorizationData[0].AuthorizationToken)
	}
	if password == "" || strings.Contains(password, ":") {
		t.Fatalf("get-login-password = %q", password)
	}
	ecrAuth := authn.FromConfig(authn.AuthConfig{Username: "AWS", Password: password})
	img := ts.push(t, "team/app:v1", 3, ecrAuth) // scanned on push (rule "team")
	dgst, _ := img.Digest()
	ts.push(t, "other/repo:v1", 2, ecrAuth) // created on push; MANUAL

	var regCfg struct {
		ScanningConfiguration struct {
			ScanType string
			Rules    []struct {
				ScanFrequency     string
				RepositoryFilters []struct{ Filter, FilterType string }
			}
		}
	}
	var batch struct {
		ScanningConfigurations []struct {
			RepositoryName, ScanFrequency string
			ScanOnPush                    bool
			AppliedScanFilters            []struct{ Filter string }
		}
		Failures []struct{ RepositoryName, FailureCode string }
	}
	par(t,
		func() { aws.ok(&regCfg, "get-registry-scanning-configuration") },
		func() {
			aws.ok(&batch, "batch-get-repository-scanning-configuration", "--repository-names", "team/app", "missing", "other/repo")
		},
		func() {
			aws.fails("ScanNotFoundException", "describe-image-scan-findings", "--repository-name", "other/repo", "--image-id", "imageTag=v1")
		},
		func() {
			aws.ok(nil, "wait", "image-scan-complete", "--repository-name", "team/app", "--image-id", "imageTag=v1")
		},
	)
	if regCfg.ScanningConfiguration.ScanType != "BASIC" || len(regCfg.ScanningConfiguration.Rules) != 1 ||
		regCfg.ScanningConfiguration.Rules[0].RepositoryFilters[0].Filter != "team" {
		t.Errorf("get-registry-scanning-configuration = %+v", regCfg)
	}
	if len(batch.ScanningConfigurations) != 2 || !batch.ScanningConfigurations[0].ScanOnPush ||
		batch.ScanningConfigurations[0].ScanFrequency != "SCAN_ON_PUSH" || len(batch.ScanningConfigurations[0].AppliedScanFilters) != 1 ||
		batch.ScanningConfigurations[1].ScanOnPush || batch.ScanningConfigurations[1].ScanFrequency != "MANUAL" ||
		len(batch.Failures) != 1 || batch.Failures[0].FailureCode != "REPOSITORY_NOT_FOUND" {
		t.Errorf("batch-get-repository-scanning-configuration = %+v", batch)
	}

	type findingsOut struct {
		ImageID           struct{ ImageDigest, ImageTag string }
		ImageScanStatus   struct{ Status, Description string }
		ImageScanFindings struct {
			Findings                                           []Finding
			FindingSeverityCounts                              map[string]int
			ImageScanCompletedAt, VulnerabilitySourceUpdatedAt cliTime
		}
		NextToken string
	}
	var all, page, walked findingsOut
	var started struct{ ImageScanStatus struct{ Status string } }
	var images struct {
		ImageDetails []struct {
			ImageDigest              string
			ImageTags                []string
			ImageSizeInBytes         int64
			ImagePushedAt            cliTime
			ImageScanStatus          struct{ Status string }
			ImageScanFindingsSummary struct{ FindingSeverityCounts map[string]int }
		}
	}
	var putScan struct {
		RepositoryName             string
		ImageScanningConfiguration struct{ ScanOnPush bool }
	}
	type ids struct {
		ImageIDs []struct{ ImageDigest, ImageTag string } `json:"imageIds"`
	}
	var list ids
	par(t,
		func() {
			aws.ok(&all, "describe-image-scan-findings", "--repository-name", "team/app", "--image-id", "imageTag=v1")
		},
		func() {
			aws.ok(&page, "describe-image-scan-findings", "--repository-name", "team/app", "--image-id", "imageTag=v1", "--max-results", "1", "--no-paginate")
		},
		// The CLI's paginator walks pages of one.
		func() {
			aws.ok(&walked, "describe-image-scan-findings", "--repository-name", "team/app", "--image-id", "imageTag=v1", "--page-size", "1")
		},
		// The scan on push counts against the 24 h limit.
		func() {
			aws.fails("LimitExceededException", "start-image-scan", "--repository-name", "team/app", "--image-id", "imageTag=v1")
		},
		func() {
			aws.fails("ImageNotFoundException", "start-image-scan", "--repository-name", "team/app", "--image-id", "imageTag=nope")
		},
		func() { aws.ok(&images, "describe-images", "--repository-name", "team/app") },
		func() { aws.ok(&list, "list-images", "--repository-name", "team/app") },
		func() {
			aws.ok(&started, "start-image-scan", "--repository-name", "other/repo", "--image-id", "imageTag=v1")
			aws.ok(nil, "wait", "image-scan-complete", "--repository-name", "other/repo", "--image-id", "imageTag=v1")
		},
		func() {
			aws.ok(&putScan, "put-image-scanning-configuration", "--repository-name", "other/repo", "--image-scanning-configuration", "scanOnPush=true")
		},
		func() {
			aws.fails("RepositoryNotEmptyException", "delete-repository", "--repository-name", "other/repo")
		},
	)
	if all.ImageScanStatus.Status != "COMPLETE" || len(all.ImageScanFindings.Findings) != 3 ||
		!all.ImageScanFindings.VulnerabilitySourceUpdatedAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || all.ImageScanFindings.ImageScanCompletedAt.IsZero() ||
		!cmp.Equal(all.ImageScanFindings.FindingSeverityCounts, map[string]int{"HIGH": 3}) || all.ImageID.ImageDigest != dgst.String() {
		t.Errorf("describe-image-scan-findings = %+v", all)
	}
	if len(page.ImageScanFindings.Findings) != 1 || page.NextToken == "" {
		t.Errorf("page of 1: %d findings, nextToken %q", len(page.ImageScanFindings.Findings), page.NextToken)
	}
	if diff := cmp.Diff(all.ImageScanFindings.Findings, walked.ImageScanFindings.Findings); diff != "" {
		t.Errorf("paginated findings differ from one page (-one +walked):\n%s", diff)
	}
	if len(images.ImageDetails) != 1 {
		t.Fatalf("describe-images = %+v", images)
	}
	if d := images.ImageDetails[0]; d.ImageDigest != dgst.String() || !cmp.Equal(d.ImageTags, []string{"v1"}) || d.ImageSizeInBytes == 0 ||
		d.ImagePushedAt.IsZero() || d.ImageScanStatus.Status != "COMPLETE" || d.ImageScanFindingsSummary.FindingSeverityCounts["HIGH"] != 3 {
		t.Errorf("describe-images detail = %+v", d)
	}
	if len(list.ImageIDs) != 1 || list.ImageIDs[0].ImageTag != "v1" {
		t.Errorf("list-images = %+v", list)
	}
	if started.ImageScanStatus.Status != "IN_PROGRESS" {
		t.Errorf("start-image-scan = %+v", started)
	}
	if !putScan.ImageScanningConfiguration.ScanOnPush || putScan.RepositoryName != "other/repo" {
		t.Errorf("put-image-scanning-configuration = %+v", putScan)
	}

	var del struct {
		ImageIDs []struct{ ImageDigest, ImageTag string } `json:"imageIds"`
		Failures []struct{ FailureCode string }
	}
	par(t,
		func() {
			aws.ok(&del, "batch-delete-image", "--repository-name", "team/app", "--image-ids", "imageTag=v1", "imageTag=missing")
		},
		func() { aws.ok(nil, "delete-repository", "--repository-name", "other/repo", "--force") },
	)
	if len(del.ImageIDs) != 1 || del.ImageIDs[0].ImageDigest != dgst.String() || len(del.Failures) != 1 || del.Failures[0].FailureCode != "ImageNotFound" {
		t.Errorf("batch-delete-image = %+v", del)
	}
	var after ids
	par(t,
		func() { aws.ok(&after, "list-images", "--repository-name", "team/app") },
		func() {
			aws.fails("RepositoryNotFoundException", "describe-repositories", "--repository-names", "other/repo")
		},
	)
	if len(after.ImageIDs) != 0 {
		t.Errorf("list-images after delete = %+v", after)
	}
	ref, _ := name.ParseReference(ts.host+"/team/app@"+dgst.String(), name.Insecure)
	if _, err := remote.Image(ref, remote.WithAuth(ecrAuth)); err == nil {
		t.Error("deleted image can still be pulled")
	}
}
