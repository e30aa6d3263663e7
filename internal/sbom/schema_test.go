package sbom

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Schema files in testdata/schema (see the README there), by the URL their
// documents are known by. Every $ref resolves to one of these; anything else
// is refused by offlineLoader, so the test never reaches for the network.
var schemaFiles = map[string]string{
	"http://cyclonedx.org/schema/bom-1.5.schema.json":  "bom-1.5.schema.json",
	"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	"http://spdx.org/rdf/terms/2.3":                    "spdx-2.3.schema.json",
}

type offlineLoader struct{}

func (offlineLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not in testdata/schema and the test does not use the network", u)
}

func compileSchema(t *testing.T, id string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(offlineLoader{})
	c.AssertFormat()
	for u, file := range schemaFiles {
		f, err := os.Open(filepath.Join("testdata", "schema", file))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := c.AddResource(u, doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compile %s: %v", id, err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, b []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

func TestSchemaCycloneDX(t *testing.T) {
	for _, tc := range []struct {
		spec cdx.SpecVersion
		id   string
	}{
		{cdx.SpecVersion1_5, "http://cyclonedx.org/schema/bom-1.5.schema.json"},
		{cdx.SpecVersion1_6, "http://cyclonedx.org/schema/bom-1.6.schema.json"},
	} {
		t.Run(tc.spec.String(), func(t *testing.T) {
			sch := compileSchema(t, tc.id)
			for name, inv := range inventories() {
				b := encodeCDXVersion(t, inv, tc.spec)
				if err := validate(t, sch, b); err != nil {
					t.Errorf("%s: CycloneDX %s output fails its schema: %v", name, tc.spec, err)
				}
			}
			// The validator must be able to say no: a license id outside the
			// SPDX list and a component without a name are both invalid.
			for _, bad := range []struct{ from, to string }{
				{`"id": "GPL-2.0-only"`, `"id": "Not-A-License"`},
				{`"name": "busybox",`, ``},
				// A dependency needs its ref.
				{`"ref": "file:app/package-lock.json",`, ``},
			} {
				b := encodeCDXVersion(t, fixture(), tc.spec)
				broken := bytes.Replace(b, []byte(bad.from), []byte(bad.to), 1)
				if bytes.Equal(b, broken) {
					t.Fatalf("test setup: %q not in the output", bad.from)
				}
				if err := validate(t, sch, broken); err == nil {
					t.Errorf("schema accepted a document with %q replaced by %q", bad.from, bad.to)
				}
			}
			// Encode's default is the version the CLI promises.
			if tc.spec == cdxSpecDefault {
				if err := validate(t, sch, encode(t, fixture(), CycloneDX)); err != nil {
					t.Errorf("Encode(cyclonedx): %v", err)
				}
			}
		})
	}
}

func TestSchemaSPDX(t *testing.T) {
	sch := compileSchema(t, "http://spdx.org/rdf/terms/2.3")
	for name, inv := range inventories() {
		t.Run(name, func(t *testing.T) {
			b := encode(t, inv, SPDX)
			if err := validate(t, sch, b); err != nil {
				t.Errorf("SPDX output fails the SPDX 2.3 schema: %v", err)
			}
			for _, problem := range checkSPDX(b) {
				t.Error(problem)
			}
		})
	}
	// The schema and checkSPDX must both be able to say no.
	b := encode(t, fixture(), SPDX)
	if err := validate(t, sch, bytes.Replace(b, []byte(`"downloadLocation": "NOASSERTION",`), nil, 1)); err == nil {
		t.Error("schema accepted a package without downloadLocation")
	}
	for _, bad := range []struct{ from, to string }{
		{`"SPDXID": "SPDXRef-Image"`, `"SPDXID": "SPDXRef-Image!"`},
		{`"licenseDeclared": "LicenseRef-ASL-2.0"`, `"licenseDeclared": "LicenseRef-Undefined"`},
		{`"licenseDeclared": "GPL-2.0-only"`, `"licenseDeclared": "GPL-2.0-only AND"`},
		{`"referenceLocator": "pkg:npm/lodash@4.17.21"`, `"referenceLocator": "lodash"`},
	} {
		broken := bytes.Replace(b, []byte(bad.from), []byte(bad.to), 1)
		if bytes.Equal(b, broken) {
			t.Fatalf("test setup: %q not in the output", bad.from)
		}
		if len(checkSPDX(broken)) == 0 {
			t.Errorf("checkSPDX accepted a document with %q replaced by %q", bad.from, bad.to)
		}
	}
}

var spdxIDPattern = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)

// checkSPDX checks what the SPDX 2.3 JSON schema leaves to the spec's prose:
// id syntax and uniqueness, relationships to existing elements, the
// namespace, license expressions and their LicenseRefs, the creation date
// and the purls.
func checkSPDX(b []byte) []string {
	var doc struct {
		SPDXID       string `json:"SPDXID"`
		Namespace    string `json:"documentNamespace"`
		CreationInfo struct {
			Created  string   `json:"created"`
			Creators []string `json:"creators"`
		} `json:"creationInfo"`
		Packages []struct {
			SPDXID            string `json:"SPDXID"`
			LicenseConcluded  string `json:"licenseConcluded"`
			LicenseDeclared   string `json:"licenseDeclared"`
			PrimaryPurpose    string `json:"primaryPackagePurpose"`
			ExternalRefs      []struct{ ReferenceCategory, ReferenceType, ReferenceLocator string }
			PackageSourceInfo string `json:"sourceInfo"`
		} `json:"packages"`
		Extracted []struct {
			LicenseID string `json:"licenseId"`
		} `json:"hasExtractedLicensingInfos"`
		Relationships []struct {
			A    string `json:"spdxElementId"`
			B    string `json:"relatedSpdxElement"`
			Type string `json:"relationshipType"`
		} `json:"relationships"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if doc.SPDXID != "SPDXRef-DOCUMENT" {
		bad("document SPDXID %q", doc.SPDXID)
	}
	if u, err := url.Parse(doc.Namespace); err != nil || u.Scheme != "https" || u.Fragment != "" || strings.Contains(doc.Namespace, "#") {
		bad("documentNamespace %q is not an absolute URI without '#'", doc.Namespace)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(doc.CreationInfo.Created) {
		bad("created %q is not YYYY-MM-DDThh:mm:ssZ", doc.CreationInfo.Created)
	}
	if len(doc.CreationInfo.Creators) == 0 || !strings.HasPrefix(doc.CreationInfo.Creators[0], "Tool: stowaway") {
		bad("creators %q: want Tool: stowaway first", doc.CreationInfo.Creators)
	}
	refs := map[string]bool{}
	for _, e := range doc.Extracted {
		if !strings.HasPrefix(e.LicenseID, "LicenseRef-") || !spdxIDPattern.MatchString("SPDXRef-"+strings.TrimPrefix(e.LicenseID, "LicenseRef-")) {
			bad("extracted license id %q", e.LicenseID)
		}
		refs[e.LicenseID] = true
	}
	ids := map[string]bool{"SPDXRef-DOCUMENT": true}
	for _, p := range doc.Packages {
		if !spdxIDPattern.MatchString(p.SPDXID) {
			bad("package SPDXID %q does not match %s", p.SPDXID, spdxIDPattern)
		}
		if ids[p.SPDXID] {
			bad("duplicate SPDXID %q", p.SPDXID)
		}
		ids[p.SPDXID] = true
		if p.LicenseConcluded != "NOASSERTION" {
			bad("%s: licenseConcluded %q, want NOASSERTION", p.SPDXID, p.LicenseConcluded)
		}
		if l := p.LicenseDeclared; l != "NOASSERTION" {
			if !isSPDXExpression(l) {
				bad("%s: licenseDeclared %q is not an SPDX expression", p.SPDXID, l)
			}
			for _, tok := range strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
				if strings.HasPrefix(tok, "LicenseRef-") && !refs[tok] {
					bad("%s: %s is not in hasExtractedLicensingInfos", p.SPDXID, tok)
				}
			}
		}
		if p.PrimaryPurpose == "CONTAINER" || p.PrimaryPurpose == purposeOS {
			continue
		}
		// One purl first, then the package's CPEs (SECURITY cpe23Type).
		cpesOK := true
		for _, r := range p.ExternalRefs[min(1, len(p.ExternalRefs)):] {
			cpesOK = cpesOK && r.ReferenceCategory == "SECURITY" && r.ReferenceType == "cpe23Type" && strings.HasPrefix(r.ReferenceLocator, "cpe:2.3:")
		}
		if len(p.ExternalRefs) < 1 || !cpesOK || p.ExternalRefs[0].ReferenceCategory != "PACKAGE-MANAGER" || p.ExternalRefs[0].ReferenceType != "purl" ||
			!strings.HasPrefix(p.ExternalRefs[0].ReferenceLocator, "pkg:") {
			bad("%s: externalRefs %+v, want one PACKAGE-MANAGER purl, then SECURITY cpe23Type CPEs", p.SPDXID, p.ExternalRefs)
		}
		if !strings.Contains(p.PackageSourceInfo, "path ") {
			bad("%s: sourceInfo %q names no path", p.SPDXID, p.PackageSourceInfo)
		}
	}
	describes, contains := 0, map[string]bool{}
	for _, r := range doc.Relationships {
		if !ids[r.A] || !ids[r.B] {
			bad("relationship %s %s %s refers to an unknown element", r.A, r.Type, r.B)
		}
		switch {
		case r.Type == "DESCRIBES" && r.A == "SPDXRef-DOCUMENT" && r.B == "SPDXRef-Image":
			describes++
		case r.Type == "CONTAINS" && r.A == "SPDXRef-Image":
			contains[r.B] = true
		default:
			bad("unexpected relationship %s %s %s", r.A, r.Type, r.B)
		}
	}
	if describes != 1 {
		bad("%d DESCRIBES relationships from the document to the image, want 1", describes)
	}
	for id := range ids {
		if id != "SPDXRef-DOCUMENT" && id != "SPDXRef-Image" && !contains[id] {
			bad("the image does not CONTAIN %s", id)
		}
	}
	return problems
}

// TestDecodeSPDX checks what an SPDX document gives back: see
// decodeSPDX for the fields that SPDX cannot carry.
func TestDecodeSPDX(t *testing.T) {
	inv := fixture()
	got, err := Decode(bytes.NewReader(encode(t, inv, SPDX)), testNames)
	if err != nil {
		t.Fatal(err)
	}
	want := normalize(inv, testNames)
	want.Source = inventory.Source{Ref: inv.Source.Ref, Digest: inv.Source.Digest}
	// SPDX carries neither warnings nor the OS database problems, nor (in
	// Stowaway's SPDX) the dependency graph.
	want.Catalogers, want.Warnings, want.OSDatabaseProblems, want.Relationships = nil, nil, nil, nil
	want.CreatedAt = inv.CreatedAt.Truncate(1e9)
	// OS detection re-derives the distro from "rhel" "9.3"; the codename is lost.
	want.Distro = &inventory.Distro{ID: "rhel", VersionID: "9.3", Release: "9", PrettyName: inv.Distro.PrettyName, Status: inventory.OSSupported}
	for i := range want.Packages {
		p := &want.Packages[i]
		p.SourceVersion, p.Module = "", ""
		if p.SourceName == p.Name {
			p.SourceName = "" // the purl's upstream qualifier only names a different source
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Decode(SPDX) (-want +got):\n%s", diff)
	}
}
