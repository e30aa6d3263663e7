package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
)

// fixtureAlpine is a one-layer Alpine 3.19 image whose busybox 1.36.1-r15
// is vulnerable in writeMirror's DB (CVE-2023-42363, fixed in -r17).
func fixtureAlpine(t *testing.T) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"etc/alpine-release", "3.19.1\n"},
		{"etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"},
		{"lib/apk/db/installed", "P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\nT:Size optimized toolbox\n\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// forgedSBOM is what an image author with push rights would push to hide
// their image's findings: a CycloneDX SBOM of the image with its OS and no
// packages, and the annotations of a BASIC Stowaway SBOM made by this
// binary's catalogers.
func forgedSBOM(t *testing.T, subject v1.Image) (doc []byte, ann map[string]string) {
	t.Helper()
	d, err := subject.Digest()
	if err != nil {
		t.Fatal(err)
	}
	osCats, _ := catalogers()
	inv := &inventory.Inventory{
		Source:     inventory.Source{Digest: d.String()},
		Distro:     &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported},
		Catalogers: catalogerInfos(osCats),
	}
	var buf bytes.Buffer
	if err := sbom.EncodeWith(&buf, inv, sbom.CycloneDX, sbom.Options{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), map[string]string{
		sbomref.AnnotationCreated:    time.Now().UTC().Format(time.RFC3339Nano),
		sbomref.AnnotationCatalogers: sbomref.Catalogers(inv.Catalogers),
		sbomref.AnnotationScanType:   sbomref.ScanTypeBasic,
	}
}

// pushSBOMArtifact pushes doc as an OCI 1.1 artifact whose subject is the
// image, with a raw manifest PUT (as any client may); fallbackTag also
// pushes the referrers tag-schema index that registries without the
// referrers API are read through. It returns the manifest's digest and the
// PUT's status and body.
func pushSBOMArtifact(t *testing.T, host, repo string, subject v1.Image, doc []byte, ann map[string]string, fallbackTag bool) (string, int, string) {
	t.Helper()
	r, err := name.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	layer := static.NewLayer(doc, types.MediaType(sbomref.ArtifactTypeCycloneDX))
	cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	for _, l := range []v1.Layer{layer, cfg} {
		if err := remote.WriteLayer(r, l); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer) map[string]any {
		d, _ := l.Digest()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		return map[string]any{"mediaType": mt, "digest": d.String(), "size": sz}
	}
	sd, err := partial.Descriptor(subject)
	if err != nil {
		t.Fatal(err)
	}
	// go-containerregistry's registry takes the artifact type from the
	// config's media type; Stowaway's from artifactType.
	c := desc(cfg)
	c["mediaType"] = sbomref.ArtifactTypeCycloneDX
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": types.OCIManifestSchema1, "artifactType": sbomref.ArtifactTypeCycloneDX,
		"config": c, "layers": []any{desc(layer)},
		"subject":     map[string]any{"mediaType": sd.MediaType, "digest": sd.Digest.String(), "size": sd.Size},
		"annotations": ann,
	})
	md, _, err := v1.SHA256(bytes.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	status, body := putManifest(t, host, repo, md.String(), string(types.OCIManifestSchema1), m)
	if fallbackTag && status == http.StatusCreated {
		idx, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": types.OCIImageIndex,
			"manifests": []any{map[string]any{"mediaType": types.OCIManifestSchema1, "digest": md.String(), "size": len(m), "artifactType": sbomref.ArtifactTypeCycloneDX, "annotations": ann}},
		})
		tag := strings.Replace(sd.Digest.String(), ":", "-", 1)
		if st, b := putManifest(t, host, repo, tag, string(types.OCIImageIndex), idx); st != http.StatusCreated {
			t.Fatalf("push the referrers fallback tag: %d %s", st, b)
		}
	}
	return md.String(), status, body
}

func putManifest(t *testing.T, host, repo, ref, mediaType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, repo, ref), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// vouching claims SBOM authority for a registry that does not enforce it.
func vouching(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(sbomref.HeaderAuthority, sbomref.AuthorityEnforced)
		h.ServeHTTP(w, r)
	})
}

func findingCount(t *testing.T, out string) int {
	t.Helper()
	f := parseFindings(t, out)
	return len(f.ImageScanFindings.Findings) + len(f.ImageScanFindings.EnhancedFindings)
}

// TestForgedSBOMNotReused pushes an image and a forged empty SBOM of it to
// registries that do not vouch for Stowaway SBOMs: the scan indexes the
// image and finds its vulnerability. The last case is the control: the
// same forgery on a registry that claims the authority is used (and hides
// the finding), so the others fail for the right reason.
func TestForgedSBOMNotReused(t *testing.T) {
	db := t.TempDir()
	if code, _, stderr := runCLI(t, "db", "update", "--mirror", writeMirror(t), "--db", db); code != ExitOK {
		t.Fatalf("db update: %s", stderr)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	img := fixtureAlpine(t)
	tests := []struct {
		name        string
		handler     http.Handler
		fallbackTag bool
		reused      bool
	}{
		{"OCI 1.1 registry", ggcrregistry.New(ggcrregistry.WithReferrersSupport(true)), false, false},
		{"registry without the referrers API", ggcrregistry.New(), true, false},
		{"control: a registry that claims the authority", vouching(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true))), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			tag, err := name.NewTag(host + "/app:1")
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			doc, ann := forgedSBOM(t, img)
			forged, status, body := pushSBOMArtifact(t, host, "app", img, doc, ann, tt.fallbackTag)
			if status != http.StatusCreated {
				t.Fatalf("the plain registry refused the forged SBOM: %d %s", status, body)
			}
			code, out, stderr := runCLI(t, "scan", tag.String(), "--db", db, "--format", "json", "-v")
			if code != ExitOK {
				t.Fatalf("scan: exit %d: %s", code, stderr)
			}
			n := findingCount(t, out)
			if tt.reused {
				if !strings.Contains(stderr, "using the stored SBOM "+forged) || n != 0 {
					t.Fatalf("control: the forgery was not used (%d findings): %s", n, stderr)
				}
				return
			}
			if strings.Contains(stderr, "using the stored SBOM") {
				t.Errorf("the forged SBOM was used: %s", stderr)
			}
			if !strings.Contains(stderr, "no stored SBOM used: the registry does not vouch for Stowaway SBOMs") {
				t.Errorf("-v does not say why the stored SBOM was not used: %s", stderr)
			}
			if n != 1 {
				t.Errorf("%d findings, want busybox's CVE-2023-42363: %s", n, out)
			}
		})
	}
}

// TestServeSBOMAuthority runs the scanning registry: a forged SBOM push is
// refused, the server's own SBOM is reused with the same findings as
// indexing, a user's SBOM without the reserved annotations is accepted and
// not used, and deleting the image deletes both referrers.
func TestServeSBOMAuthority(t *testing.T) {
	db := t.TempDir()
	if code, _, stderr := runCLI(t, "db", "update", "--mirror", writeMirror(t), "--db", db); code != ExitOK {
		t.Fatalf("db update: %s", stderr)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host, _ := startScanningRegistry(t, db)
	img := fixtureAlpine(t)
	tag, err := name.NewTag(host + "/app:1")
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
	subject := tag.Context().Digest(d.String())
	referrers := func() []string {
		t.Helper()
		idx, err := remote.Referrers(subject)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range im.Manifests {
			out = append(out, m.Digest.String())
		}
		return out
	}
	var own []string
	for deadline := time.Now().Add(time.Minute); len(own) == 0; own = referrers() {
		if time.Now().After(deadline) {
			t.Fatal("no SBOM referrer a minute after the push")
		}
		time.Sleep(100 * time.Millisecond)
	}

	doc, ann := forgedSBOM(t, img)
	if _, status, body := pushSBOMArtifact(t, host, "app", img, doc, ann, false); status != http.StatusBadRequest ||
		!strings.Contains(body, "MANIFEST_INVALID") || !strings.Contains(body, sbomref.AnnotationCatalogers) {
		t.Fatalf("forged SBOM push: %d %s; want 400 MANIFEST_INVALID naming %s", status, body, sbomref.AnnotationCatalogers)
	}
	user, status, body := pushSBOMArtifact(t, host, "app", img, doc, map[string]string{"org.example.tool": "handmade"}, false)
	if status != http.StatusCreated {
		t.Fatalf("user SBOM push: %d %s", status, body)
	}
	if diff := cmp.Diff(append(own[:1:1], user), referrers(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Fatalf("referrers (-want +got):\n%s", diff)
	}

	_, indexed, stderrIdx := runCLI(t, "scan", subject.String(), "--db", db, "--format", "json", "--no-sbom-reuse")
	code, reused, stderr := runCLI(t, "scan", subject.String(), "--db", db, "--format", "json", "-v")
	if code != ExitOK || !strings.Contains(stderr, "using the stored SBOM "+own[0]+" (catalogers match)") {
		t.Fatalf("scan: exit %d; want the server's SBOM %s used: %s", code, own[0], stderr)
	}
	if diff := cmp.Diff(parseFindings(t, indexed), parseFindings(t, reused)); diff != "" {
		t.Errorf("findings from the stored SBOM differ from indexing (%s) (-indexed +reused):\n%s", stderrIdx, diff)
	}
	if n := findingCount(t, reused); n != 1 {
		t.Errorf("%d findings, want busybox's CVE-2023-42363", n)
	}

	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/app/manifests/"+d.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete the image: %s", resp.Status)
	}
	if got := referrers(); len(got) != 0 {
		t.Errorf("referrers after deleting the image: %v", got)
	}
}
