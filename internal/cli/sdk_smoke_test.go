package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

const (
	smokeKeyID  = "AKIDSDKSMOKETEST0001"
	smokeSecret = "sdk/smoke+secret"
)

// smokeSummary is what testdata/sdk/smoke.py and smoke.mjs print.
type smokeSummary struct {
	Basic struct {
		Digest         string
		Findings       int
		SeverityCounts map[string]int
	}
	Retag    []string
	Tags     []struct{ Key, Value string }
	Enhanced struct {
		Status   string
		Findings int
	}
}

// TestSDKSmoke runs the same ECR flow through boto3 and through the AWS
// SDK for JavaScript v3 against `serve` with the real scanner and the
// real-data DB: create a repository, push with skopeo, wait for the scan,
// read BASIC findings, retag with BatchGetImage + PutImage, tag the
// repository, switch to ENHANCED and read enhanced findings. Each script
// checks every step itself (the SDKs decode every response); the test
// compares the findings a script saw with the Go SDK's view.
func TestSDKSmoke(t *testing.T) {
	img := testutil.Shared(t, filepath.Join("images", "debian-12.tar"))
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (apt-get install -y skopeo): the SDK smoke test pushes with it")
	}
	db := realDB.Dir(t)

	t.Run("boto3", func(t *testing.T) {
		py := pythonWithBoto3()
		if py == "" {
			t.Skip("no python3 with boto3 (apt-get install -y python3-boto3)")
		}
		runSmoke(t, db, skopeo, img, py, filepath.Join("testdata", "sdk", "smoke.py"))
	})
	t.Run("js-sdk-v3", func(t *testing.T) {
		node, err := exec.LookPath("node")
		if err != nil {
			t.Skip("node not installed: the JS SDK smoke test needs Node.js")
		}
		mods, _ := filepath.Abs(filepath.Join("testdata", "sdk", "node_modules"))
		if _, err := os.Stat(filepath.Join(mods, "@aws-sdk", "client-ecr")); err != nil {
			t.Skipf("@aws-sdk/client-ecr is not installed: run `npm ci` in internal/cli/testdata/sdk (.ci/run does)")
		}
		runSmoke(t, db, skopeo, img, node, filepath.Join("testdata", "sdk", "smoke.mjs"), "STOWAWAY_JS_SDK="+mods)
	})
}

// pythonWithBoto3 is Debian's python3 when it has boto3 (python3-boto3),
// else the python3 on PATH when that one has it, else "".
func pythonWithBoto3() string {
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import boto3").Run() == nil {
			return p
		}
	}
	return ""
}

func runSmoke(t *testing.T, db, skopeo, img, interp, script string, env ...string) {
	host := serveReal(t, server.Config{
		DataDir: t.TempDir(), Workers: 2, SBOMFormats: "none",
		AccessKeys: []server.AccessKey{{ID: smokeKeyID, Secret: smokeSecret, Grants: []server.Grant{adminGrant()}}},
	}, db)
	home := t.TempDir()
	empty := filepath.Join(home, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer scancel()
	cmd := exec.CommandContext(sctx, interp, script)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + smokeKeyID,
		"AWS_SECRET_ACCESS_KEY=" + smokeSecret,
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"STOWAWAY_ENDPOINT=http://" + host,
		"STOWAWAY_REGISTRY=" + host,
		"STOWAWAY_IMAGE=docker-archive:" + img,
		"SKOPEO=" + skopeo,
	}, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(interp), script, err, stderr.String())
	}
	var got smokeSummary
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: summary %q: %v", script, out, err)
	}

	// The Go SDK's view of the same scan.
	client := ecr.New(ecr.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + host),
		Credentials: credentials.NewStaticCredentialsProvider(smokeKeyID, smokeSecret, ""),
	})
	want := map[string]int{}
	n := 0
	p := ecr.NewDescribeImageScanFindingsPaginator(client, &ecr.DescribeImageScanFindingsInput{
		RepositoryName: aws.String("smoke/basic"), ImageId: &ecrtypes.ImageIdentifier{ImageTag: aws.String("v1")}, MaxResults: aws.Int32(100),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("Go SDK DescribeImageScanFindings: %v", err)
		}
		n += len(page.ImageScanFindings.Findings)
		for k, v := range page.ImageScanFindings.FindingSeverityCounts {
			want[k] = int(v)
		}
	}
	if got.Basic.Findings != n || n == 0 {
		t.Errorf("%s saw %d BASIC findings, the Go SDK %d", script, got.Basic.Findings, n)
	}
	if d := cmp.Diff(want, got.Basic.SeverityCounts); d != "" {
		t.Errorf("severity counts (-Go SDK +%s):\n%s", script, d)
	}
	if d := cmp.Diff([]string{"v1", "v2"}, got.Retag); d != "" {
		t.Errorf("tags after the retag (-want +got):\n%s", d)
	}
	if got.Enhanced.Findings == 0 {
		t.Errorf("%s saw no enhanced findings", script)
	}
	t.Logf("%s: %d BASIC findings %v, %d enhanced (%s)", script, got.Basic.Findings, got.Basic.SeverityCounts, got.Enhanced.Findings, got.Enhanced.Status)
}
