package cli

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// countingListener counts the bytes the server writes: what clients
// download.
type countingListener struct {
	net.Listener
	written atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: &l.written}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// startScanningRegistry runs 'serve' in process with the real scan pipeline
// (as runServe wires it), scanning every push ENHANCED and storing CycloneDX
// SBOM referrers. Authentication is off.
func startScanningRegistry(t *testing.T, dbDir string) (string, *countingListener) {
	t.Helper()
	data := t.TempDir()
	cfg := server.Config{DataDir: data, Workers: 1, SBOMFormats: "cyclonedx"}
	sc := &serverScanner{dbDir: dbDir, cache: indexer.DirCache{Dir: filepath.Join(data, "layer-cache")}, hit: func(string) {}}
	srv, err := server.New(context.Background(), cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, cl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	host := ln.Addr().String()
	// With authentication off every caller is an admin, unsigned included.
	body := `{"scanType":"ENHANCED","rules":[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]}`
	req, err := http.NewRequest(http.MethodPost, "http://"+host+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.PutRegistryScanningConfiguration")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PutRegistryScanningConfiguration: %s", resp.Status)
	}
	return host, cl
}

// pushAndWaitSBOM pushes a shared image and waits for its SBOM referrer.
func pushAndWaitSBOM(t *testing.T, host, archive, repo string) string {
	t.Helper()
	img, err := testutil.LoadImage(archive)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(host + "/" + repo + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	subj := tag.Context().Digest(d.String())
	deadline := time.Now().Add(2 * time.Minute)
	for {
		idx, err := remote.Referrers(subj, remote.WithFilter("artifactType", sbomref.ArtifactTypeCycloneDX))
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) > 0 {
			return subj.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no SBOM referrer after 2 minutes", subj)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// findings is the part of the ECR JSON report that must not depend on how
// the inventory was obtained.
type findings struct {
	ImageScanStatus   map[string]string
	ImageScanFindings struct {
		FindingSeverityCounts map[string]int
		Findings              []json.RawMessage
		EnhancedFindings      []map[string]any
	}
}

func parseFindings(t *testing.T, out string) findings {
	t.Helper()
	var f findings
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("scan output: %v\n%s", err, out)
	}
	for _, e := range f.ImageScanFindings.EnhancedFindings {
		// Times of the scan itself.
		for _, k := range []string{"firstObservedAt", "lastObservedAt", "updatedAt"} {
			delete(e, k)
		}
	}
	return f
}

// TestScanReusesStoredSBOM pushes real images to an in-process scanning
// registry, which stores their SBOMs as referrers, then scans each by
// digest with and without --no-sbom-reuse: the findings must be equal, and
// the reusing scan must say so and download less.
func TestScanReusesStoredSBOM(t *testing.T) {
	images := testutil.Shared(t, "images")
	db := realDB.Dir(t)
	host, counter := startScanningRegistry(t, db)
	t.Setenv("HOME", t.TempDir()) // no docker config: anonymous pulls
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, tc := range []struct {
		file, scanType string
		minFindings    int
		// savesBytes: the image's layers are much larger than its SBOM (for
		// the small fixtures the SBOM is the larger download).
		savesBytes bool
	}{
		{"debian-12.tar", "basic", 1, true},
		{"ubuntu-22.04.oci", "basic", 1, false},
		{"rhel-9.oci", "basic", 1, false},
		{"alpine-3.19.tar", "basic", 1, false}, // scanned as docker://REF
		{"lang-python-node.oci", "enhanced", 1, false},
		{"lang-python-node.oci", "basic", 1, false}, // the ENHANCED SBOM serves BASIC
	} {
		t.Run(tc.file+"/"+tc.scanType, func(t *testing.T) {
			repo := "shared/" + strings.NewReplacer(".tar", "", ".oci", "", ".", "-").Replace(tc.file)
			ref := pushAndWaitSBOM(t, host, filepath.Join(images, tc.file), repo)
			scanRef := func(extra ...string) (findings, string, time.Duration, int64) {
				t.Helper()
				before := counter.written.Load()
				start := time.Now()
				target := ref
				if strings.HasPrefix(tc.file, "alpine") {
					target = "docker://" + ref
				}
				code, out, stderr := runCLI(t, append([]string{"scan", target, "--db", db, "--format", "json", "--scan-type", tc.scanType, "-v"}, extra...)...)
				wall := time.Since(start)
				if code != ExitOK {
					t.Fatalf("scan %v: exit %d\n%s", extra, code, stderr)
				}
				return parseFindings(t, out), stderr, wall, counter.written.Load() - before
			}
			indexed, stderrIdx, wallIdx, bytesIdx := scanRef("--no-sbom-reuse")
			reused, stderrReuse, wallReuse, bytesReuse := scanRef()
			if strings.Contains(stderrIdx, "stored SBOM") {
				t.Errorf("--no-sbom-reuse used a stored SBOM: %s", stderrIdx)
			}
			if !strings.Contains(stderrReuse, "using the stored SBOM sha256:") || !strings.Contains(stderrReuse, "(catalogers match)") {
				t.Fatalf("the reusing scan did not use the stored SBOM: %s", stderrReuse)
			}
			if diff := cmp.Diff(indexed, reused); diff != "" {
				t.Errorf("findings from the stored SBOM differ from indexing (-indexed +reused):\n%s", diff)
			}
			if n := len(indexed.ImageScanFindings.Findings) + len(indexed.ImageScanFindings.EnhancedFindings); n < tc.minFindings {
				t.Errorf("%d findings: the comparison is vacuous", n)
			}
			if tc.scanType == "enhanced" {
				sameJSONAsAPI(t, host, repo, ref, db)
			}
			if tc.savesBytes && bytesReuse*10 >= bytesIdx {
				t.Errorf("reuse downloaded %d bytes, indexing %d: want a tenth or less", bytesReuse, bytesIdx)
			}
			t.Logf("%s %s: %d findings; indexing %v, %d bytes downloaded; reuse %v, %d bytes",
				tc.file, tc.scanType, len(indexed.ImageScanFindings.Findings)+len(indexed.ImageScanFindings.EnhancedFindings), wallIdx, bytesIdx, wallReuse, bytesReuse)
		})
	}
}

// TestScanFallsBackWithoutReferrers scans an image in a registry that holds
// no SBOM of it: the scan indexes, and -v says why in one line.
func TestScanFallsBackWithoutReferrers(t *testing.T) {
	archive := filepath.Join(testutil.Shared(t, "images"), "alpine-3.19.tar")
	db := t.TempDir()
	if code, _, stderr := runCLI(t, "db", "update", "--mirror", writeMirror(t), "--db", db); code != ExitOK {
		t.Fatalf("db update: %s", stderr)
	}
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	img, err := testutil.LoadImage(archive)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/fixtures/alpine:3.19")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "scan", tag.String(), "--db", db, "--format", "json", "-v")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, "no stored SBOM used") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "no stored CycloneDX SBOM") {
		t.Errorf("stderr %q: want one line saying no SBOM is stored", stderr)
	}
	if f := parseFindings(t, out); len(f.ImageScanFindings.Findings) == 0 {
		t.Errorf("the fallback scan found nothing: %s", out)
	}
	// Without -v the fallback is silent.
	if _, _, stderr := runCLI(t, "scan", tag.String(), "--db", db, "--format", "json"); strings.Contains(stderr, "SBOM") {
		t.Errorf("fallback without -v printed %q", stderr)
	}
}

// sameJSONAsAPI: `scan --format json` writes the JSON the server's
// DescribeImageScanFindings sends for the same image: the findings have
// the same fields with the same JSON types (timestamps epoch numbers in
// both), and the envelope's common fields agree in type.
func sameJSONAsAPI(t *testing.T, host, repo, ref, db string) {
	t.Helper()
	_, d, _ := strings.Cut(ref, "@")
	body := `{"repositoryName":"` + repo + `","imageId":{"imageDigest":"` + d + `"},"maxResults":1000}`
	var api map[string]any
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, err := http.NewRequest(http.MethodPost, "http://"+host+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		api = nil
		err = json.NewDecoder(resp.Body).Decode(&api)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := api["imageScanStatus"].(map[string]any); st != nil && st["status"] != "IN_PROGRESS" && st["status"] != "PENDING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeImageScanFindings: no finished scan after 2 minutes: %v", api)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, out, stderr := runCLI(t, "scan", ref, "--db", db, "--format", "json", "--scan-type", "enhanced")
	if code != ExitOK {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	var cli map[string]any
	if err := json.Unmarshal([]byte(out), &cli); err != nil {
		t.Fatal(err)
	}
	apiShape, cliShape := map[string]string{}, map[string]string{}
	jsonShape("", api, apiShape)
	jsonShape("", cli, cliShape)
	for _, k := range []string{".imageScanFindings.imageScanCompletedAt", ".imageScanFindings.enhancedFindings[].firstObservedAt", ".imageScanFindings.enhancedFindings[].updatedAt"} {
		if apiShape[k] != "number" || cliShape[k] != "number" {
			t.Errorf("%s: API sends %q, scan writes %q, want numbers", k, apiShape[k], cliShape[k])
		}
	}
	// The image's tags in the repository and its push time are the
	// registry's: a scan by digest knows neither.
	registryOnly := map[string]bool{}
	for _, k := range []string{"imageTags", "imageTags[]", "pushedAt"} {
		registryOnly[".imageScanFindings.enhancedFindings[].resources[].details.awsEcrContainerImage."+k] = true
	}
	findings := func(m map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			if strings.HasPrefix(k, ".imageScanFindings.enhancedFindings") && !registryOnly[k] {
				out[k] = v
			}
		}
		return out
	}
	if diff := cmp.Diff(findings(apiShape), findings(cliShape)); diff != "" {
		t.Errorf("enhanced findings' JSON (-DescribeImageScanFindings +scan --format json):\n%s", diff)
	}
	for k, v := range cliShape {
		if a, ok := apiShape[k]; ok && a != v {
			t.Errorf("%s: API sends a %s, scan writes a %s", k, a, v)
		}
	}
}

// jsonShape records the JSON type of every path of v (array elements
// as []).
func jsonShape(path string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		out[path] = "object"
		for k, val := range x {
			jsonShape(path+"."+k, val, out)
		}
	case []any:
		out[path] = "array"
		for _, val := range x {
			jsonShape(path+"[]", val, out)
		}
	case string:
		out[path] = "string"
	case float64:
		out[path] = "number"
	case bool:
		out[path] = "boolean"
	default:
		out[path] = "null"
	}
}
