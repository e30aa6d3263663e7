package sbomref_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/sbom/sbomtest"
	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

const (
	keyID  = "AKIDSTOWAWAYSBOM0001"
	secret = "sbom/secret+key"
)

type liveServer struct {
	host    string
	scanner *indexingScanner
}

// startServer runs a whole server (registry, ECR API, workers) whose
// registry scanning configuration scans every push ENHANCED.
func startServer(t *testing.T, formats string) *liveServer {
	t.Helper()
	sc := &indexingScanner{}
	grants := []server.Grant{{Repository: "*", Actions: []string{"admin"}}}
	srv, err := server.New(context.Background(), server.Config{
		DataDir:     t.TempDir(),
		AccessKeys:  []server.AccessKey{{ID: keyID, Secret: secret, Grants: grants}},
		Users:       []server.User{{Name: "ci", Password: "ci-pass", Grants: grants}},
		SBOMFormats: formats,
	}, sc)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	ls := &liveServer{host: ln.Addr().String(), scanner: sc}
	ls.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "ENHANCED",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}}}},
	}, nil)
	return ls
}

func (s *liveServer) call(t *testing.T, action string, in, out any) {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.host+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrapi.TargetPrefix+action)
	ecrapi.SignRequest(req, body, keyID, secret, "us-east-1", time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", action, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
}

type referrersIndex struct {
	MediaType string
	Manifests []struct {
		MediaType    string
		Digest       string
		Size         int64
		ArtifactType string
		Annotations  map[string]string
	}
}

// waitReferrers polls the referrers API until n SBOMs are listed.
func (s *liveServer) waitReferrers(t *testing.T, repo, subject string, n int) referrersIndex {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var idx referrersIndex
		getJSON(t, fmt.Sprintf("http://%s/v2/%s/referrers/%s", s.host, repo, subject), &idx)
		if len(idx.Manifests) == n {
			return idx
		}
		if time.Now().After(deadline) {
			t.Fatalf("referrers of %s: %d manifests after 60s, want %d: %+v", subject, len(idx.Manifests), n, idx)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pushArchive(t *testing.T, host, archive, repo string) string {
	t.Helper()
	img, err := testutil.LoadImage(archive)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repo + ":1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "ci-pass"})); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestSBOMReferrersDiscoverable scans a real image on push and finds its
// SBOMs through the referrers API, go-containerregistry and skopeo; the
// documents validate against their schemas and decode to the inventory the
// scan produced.
func TestSBOMReferrersDiscoverable(t *testing.T) {
	archive := filepath.Join(testutil.Shared(t, "images"), "lang-python-node.oci")
	s := startServer(t, "cyclonedx,spdx")
	subject := pushArchive(t, s.host, archive, "apps/web")
	idx := s.waitReferrers(t, "apps/web", subject, 2)

	byType := map[string]int{}
	var cdxDigest string
	for _, m := range idx.Manifests {
		byType[m.ArtifactType]++
		if m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("referrer %s media type %q", m.Digest, m.MediaType)
		}
		if m.Annotations[sbomref.AnnotationScanType] != "ENHANCED" {
			t.Errorf("referrer %s scan type %q, want ENHANCED", m.Digest, m.Annotations[sbomref.AnnotationScanType])
		}
		if _, err := time.Parse(time.RFC3339Nano, m.Annotations[sbomref.AnnotationCreated]); err != nil {
			t.Errorf("referrer %s created annotation: %v", m.Digest, err)
		}
		cats := m.Annotations[sbomref.AnnotationCatalogers]
		if !strings.Contains(cats, "apk@") || !strings.Contains(cats, "dpkg@") || strings.Count(cats, "@") < 5 {
			t.Errorf("referrer %s catalogers %q: want every OS and language cataloger", m.Digest, cats)
		}
		if m.ArtifactType == sbomref.ArtifactTypeCycloneDX {
			cdxDigest = m.Digest
		}
	}
	if byType[sbomref.ArtifactTypeCycloneDX] != 1 || byType[sbomref.ArtifactTypeSPDX] != 1 {
		t.Fatalf("referrer artifact types %v, want one CycloneDX and one SPDX", byType)
	}

	// The artifactType filter.
	var filtered referrersIndex
	h := getJSON(t, fmt.Sprintf("http://%s/v2/apps/web/referrers/%s?artifactType=%s", s.host, subject, url.QueryEscape(sbomref.ArtifactTypeSPDX)), &filtered)
	if len(filtered.Manifests) != 1 || filtered.Manifests[0].ArtifactType != sbomref.ArtifactTypeSPDX || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Errorf("filtered referrers: %+v (OCI-Filters-Applied %q)", filtered, h.Get("OCI-Filters-Applied"))
	}

	// go-containerregistry's client.
	auth := remote.WithAuth(&authn.Basic{Username: "ci", Password: "ci-pass"})
	subj, err := name.NewDigest(s.host + "/apps/web@" + subject)
	if err != nil {
		t.Fatal(err)
	}
	ri, err := remote.Referrers(subj, auth, remote.WithFilter("artifactType", sbomref.ArtifactTypeCycloneDX))
	if err != nil {
		t.Fatal(err)
	}
	im, err := ri.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != cdxDigest || im.Manifests[0].ArtifactType != sbomref.ArtifactTypeCycloneDX {
		t.Fatalf("remote.Referrers: %+v, want the CycloneDX SBOM %s", im.Manifests, cdxDigest)
	}

	// The blobs validate and decode to what the scanner indexed.
	validCDX := sbomtest.Validator(t, sbomtest.CycloneDX16)
	validSPDX := sbomtest.Validator(t, sbomtest.SPDX23)
	for _, m := range idx.Manifests {
		doc := fetchLayer(t, s.host+"/apps/web@"+m.Digest, auth)
		valid := validCDX
		if m.ArtifactType == sbomref.ArtifactTypeSPDX {
			valid = validSPDX
		}
		if err := valid(doc); err != nil {
			t.Errorf("%s document fails its schema: %v", m.ArtifactType, err)
		}
		if m.ArtifactType != sbomref.ArtifactTypeCycloneDX {
			continue
		}
		inv, err := sbom.Decode(bytes.NewReader(doc), names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
		if err != nil {
			t.Fatal(err)
		}
		if inv.Source.Digest != subject || len(inv.Packages) < 300 {
			t.Errorf("decoded SBOM: image %s with %d packages; want %s with the image's 310 apk and language packages", inv.Source.Digest, len(inv.Packages), subject)
		}
	}

	// The SBOMs themselves were not scanned.
	s.scanner.mu.Lock()
	calls := append([]string(nil), s.scanner.calls...)
	s.scanner.mu.Unlock()
	if len(calls) != 1 || calls[0] != subject {
		t.Errorf("scanner ran on %v, want only the image %s", calls, subject)
	}

	// skopeo reads the artifact's manifest and copies it.
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed; skipping the skopeo part")
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(skopeo, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("skopeo %v: %v\n%s", args, err, stderr)
		}
		return out
	}
	ref := "docker://" + s.host + "/apps/web@" + cdxDigest
	raw := run("inspect", "--raw", "--tls-verify=false", "--creds", "ci:ci-pass", ref)
	var man struct {
		ArtifactType string
		Subject      struct{ Digest string }
		Layers       []struct{ MediaType, Digest string }
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatal(err)
	}
	if man.ArtifactType != sbomref.ArtifactTypeCycloneDX || man.Subject.Digest != subject || len(man.Layers) != 1 {
		t.Errorf("skopeo inspect --raw: %s", raw)
	}
	dir := t.TempDir()
	run("copy", "--src-tls-verify=false", "--src-creds", "ci:ci-pass", ref, "dir:"+dir)
	blob, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(man.Layers[0].Digest, "sha256:")))
	if err != nil {
		t.Fatalf("skopeo copy did not write the SBOM layer: %v", err)
	}
	if err := validCDX(blob); err != nil {
		t.Errorf("SBOM copied by skopeo fails the CycloneDX 1.6 schema: %v", err)
	}
}

func fetchLayer(t *testing.T, ref string, opts ...remote.Option) []byte {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("%s: %d layers, %v", ref, len(ls), err)
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
