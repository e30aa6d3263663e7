package sbom

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestSharedImages indexes real images from ../shared/images with every
// cataloger, then checks each SBOM format on the result: the CycloneDX 1.6
// and SPDX 2.3 schemas, the SPDX rules of checkSPDX, the CycloneDX and
// Stowaway JSON round trips, and the package count of an SPDX round trip.
func TestSharedImages(t *testing.T) {
	dir := testutil.Shared(t, "images")
	cdxSchema := compileSchema(t, "http://cyclonedx.org/schema/bom-1.6.schema.json")
	spdxSchema := compileSchema(t, "http://spdx.org/rdf/terms/2.3")
	for _, image := range []string{"alpine-3.18.tar", "debian-12.tar", "ubuntu-22.04.oci", "rhel-9.oci", "lang-python-node.oci", "lang-lockfiles.tar", "lang-java-go.tar"} {
		t.Run(image, func(t *testing.T) {
			ctx := context.Background()
			src, err := source.Resolve(ctx, filepath.Join(dir, image), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := indexer.Index(ctx, src, indexer.Options{OS: all.OS(), Language: all.Language(), Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d packages, distro %s", len(inv.Packages), inv.Distro.Namespace())
			want := normalize(inv, testNames)

			cdxDoc := encode(t, inv, CycloneDX)
			if err := validate(t, cdxSchema, cdxDoc); err != nil {
				t.Errorf("CycloneDX fails its schema: %v", err)
			}
			if n, ok := wantGraph[image]; ok {
				checkGraph(t, cdxDoc, n)
			}
			spdxDoc := encode(t, inv, SPDX)
			if err := validate(t, spdxSchema, spdxDoc); err != nil {
				t.Errorf("SPDX fails its schema: %v", err)
			}
			for _, p := range checkSPDX(spdxDoc) {
				t.Error(p)
			}
			for name, doc := range map[string][]byte{"cyclonedx": cdxDoc, "json": encode(t, inv, JSON)} {
				got, err := Decode(bytes.NewReader(doc), testNames)
				if err != nil {
					t.Fatalf("%s: Decode: %v", name, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s round trip (-want +got):\n%s", name, diff)
				}
			}
			got, err := Decode(bytes.NewReader(spdxDoc), testNames)
			if err != nil {
				t.Fatalf("spdx: Decode: %v", err)
			}
			if len(got.Packages) != len(inv.Packages) {
				t.Errorf("spdx: decoded %d packages, want %d", len(got.Packages), len(inv.Packages))
			}
			for i, p := range got.Packages {
				w := want.Packages[i]
				if p.Name != w.Name || p.Version != w.Version || p.PURL != w.PURL || !cmp.Equal(p.Licenses, w.Licenses, cmpopts.EquateEmpty()) {
					t.Errorf("spdx: package %d = %s %s %s %q, want %s %s %s %q", i, p.Name, p.Version, p.PURL, p.Licenses, w.Name, w.Version, w.PURL, w.Licenses)
				}
			}
		})
	}
}

// wantGraph holds the dependency graphs the shared images' CycloneDX
// documents must carry: how many "dependencies" entries, and a few edges
// (a ref's name@version and one it dependsOn; "file:" names a lockfile's
// project, "image" the image).
var wantGraph = map[string]struct {
	entries int
	edges   [][2]string
}{
	// dpkg Depends and Pre-Depends resolved among the 88 installed
	// packages: 81 of them depend on another; awk is mawk's Provides,
	// gpgv the first installed of "gpgv | gpgv2 | gpgv1".
	"debian-12.tar": {entries: 81, edges: [][2]string{
		{"apt@2.6.1", "libapt-pkg6.0@2.6.1"}, {"apt@2.6.1", "gpgv@2.2.40-1.1+deb12u2"}, {"bash@5.2.15-2+b13", "base-files@12.4+deb12u15"},
		{"base-files@12.4+deb12u15", "mawk@1.3.4.20200120-3.1"}, {"libc6@2.36-9+deb12u14", "libgcc-s1@12.2.0-14+deb12u1"},
	}},
	// apk D: lines, package-lock.json's project and axios's
	// follow-redirects.
	"lang-python-node.oci": {entries: 0, edges: [][2]string{{"file:srv/nodeapp/package-lock.json", "axios@0.21.0"}, {"axios@0.21.0", "follow-redirects@1.13.0"}, {"image", "file:srv/nodeapp/package-lock.json"}}},
}

// checkGraph checks a CycloneDX document's dependencies against want
// (entries 0: any number, but some).
func checkGraph(t *testing.T, doc []byte, want struct {
	entries int
	edges   [][2]string
}) {
	t.Helper()
	var bom struct {
		Metadata struct {
			Component struct {
				Ref string `json:"bom-ref"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Ref     string `json:"bom-ref"`
			Name    string `json:"name"`
			Group   string `json:"group"`
			Version string `json:"version"`
		} `json:"components"`
		Dependencies []struct {
			Ref       string   `json:"ref"`
			DependsOn []string `json:"dependsOn"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(doc, &bom); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{bom.Metadata.Component.Ref: "image"}
	for _, c := range bom.Components {
		n := c.Name + "@" + c.Version
		if c.Group != "" {
			n = c.Group + "/" + n
		}
		if strings.HasPrefix(c.Ref, "file:") {
			n = c.Ref
		}
		names[c.Ref] = n
	}
	got := map[[2]string]bool{}
	for _, d := range bom.Dependencies {
		if _, ok := names[d.Ref]; !ok {
			t.Errorf("dependency of unknown ref %q", d.Ref)
		}
		for _, on := range d.DependsOn {
			if _, ok := names[on]; !ok {
				t.Errorf("%s dependsOn unknown ref %q", d.Ref, on)
			}
			got[[2]string{names[d.Ref], names[on]}] = true
		}
	}
	if len(bom.Dependencies) == 0 || (want.entries > 0 && len(bom.Dependencies) != want.entries) {
		t.Errorf("%d dependencies entries, want %d (0: some)", len(bom.Dependencies), want.entries)
	}
	for _, e := range want.edges {
		if !got[e] {
			t.Errorf("no edge %s -> %s in the CycloneDX dependencies", e[0], e[1])
		}
	}
	t.Logf("%d dependencies entries, %d edges", len(bom.Dependencies), len(got))
}
