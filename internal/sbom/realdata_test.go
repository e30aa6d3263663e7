package sbom

import (
	"bytes"
	"context"
	"path/filepath"
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
