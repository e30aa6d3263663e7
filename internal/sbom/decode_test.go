package sbom

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// TestDecodeForeign reads a CycloneDX 1.4 SBOM shaped like other scanners'
// output: no stowaway properties, legacy tools, nested components, a group
// for npm scopes and maven, a component with no name, no purl, and a source
// RPM file name in the upstream qualifier.
func TestDecodeForeign(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "foreign", "other-tool.cdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := Decode(f, testNames)
	if err != nil {
		t.Fatal(err)
	}
	want := &inventory.Inventory{
		Source: inventory.Source{Ref: "docker.io/library/debian:12", Digest: "sha256:4a7d1b2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"},
		Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)", Status: inventory.OSSupported},
		Packages: []inventory.Package{
			{Name: "libc6", Version: "2.36-9+deb12u4", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "glibc",
				Licenses: []string{"LGPL-2.1-or-later", "GPL-2"}, PURL: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"},
			{Name: "openssl-libs", Version: "1:3.0.7-24.el9", Type: inventory.TypeRPM, Epoch: 1, Release: "24.el9", Arch: "x86_64",
				SourceName: "openssl", SourceVersion: "3.0.7-24.el9",
				PURL: "pkg:rpm/redhat/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-24.el9.src.rpm"},
			{Name: "@types/node", Version: "20.10.0", Type: npm.Type, Licenses: []string{"MIT"}, PURL: "pkg:npm/%40types/node@20.10.0"},
			{Name: "com.fasterxml.jackson.core:jackson-databind", Version: "2.15.2", Type: maven.Type,
				PURL: "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.15.2"},
			{Name: "golang.org/x/net", Version: "v0.17.0", Type: golang.Type, PURL: "pkg:golang/golang.org/x/net@v0.17.0"},
		},
		Warnings:  []string{`sbom: 1 components without a purl were skipped (first: "app")`},
		CreatedAt: time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC),
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	cdxDoc := string(encode(t, fixture(), CycloneDX))
	replace := func(from, to string) string {
		if !strings.Contains(cdxDoc, from) {
			t.Fatalf("test setup: %q not in the CycloneDX output", from)
		}
		return strings.Replace(cdxDoc, from, to, 1)
	}
	for _, tc := range []struct {
		name, doc, wantErr string
	}{
		{"empty", "", "not a JSON object"},
		{"not JSON", "<bom/>", "not a JSON object"},
		{"array", "[]", "not a JSON object"},
		{"truncated", cdxDoc[:len(cdxDoc)/2], "not a JSON object"},
		{"unknown object", `{"hello": "world"}`, "not a CycloneDX, SPDX or Stowaway JSON document"},
		{"other bomFormat", `{"bomFormat": "SWID"}`, `unknown bomFormat "SWID"`},
		{"bad timestamp", replace(`"timestamp": "2024-05-01T12:34:56.789Z"`, `"timestamp": "yesterday"`), "metadata.timestamp"},
		{"bad purl", replace(`"purl": "pkg:cargo/serde@1.0.193"`, `"purl": "serde"`), "purl"},
		{"bad epoch", replace(`"name": "stowaway:package:epoch",
          "value": "1"`, `"name": "stowaway:package:epoch",
          "value": "one"`), "epoch"},
		{"bad cataloger version", replace(`"value": "2"`, `"value": "two"`), "stowaway:cataloger:dpkg"},
		{"layer index far ahead", replace("stowaway:image:layer:1:diffID", "stowaway:image:layer:99999999:diffID"), "bad layer index"},
		{"layer index negative", replace("stowaway:image:layer:0:diffID", "stowaway:image:layer:-1:diffID"), "bad layer index"},
		{"bad layer size", replace(`"value": "31457280"`, `"value": "big"`), "layer:0:size"},
		{"wrong type", replace(`"version": 1,`, `"version": "one",`), "decode cyclonedx"},
		{"stowaway json package without type", `{"source": {"ref": "x"}, "packages": [{"name": "a"}]}`, "package 0: missing name or type"},
		{"stowaway json bad purl type", `{"source": {"ref": "x"}, "packages": [{"name": "a", "type": "nu}get"}]}`, "no valid purl"},
		{"stowaway json wrong type", `{"source": {"ref": "x"}, "packages": {}}`, "decode json"},
		{"spdx unknown version", `{"spdxVersion": "SPDX-9.9"}`, "decode spdx"},
		{"spdx bad created", `{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "creationInfo": {"created": "now", "creators": ["Tool: x"]}}`, "creationInfo.created"},
		{"spdx bad purl", `{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "packages": [{"SPDXID": "SPDXRef-a", "name": "a",
			"externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "nope"}]}]}`, "purl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := Decode(strings.NewReader(tc.doc), testNames)
			if err == nil {
				t.Fatalf("no error; decoded %+v", inv)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "sbom: decode") {
				t.Errorf("error %q does not name the stage", err)
			}
		})
	}
}

func TestDecodeLimit(t *testing.T) {
	doc := encode(t, fixture(), CycloneDX)
	if _, err := decodeLimited(bytes.NewReader(doc), int64(len(doc)), testNames); err != nil {
		t.Errorf("a document of exactly the limit: %v", err)
	}
	_, err := decodeLimited(bytes.NewReader(doc), int64(len(doc)-1), testNames)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("a document one byte over the limit: error %v, want one about the limit", err)
	}
	// Decode stops reading after the limit: it must not drain an endless reader.
	_, err = decodeLimited(iotest.OneByteReader(endless{}), 1<<10, testNames)
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("an endless stream: error %v, want one about the limit", err)
	}
	boom := errors.New("disk on fire")
	if _, err := Decode(iotest.ErrReader(boom), testNames); !errors.Is(err, boom) {
		t.Errorf("read error not wrapped: %v", err)
	}
}

// endless is a reader of infinite spaces.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// FuzzDecode feeds Decode mutations of every format's output and of a
// foreign SBOM. Decode must never panic, whatever it accepts must encode in
// every format, and the CycloneDX and Stowaway JSON encodings must decode to
// the same inventory.
func FuzzDecode(f *testing.F) {
	for _, dir := range []string{"golden", "foreign"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(`{"bomFormat":"CycloneDX","metadata":{"component":{"name":"x","properties":[{"name":"stowaway:image:layer:0:size","value":"1"}]}}}`))
	// The package properties matching depends on (SBOMs stored as referrers
	// are read back by 'scan' instead of indexing): epoch, release, source,
	// module, layer, a type override and a Maven group.
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"openssl","version":"3.0.7-27.el9","purl":"pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&epoch=1","properties":[{"name":"stowaway:package:epoch","value":"1"},{"name":"stowaway:package:release","value":"27.el9"},{"name":"stowaway:package:sourceName","value":"openssl"},{"name":"stowaway:package:sourceVersion","value":"1:3.0.7-27.el9"},{"name":"stowaway:package:module","value":"nodejs:18"},{"name":"stowaway:package:layerDiffID","value":"sha256:00"},{"name":"stowaway:package:cataloger","value":"rpm"}]}]}`))
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","group":"org.apache.logging.log4j","name":"log4j-core","version":"2.14.1","purl":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1","properties":[{"name":"stowaway:package:type","value":"maven"},{"name":"stowaway:package:epoch","value":"x"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := Decode(bytes.NewReader(b), testNames)
		if err != nil {
			return
		}
		for _, format := range Formats() {
			var buf bytes.Buffer
			if err := Encode(&buf, inv, format, testNames); err != nil {
				t.Fatalf("decoded inventory does not encode as %s: %v", format, err)
			}
			if format == SPDX {
				continue // lossy by design
			}
			again, err := Decode(&buf, testNames)
			if err != nil {
				t.Fatalf("%s written by Encode does not decode: %v", format, err)
			}
			if diff := cmp.Diff(normalize(inv, testNames), again, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%s round trip of a decoded inventory (-want +got):\n%s", format, diff)
			}
		}
	})
}

// TestDecodeForeignDependencies reads another tool's dependency graph:
// the metadata component's dependsOn are the project's direct
// dependencies, package-to-package edges are kept, and edges naming
// unknown refs, crossing files or starting at an unknown ref are dropped.
func TestDecodeForeignDependencies(t *testing.T) {
	const doc = `{"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
	"metadata": {"component": {"bom-ref": "app", "type": "application", "name": "app"}},
	"components": [
		{"bom-ref": "a", "type": "library", "name": "express", "version": "4.17.1", "purl": "pkg:npm/express@4.17.1"},
		{"bom-ref": "b", "type": "library", "name": "qs", "version": "6.7.0", "purl": "pkg:npm/qs@6.7.0"},
		{"bom-ref": "c", "type": "library", "name": "lodash", "version": "4.17.15", "purl": "pkg:npm/lodash@4.17.15",
			"properties": [{"name": "stowaway:package:path", "value": "other/package-lock.json"}]}
	],
	"dependencies": [
		{"ref": "app", "dependsOn": ["a", "nowhere"]},
		{"ref": "a", "dependsOn": ["b", "c", "a"]},
		{"ref": "ghost", "dependsOn": ["b"]},
		{"ref": "b"}
	]}`
	inv, err := Decode(strings.NewReader(doc), testNames)
	if err != nil {
		t.Fatal(err)
	}
	want := []inventory.Relationship{
		{To: inventory.PackageRef{Name: "express", Version: "4.17.1"}},
		{From: inventory.PackageRef{Name: "express", Version: "4.17.1"}, To: inventory.PackageRef{Name: "qs", Version: "6.7.0"}},
	}
	if d := cmp.Diff(want, inv.Relationships); d != "" {
		t.Errorf("relationships (-want +got):\n%s", d)
	}
	d, ok := inventory.NewGraph(inv).Dependency(inv.Packages[1])
	if qs := inv.Packages[1]; qs.Name != "qs" || !ok || d.Scope != inventory.ScopeTransitive || !cmp.Equal(d.IntroducedThrough, []string{"express@4.17.1", "qs@6.7.0"}) {
		t.Errorf("%s: %+v %v", qs.Name, d, ok)
	}
}
