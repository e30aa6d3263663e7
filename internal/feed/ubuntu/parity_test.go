package ubuntu

import (
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var uctFixtures = filepath.Join("testdata", "uct-src", "*", "*.json")

// TestUCTDecodeParity checks that the JSON drop-in decodes the UCT fixtures
// and their hostile variants as encoding/json did.
func TestUCTDecodeParity(t *testing.T) { feedtest.ParityFiles[uctRecord](t, uctFixtures) }

// FuzzUCTDecodeParity fuzzes that parity.
func FuzzUCTDecodeParity(f *testing.F) {
	feedtest.SeedFiles(f, uctFixtures)
	f.Fuzz(func(t *testing.T, data []byte) { feedtest.DecodeParity[uctRecord](t, data) })
}
