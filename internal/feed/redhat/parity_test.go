package redhat

import (
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var (
	cveFixtures    = filepath.Join("testdata", "cve", "*.json")
	vexDocFixtures = filepath.Join("testdata", "vex", "*", "*.json")
)

// TestDecodeParity checks that the JSON drop-in decodes the CVE API and
// CSAF VEX fixtures and their hostile variants as encoding/json did.
func TestDecodeParity(t *testing.T) {
	feedtest.ParityFiles[cveRecord](t, cveFixtures)
	feedtest.ParityFiles[csafDoc](t, vexDocFixtures)
}

// FuzzDecodeParity fuzzes that parity for both document kinds.
func FuzzDecodeParity(f *testing.F) {
	feedtest.SeedFiles(f, cveFixtures, vexDocFixtures)
	f.Fuzz(func(t *testing.T, data []byte) {
		feedtest.DecodeParity[cveRecord](t, data)
		feedtest.DecodeParity[csafDoc](t, data)
	})
}
