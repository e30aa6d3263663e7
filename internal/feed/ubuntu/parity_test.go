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

// TestUCTPocketsParity covers the packages map, most of a record: nulls,
// pockets and packages given twice, and wrong types at each level.
func TestUCTPocketsParity(t *testing.T) {
	for _, doc := range []string{
		`{"packages": null}`,
		`{"packages": {}}`,
		`{"packages": {"focal": null}}`,
		`{"packages": {"focal": {"a": null}}}`,
		`{"packages": {"focal": {"a": {"status": "needed"}}, "focal": {"b": {"status": "DNE"}}}}`,
		`{"packages": {"focal": {"a": {"status": "needed"}, "a": {"note": "x"}}}}`,
		`{"packages": {"focal": {"a": {"STATUS": "needed", "Note": "1.0"}}}}`,
		`{"packages": {"focal": {"a": {"status": "needed", "status": "released"}}}}`,
		`{"packages": {"focal": {}}, "packages": {"jammy": {"a": {}}}}`,
		`{"packages": []}`,
		`{"packages": "focal"}`,
		`{"packages": 1}`,
		`{"packages": {"focal": []}}`,
		`{"packages": {"focal": "a"}}`,
		`{"packages": {"focal": {"a": "released"}}}`,
		`{"packages": {"focal": {"a": []}}}`,
		`{"packages": {"focal": {"a": {"status": 1}}}}`,
		`{"packages": {"focal": {"a": {"status": "needed"}}`,
		`{"packages": {"focal": {"a": {"status": "needed"},}}}`,
		`{"packages": {"focal": {"a": {"status": "\ud800\udc00"}}}}`,
		`{"packages": {"fo\u0063al": {"\u0061": {"status": "needed"}}}}`,
		"{\"packages\": {\"focal\xff\": {\"a\xfe\": {\"status\": \"needed\"}}}}",
		`{"packages": {"focal": {"a": {"status": "needed"}}}, "candidate": 1}`,
	} {
		t.Run(doc, func(t *testing.T) { feedtest.DecodeParity[uctRecord](t, []byte(doc)) })
	}
}
