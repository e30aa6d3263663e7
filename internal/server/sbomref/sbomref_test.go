package sbomref_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/source"
)

// fixture is a registry over a real SQLite store, served over HTTP, with
// one random image pushed to it.
type fixture struct {
	reg     *registry.Registry
	store   *store.SQL
	host    string
	subject v1.Hash
	pushes  []store.Image
	mu      sync.Mutex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.New(nil, nil, []byte("secret"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st}
	f.reg, err = registry.New(ctx, registry.Options{
		Dir:   filepath.Join(dir, "registry"),
		Store: st,
		Auth:  a,
		OnPush: func(_ context.Context, img store.Image, _ bool) {
			f.mu.Lock()
			f.pushes = append(f.pushes, img)
			f.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.reg.Shutdown() })
	srv := httptest.NewServer(f.reg)
	t.Cleanup(srv.Close)
	f.host = strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(f.host + "/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	if f.subject, err = img.Digest(); err != nil {
		t.Fatal(err)
	}
	return f
}

func testInventory() *inventory.Inventory {
	return &inventory.Inventory{
		Source: inventory.Source{Ref: "app", Kind: "registry"},
		Distro: &inventory.Distro{ID: "alpine", VersionID: "3.19.1", Release: "3.19", Status: inventory.OSSupported},
		Packages: []inventory.Package{
			{Name: "busybox", Version: "1.36.1-r15", Type: inventory.TypeAPK, SourceName: "busybox", Path: "lib/apk/db/installed", Cataloger: "apk"},
		},
		Catalogers: []inventory.CatalogerInfo{{Name: "dpkg", Version: 2}, {Name: "apk", Version: 1}},
		CreatedAt:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func TestStoreSupersedesOlderSBOMs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	w, err := sbomref.New(sbomref.Options{Formats: []sbom.Format{sbom.CycloneDX, sbom.SPDX}, Registry: f.reg, Referrers: f.store, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	subject := f.subject.String()

	// A user's own SBOM (no Stowaway annotation) must survive.
	user, err := f.reg.PutArtifact(ctx, "app", registry.Artifact{
		ArtifactType: sbomref.ArtifactTypeCycloneDX,
		Subject:      ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(f.subject.String()), Size: 1},
		Layers:       []registry.ArtifactLayer{{MediaType: sbomref.ArtifactTypeCycloneDX, Data: []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}

	first, err := w.Store(ctx, "app", subject, false, testInventory())
	if err != nil {
		t.Fatal(err)
	}
	inv := testInventory()
	inv.Packages[0].Version = "1.36.1-r20"
	second, err := w.Store(ctx, "app", subject, true, inv)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("stored %d then %d descriptors, want 2 each", len(first), len(second))
	}

	refs, err := f.store.ListReferrers(ctx, "app", subject, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range refs {
		got[r.Digest] = r.ArtifactType + " " + r.Annotations[sbomref.AnnotationScanType]
	}
	want := map[string]string{
		user.Digest.String():      sbomref.ArtifactTypeCycloneDX + " ",
		second[0].Digest.String(): sbomref.ArtifactTypeCycloneDX + " ENHANCED",
		second[1].Digest.String(): sbomref.ArtifactTypeSPDX + " ENHANCED",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("referrers after a re-scan (-want +got):\n%s", diff)
	}
	for _, d := range first {
		if _, err := f.reg.ManifestDescriptor(ctx, "app", d.Digest.String()); err == nil {
			t.Errorf("superseded SBOM %s is still in storage", d.Digest)
		}
		if _, err := f.store.GetImage(ctx, "app", d.Digest.String()); err == nil {
			t.Errorf("superseded SBOM %s is still recorded as an image", d.Digest)
		}
	}
	// Stored artifacts are recorded as pushed manifests are, and OnPush saw
	// them with a config that is not an image config (so no scan).
	for _, d := range second {
		img, err := f.store.GetImage(ctx, "app", d.Digest.String())
		if err != nil {
			t.Fatalf("SBOM %s not recorded: %v", d.Digest, err)
		}
		if img.ArtifactMediaType != ocispec.MediaTypeEmptyJSON || scanning.IsImageConfig(img.ArtifactMediaType) {
			t.Errorf("SBOM %s recorded with config media type %q", d.Digest, img.ArtifactMediaType)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.pushes); n != 6 { // image, user SBOM, 2×2 of ours
		t.Errorf("OnPush ran %d times, want 6", n)
	}
}

func TestStoreFailsClearly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	w, err := sbomref.New(sbomref.Options{Registry: f.reg, Referrers: f.store})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Store(ctx, "app", "sha256:"+strings.Repeat("0", 64), false, testInventory())
	if err == nil || !strings.Contains(err.Error(), "subject") {
		t.Errorf("Store for a missing image: %v, want a subject error", err)
	}
	bad := testInventory()
	bad.Packages[0].Type = "not a purl type!"
	bad.Packages[0].PURL = ""
	if _, err := w.Store(ctx, "app", f.subject.String(), false, bad); err == nil || !strings.Contains(err.Error(), "encode") {
		t.Errorf("Store of an unencodable inventory: %v, want an encode error", err)
	}
	// The After hook logs instead of failing, and ignores incomplete scans.
	var logs bytes.Buffer
	w2, _ := sbomref.New(sbomref.Options{Registry: f.reg, Referrers: f.store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	j := &store.Job{Repository: "app", Digest: f.subject.String()}
	w2.After(ctx, j, &scanning.Result{Status: scanning.StatusComplete, Inventory: bad}, store.JobOutcome{Status: "COMPLETE"})
	if !strings.Contains(logs.String(), "repository=app") || !strings.Contains(logs.String(), "digest="+f.subject.String()) {
		t.Errorf("failure log does not name the repository and digest: %s", logs.String())
	}
	w2.After(ctx, j, &scanning.Result{Status: scanning.StatusFailed, Inventory: testInventory()}, store.JobOutcome{Status: "FAILED"})
	refs, _ := f.store.ListReferrers(ctx, "app", f.subject.String(), "")
	if len(refs) != 0 {
		t.Errorf("SBOMs stored for a failed scan: %v", refs)
	}
}

func TestParseFormats(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []sbom.Format
		err  bool
	}{
		{"", []sbom.Format{sbom.CycloneDX}, false},
		{"cyclonedx", []sbom.Format{sbom.CycloneDX}, false},
		{"cyclonedx,spdx", []sbom.Format{sbom.CycloneDX, sbom.SPDX}, false},
		{" spdx-json , cdx,spdx", []sbom.Format{sbom.SPDX, sbom.CycloneDX}, false},
		{"none", nil, false},
		{"json", nil, true},
		{"cyclonedx,xml", nil, true},
	} {
		got, err := sbomref.ParseFormats(tc.in)
		if (err != nil) != tc.err || !cmp.Equal(got, tc.want) {
			t.Errorf("ParseFormats(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestAnnotationsAreReserved: the registry refuses client pushes of the
// annotations Choose trusts, so they must be under its reserved prefix.
func TestAnnotationsAreReserved(t *testing.T) {
	for _, a := range []string{sbomref.AnnotationCatalogers, sbomref.AnnotationScanType} {
		if !strings.HasPrefix(a, registry.ReservedAnnotationPrefix) {
			t.Errorf("annotation %q is not under the registry's reserved prefix %q: a pusher could forge it", a, registry.ReservedAnnotationPrefix)
		}
	}
}

func TestCatalogers(t *testing.T) {
	got := sbomref.Catalogers([]inventory.CatalogerInfo{{Name: "rpm", Version: 3}, {Name: "apk", Version: 1}, {Name: "dpkg", Version: 2}, {Name: "apk", Version: 1}})
	if want := "apk@1,dpkg@2,rpm@3"; got != want {
		t.Errorf("Catalogers = %q, want %q", got, want)
	}
}

func TestChoose(t *testing.T) {
	const basic, enh = "apk@1,dpkg@1", "apk@1,dpkg@1,npm@1"
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	cand := func(dg, st, cats, created string) sbomref.Candidate {
		return sbomref.Candidate{Digest: dg, ArtifactType: sbomref.ArtifactTypeCycloneDX, Annotations: map[string]string{
			sbomref.AnnotationScanType: st, sbomref.AnnotationCatalogers: cats, sbomref.AnnotationCreated: created,
		}}
	}
	old := "2026-01-01T00:00:00Z"
	newer := "2026-02-01T00:00:00Z"
	for _, tc := range []struct {
		name     string
		cands    []sbomref.Candidate
		enhanced bool
		want     string // digest, or "" for none
		reason   string
	}{
		{"nothing stored", nil, false, "", "no stored CycloneDX SBOM"},
		{"basic serves basic", []sbomref.Candidate{cand(d("a"), "BASIC", basic, old)}, false, d("a"), ""},
		{"enhanced serves basic", []sbomref.Candidate{cand(d("a"), "ENHANCED", enh, old)}, false, d("a"), ""},
		{"basic does not serve enhanced", []sbomref.Candidate{cand(d("a"), "BASIC", basic, old)}, true, "", "cannot serve an ENHANCED scan"},
		{"enhanced serves enhanced", []sbomref.Candidate{cand(d("a"), "ENHANCED", enh, old)}, true, d("a"), ""},
		{"cataloger version differs", []sbomref.Candidate{cand(d("a"), "BASIC", "apk@1,dpkg@2", old)}, false, "", "catalogers differ"},
		{"enhanced sbom with basic's catalogers", []sbomref.Candidate{cand(d("a"), "ENHANCED", basic, old)}, false, "", "catalogers differ"},
		{"no annotation", []sbomref.Candidate{{Digest: d("a"), ArtifactType: sbomref.ArtifactTypeCycloneDX}}, false, "", "no dev.stowaway.catalogers"},
		{"spdx is not read", []sbomref.Candidate{{Digest: d("a"), ArtifactType: sbomref.ArtifactTypeSPDX, Annotations: cand("", "BASIC", basic, old).Annotations}}, false, "", "no stored CycloneDX SBOM"},
		{"newest wins", []sbomref.Candidate{cand(d("a"), "BASIC", basic, old), cand(d("b"), "ENHANCED", enh, newer), cand(d("c"), "BASIC", "x@1", newer)}, false, d("b"), ""},
		{"bad digest", []sbomref.Candidate{cand("sha256:zz", "BASIC", basic, old)}, false, "", "bad digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, reason := sbomref.Choose(tc.cands, sbomref.Want{Enhanced: tc.enhanced, BasicCatalogers: basic, EnhancedCatalogers: enh})
			if ok != (tc.want != "") || got.Digest != tc.want {
				t.Errorf("Choose = %s, %v (%s); want %q", got.Digest, ok, reason, tc.want)
			}
			if tc.reason != "" && !strings.Contains(reason, tc.reason) {
				t.Errorf("reason %q does not say %q", reason, tc.reason)
			}
		})
	}
}

// indexingScanner is the server's scanner minus matching: it indexes the
// image for real with every cataloger the scan type runs.
type indexingScanner struct {
	mu    sync.Mutex
	calls []string
}

func (s *indexingScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*scanning.Result, error) {
	s.mu.Lock()
	s.calls = append(s.calls, digest)
	s.mu.Unlock()
	o := indexer.Options{OS: all.OS(), Distros: distroall.Distros()}
	if enhanced {
		o.Language = all.Language()
	}
	inv, err := indexer.Index(ctx, &source.Source{Kind: source.KindRegistry, Ref: digest, Image: img, Digest: digest}, o)
	if err != nil {
		return nil, err
	}
	return &scanning.Result{Status: scanning.StatusComplete, CompletedAt: time.Now().UTC(), Inventory: inv}, nil
}

func getJSON(t *testing.T, url string, out any) http.Header {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("ci", "ci-pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.Header
}
