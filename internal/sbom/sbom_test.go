package sbom

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// encode is Encode that fails the test on error.
func encode(t testing.TB, inv *inventory.Inventory, f Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, inv, f, testNames); err != nil {
		t.Fatalf("Encode(%s): %v", f, err)
	}
	return buf.Bytes()
}

func encodeCDXVersion(t testing.TB, inv *inventory.Inventory, v cdx.SpecVersion) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := encodeCycloneDX(&buf, normalize(inv, testNames), v, Options{Names: testNames}); err != nil {
		t.Fatalf("encode cyclonedx %s: %v", v, err)
	}
	return buf.Bytes()
}

// inventories are the round-trip cases: the full fixture and the edge cases
// of the distro and of empty lists.
func inventories() map[string]*inventory.Inventory {
	oddType := &inventory.Inventory{
		Packages: []inventory.Package{{Name: "x", Version: "1", Type: "future", PURL: "pkg:generic/x@1", Path: "x", Cataloger: "future"}},
	}
	noOS := &inventory.Inventory{
		Source: inventory.Source{Ref: "dir:/srv/rootfs", Kind: "dir"},
		Distro: &inventory.Distro{Status: inventory.OSNone, Reason: "no release files"},
		Packages: []inventory.Package{{Name: "left-pad", Version: "1.3.0", Type: npm.Type,
			Path: "package-lock.json", Cataloger: "npm"}},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	unsupported := &inventory.Inventory{
		Source:    inventory.Source{Ref: "docker-archive:/tmp/fedora.tar", Kind: "docker-archive", Digest: "sha256:0123"},
		Distro:    &inventory.Distro{ID: "fedora", VersionID: "39", PrettyName: "Fedora Linux 39", Status: inventory.OSUnsupported, Reason: "no advisory data for Fedora"},
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
	}
	return map[string]*inventory.Inventory{
		"fixture":                fixture(),
		"empty":                  {},
		"no distro":              {Source: inventory.Source{Ref: "oci-layout:/x", Kind: "oci-layout"}},
		"no OS":                  noOS,
		"unsupported":            unsupported,
		"type not the purl type": oddType,
	}
}

func TestRoundTrip(t *testing.T) {
	encoders := map[string]func(testing.TB, *inventory.Inventory) []byte{
		"cyclonedx": func(t testing.TB, inv *inventory.Inventory) []byte { return encode(t, inv, CycloneDX) },
		"cyclonedx-1.5": func(t testing.TB, inv *inventory.Inventory) []byte {
			return encodeCDXVersion(t, inv, cdx.SpecVersion1_5)
		},
		"json": func(t testing.TB, inv *inventory.Inventory) []byte { return encode(t, inv, JSON) },
	}
	for invName, inv := range inventories() {
		for encName, enc := range encoders {
			t.Run(invName+"/"+encName, func(t *testing.T) {
				b := enc(t, inv)
				got, err := Decode(bytes.NewReader(b), testNames)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				want := normalize(inv, testNames)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("Decode(Encode(inv)) differs (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestRoundTripKeepsEveryField guards the round-trip test itself: the
// fixture must set every field of Package, Source, Layer and Distro, or a
// field could be dropped by the encoders without the round trip noticing.
func TestRoundTripKeepsEveryField(t *testing.T) {
	inv := fixture()
	var fields = map[string]bool{}
	for _, p := range inv.Packages {
		for k, set := range map[string]bool{
			"Name": p.Name != "", "Version": p.Version != "", "Type": p.Type != "", "Epoch": p.Epoch != 0,
			"Release": p.Release != "", "Arch": p.Arch != "", "SourceName": p.SourceName != "",
			"SourceVersion": p.SourceVersion != "", "Module": p.Module != "", "Licenses": len(p.Licenses) > 0,
			"PURL": p.PURL != "", "Path": p.Path != "", "Layer": p.Layer != "", "Cataloger": p.Cataloger != "",
			"CPEs": len(p.CPEs) > 0,
		} {
			fields[k] = fields[k] || set
		}
	}
	var missing []string
	for k, set := range fields {
		if !set {
			missing = append(missing, k)
		}
	}
	if n := len(fields); n != 15 {
		t.Errorf("checked %d Package fields, want 15: update this test for new fields", n)
	}
	if got := countFields(inventory.Package{}); got != 15 {
		t.Errorf("inventory.Package has %d fields, this test knows 15: teach the encoders and this test the new ones", got)
	}
	if got := countFields(inventory.Source{}); got != 10 {
		t.Errorf("inventory.Source has %d fields, the encoders know 10", got)
	}
	if got := countFields(inventory.Distro{}); got != 7 {
		t.Errorf("inventory.Distro has %d fields, the encoders know 7", got)
	}
	// SymbolTables (the Go binaries' symbol tables) is left out of SBOMs on
	// purpose: the encoders know the other 8.
	if got := countFields(inventory.Inventory{}); got != 9 {
		t.Errorf("inventory.Inventory has %d fields, the encoders know 8 and leave out SymbolTables", got)
	}
	if len(inv.Relationships) == 0 {
		t.Error("fixture has no relationships")
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("fixture leaves Package fields unset: %v", missing)
	}
	s, d := inv.Source, inv.Distro
	if s.Ref == "" || s.Kind == "" || s.Digest == "" || s.ImageID == "" || len(s.Tags) == 0 || s.OS == "" || s.Architecture == "" || s.Author == "" || len(s.Layers) == 0 {
		t.Errorf("fixture leaves Source fields unset: %+v", s)
	}
	if d.ID == "" || d.VersionID == "" || d.Release == "" || d.Codename == "" || d.PrettyName == "" || d.Status == "" {
		t.Errorf("fixture leaves Distro fields unset: %+v", d)
	}
}

func TestEncodeComputesMissingPURL(t *testing.T) {
	inv := fixture()
	idx := slices.IndexFunc(inv.Packages, func(p inventory.Package) bool { return p.PURL == "" })
	if idx < 0 {
		t.Fatal("fixture has no package without a PURL")
	}
	inv.Packages = append(inv.Packages, inventory.Package{Name: "bad", Version: "1", Type: npm.Type, PURL: "not a purl"})
	got, err := Decode(bytes.NewReader(encode(t, inv, CycloneDX)), testNames)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"zlib": "pkg:apk/redhat/zlib@1.2.13-r1?arch=x86_64&distro=rhel-9.3",
		"bad":  "pkg:npm/bad@1",
	}
	for _, p := range got.Packages {
		if w, ok := want[p.Name]; ok {
			if p.PURL != w {
				t.Errorf("%s: PURL %q, want %q", p.Name, p.PURL, w)
			}
			delete(want, p.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("packages missing after decode: %v", want)
	}
	if inv.Packages[idx].PURL != "" {
		t.Error("Encode modified the caller's inventory")
	}
}

func TestDeterministic(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			first := encode(t, fixture(), f)
			r := rand.New(rand.NewPCG(1, 2))
			for range 5 {
				inv := fixture()
				r.Shuffle(len(inv.Packages), func(i, j int) { inv.Packages[i], inv.Packages[j] = inv.Packages[j], inv.Packages[i] })
				if got := encode(t, inv, f); !bytes.Equal(got, first) {
					t.Fatalf("output depends on package order:\n%s", cmp.Diff(string(first), string(got)))
				}
			}
			// A different inventory gets a different serial / namespace.
			other := fixture()
			other.Packages = other.Packages[1:]
			if f != JSON && identifier(t, encode(t, other, f)) == identifier(t, first) {
				t.Errorf("two different inventories share the document identifier %q", identifier(t, first))
			}
		})
	}
}

// identifier returns the CycloneDX serialNumber or SPDX documentNamespace.
func identifier(t *testing.T, b []byte) string {
	t.Helper()
	for _, key := range []string{`"serialNumber": "`, `"documentNamespace": "`} {
		if _, rest, ok := strings.Cut(string(b), key); ok {
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
	}
	t.Fatal("no serialNumber or documentNamespace")
	return ""
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		format Format
		file   string
	}{
		{CycloneDX, "fixture.cdx.json"},
		{SPDX, "fixture.spdx.json"},
		{JSON, "fixture.stowaway.json"},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := EncodeWith(&buf, fixture(), tc.format, Options{ToolVersion: "v0.0.0-test", Names: testNames}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", tc.file)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("%s differs from the golden file (-want +got; go test -update rewrites it):\n%s", tc.file, diff)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"cyclonedx", CycloneDX, false},
		{"CycloneDX-JSON", CycloneDX, false},
		{"cdx", CycloneDX, false},
		{"spdx", SPDX, false},
		{"spdx-json", SPDX, false},
		{"json", JSON, false},
		{"stowaway", JSON, false},
		{"xml", "", true},
		{"", "", true},
	} {
		got, err := ParseFormat(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if err := Encode(&bytes.Buffer{}, fixture(), "xml", testNames); err == nil {
		t.Error("Encode with an unknown format: no error")
	}
	bad := &inventory.Inventory{Packages: []inventory.Package{{Name: "a", Version: "1", Type: "nu}get"}}}
	if err := Encode(&bytes.Buffer{}, bad, CycloneDX, testNames); err == nil || !strings.Contains(err.Error(), "no valid purl") {
		t.Errorf("Encode of a package with no possible purl: error %v", err)
	}
	if err := Encode(&bytes.Buffer{}, nil, JSON, testNames); err == nil {
		t.Error("Encode of a nil inventory: no error")
	}
}

func countFields(v any) int { return reflect.TypeOf(v).NumField() }

func TestImagePURL(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		src  inventory.Source
		want string
	}{
		{inventory.Source{Kind: "registry", Ref: "index.docker.io/library/alpine:3.19", Digest: d},
			"pkg:oci/alpine@" + d + "?repository_url=index.docker.io%2Flibrary%2Falpine&tag=3.19"},
		{inventory.Source{Kind: "registry", Ref: "localhost:5000/app@" + d, Digest: d},
			"pkg:oci/app@" + d + "?repository_url=localhost:5000%2Fapp"},
		{inventory.Source{Kind: "registry", Ref: "index.docker.io/library/alpine:3.19"}, ""},
		{inventory.Source{Kind: "docker-archive", Ref: "docker-archive:/tmp/x.tar", Digest: d}, ""},
		{inventory.Source{Kind: "registry", Ref: "Not A Ref!", Digest: d}, ""},
	} {
		if got := imagePURL(tc.src); got != tc.want {
			t.Errorf("imagePURL(%+v) = %q, want %q", tc.src, got, tc.want)
		}
	}
}
