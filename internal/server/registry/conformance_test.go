package registry

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

// TestOCIConformance runs the OCI distribution-spec conformance suite
// (github.com/opencontainers/distribution-spec/conformance, a tool
// dependency pinned in go.mod) against the registry when
// STOWAWAY_OCI_CONFORMANCE names the binary. .ci/run builds it; by hand:
//
//	go build -o /tmp/oci-conformance github.com/opencontainers/distribution-spec/conformance
//	STOWAWAY_OCI_CONFORMANCE=/tmp/oci-conformance go test -run OCIConformance ./internal/server/registry
//
// With sha512 data disabled (see below) it passes in full.
func TestOCIConformance(t *testing.T) {
	bin := os.Getenv("STOWAWAY_OCI_CONFORMANCE")
	if bin == "" {
		t.Skip("set STOWAWAY_OCI_CONFORMANCE to a built distribution-spec conformance binary to run the OCI conformance suite")
	}
	f := newFixture(t, []auth.User{{Name: "oci", Password: "oci-pass", Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}}})
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+f.host,
		"OCI_TLS=disabled",
		"OCI_USERNAME=oci",
		"OCI_PASSWORD=oci-pass",
		"OCI_VERSION=1.1",
		"OCI_RESULTS_DIR="+results,
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		// distribution v3 stores and answers sha256 digests only; sha512
		// content is an optional part of the spec.
		"OCI_DATA_SHA512=false",
	)
	out, err := cmd.CombinedOutput()
	report := string(out)
	if b, rerr := os.ReadFile(filepath.Join(results, "results.yaml")); rerr == nil {
		report += "\n" + string(b)
	}
	if err != nil {
		if p := os.Getenv("STOWAWAY_OCI_CONFORMANCE_REPORT"); p != "" {
			_ = os.WriteFile(p, []byte(report), 0o644)
		}
		t.Fatalf("conformance suite failed: %v\n%s", err, tail(report, 8000))
	}
	t.Logf("conformance suite passed:\n%s", tail(string(out), 3000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := strings.Index(s[len(s)-n:], "\n")
	return "…" + s[len(s)-n+i:]
}
