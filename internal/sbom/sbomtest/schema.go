// Package sbomtest validates SBOM documents against the published CycloneDX
// and SPDX JSON schemas kept in internal/sbom/testdata/schema, offline. It is
// for tests of packages that store or serve SBOMs.
package sbomtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// Schema ids of the documents Stowaway writes.
const (
	CycloneDX16 = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	SPDX23      = "http://spdx.org/rdf/terms/2.3"
)

// schemaFiles maps the URL a schema is known by to its file; every $ref
// resolves to one of these.
var schemaFiles = map[string]string{
	"http://cyclonedx.org/schema/bom-1.5.schema.json": "bom-1.5.schema.json",
	CycloneDX16: "bom-1.6.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	SPDX23: "spdx-2.3.schema.json",
}

type offlineLoader struct{}

func (offlineLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not in internal/sbom/testdata/schema and tests do not use the network", u)
}

// Validator compiles the schema id (CycloneDX16 or SPDX23) and returns a
// function that validates one JSON document against it.
func Validator(t testing.TB, id string) func(doc []byte) error {
	t.Helper()
	dir := filepath.Join(testutil.RepoRoot(t), "internal", "sbom", "testdata", "schema")
	c := jsonschema.NewCompiler()
	c.UseLoader(offlineLoader{})
	c.AssertFormat()
	for u, file := range schemaFiles {
		f, err := os.Open(filepath.Join(dir, file))
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
	return func(b []byte) error {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		return sch.Validate(inst)
	}
}
