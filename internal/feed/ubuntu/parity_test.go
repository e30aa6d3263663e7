package ubuntu

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	json "github.com/go-json-experiment/json/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

var uctFixtures = filepath.Join("testdata", "uct-src", "*", "*.json")

// TestUCTDecodeParity checks that the JSON drop-in decodes the UCT fixtures
// and their hostile variants as encoding/json did.
func TestUCTDecodeParity(t *testing.T) { feedtest.ParityFiles[uctRecordMaps](t, uctFixtures) }

// uctRecordMaps is uctRecord as it was decoded before the packages were
// streamed (uctPockets): the reference of the parity tests.
type uctRecordMaps struct {
	Candidate         string                       `json:"candidate"`
	Description       string                       `json:"description"`
	UbuntuDescription string                       `json:"ubuntu_description"`
	Priority          string                       `json:"priority"`
	CVSS              map[string]string            `json:"cvss"`
	Bugs              []string                     `json:"bugs"`
	References        []string                     `json:"references"`
	PublicDate        string                       `json:"public_date"`
	Packages          map[string]map[string]uctPkg `json:"packages"`
}

// uctRecordRaw reads each pocket raw, so that the reference decodes only
// the pockets convertUCT reads (a wrong type in a skipped pocket rejects
// neither).
type uctRecordRaw struct {
	Candidate         string                    `json:"candidate"`
	Description       string                    `json:"description"`
	UbuntuDescription string                    `json:"ubuntu_description"`
	Priority          string                    `json:"priority"`
	CVSS              map[string]string         `json:"cvss"`
	Bugs              []string                  `json:"bugs"`
	References        []string                  `json:"references"`
	PublicDate        string                    `json:"public_date"`
	Packages          map[string]jsontext.Value `json:"packages"`
}

// uctStreamParity checks that the streamed packages (uctRecord) are what
// the map decoding gave for the pockets convertUCT reads, with the same
// verdict (decoded or an error) on the record.
func uctStreamParity(t *testing.T, data []byte) {
	t.Helper()
	var got uctRecord
	errGot := json.Unmarshal(data, &got)
	var raw uctRecordRaw
	errRef := json.Unmarshal(data, &raw)
	var want []uctEntry
	if errRef == nil {
		for pocket, v := range raw.Packages {
			rel, rank, ok := pocketRelease(pocket)
			if !ok {
				continue
			}
			var pkgs map[string]uctPkg
			if err := json.Unmarshal(v, &pkgs); err != nil {
				errRef = err
				break
			}
			for name, p := range pkgs {
				want = append(want, uctEntry{pocket: pocket, rel: rel, rank: rank, name: name, pkg: p})
			}
		}
	}
	if (errGot == nil) != (errRef == nil) {
		t.Fatalf("streamed packages: error %v, map decoding: error %v, on %q", errGot, errRef, data)
	}
	if errGot != nil {
		return
	}
	order := func(es []uctEntry) []uctEntry {
		es = append([]uctEntry(nil), es...)
		for i := range es {
			es[i].gen = 0
		}
		sort.Slice(es, func(i, j int) bool {
			if es[i].pocket != es[j].pocket {
				return es[i].pocket < es[j].pocket
			}
			return es[i].name < es[j].name
		})
		return es
	}
	if d := cmp.Diff(order(want), order(got.Packages), cmp.AllowUnexported(uctEntry{}), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("streamed packages differ on %q (-map decoding +streamed):\n%s", data, d)
	}
	gotRest, rawRest := got, raw
	gotRest.Packages, rawRest.Packages = nil, nil
	if d := cmp.Diff(rawRest.Candidate+rawRest.Description+rawRest.PublicDate, gotRest.Candidate+gotRest.Description+gotRest.PublicDate); d != "" {
		t.Fatalf("other fields differ on %q: %s", data, d)
	}
}

// TestUCTStreamFixtures runs the stream parity on the fixtures and their
// hostile variants.
func TestUCTStreamFixtures(t *testing.T) {
	files, err := filepath.Glob(uctFixtures)
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures %s: %v", uctFixtures, err)
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range feedtest.Hostile(doc) {
			t.Run(filepath.Base(f)+"/"+name, func(t *testing.T) { uctStreamParity(t, v) })
		}
	}
}

// FuzzUCTDecodeParity fuzzes that parity.
func FuzzUCTDecodeParity(f *testing.F) {
	feedtest.SeedFiles(f, uctFixtures)
	f.Fuzz(func(t *testing.T, data []byte) {
		feedtest.DecodeParity[uctRecordMaps](t, data)
		uctStreamParity(t, data)
	})
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
		`{"packages": {"focal": {"a": {}}, "jammy": {"b": {}}, "focal": {"c": {}}}, "PACKAGES": {"focal": {"d": {}}, "bionic": null}}`,
		`{"packages": {"focal": {"a": {}}}, "Packages": null, "PACKAGES": {"jammy": {"b": {}}}}`,
		`{"packages": {"upstream": "x", "snap": [1], "focal": {"a": {"status": "needed"}}}}`,
		`{"packages": {"esm-apps/focal": {"a": {}}, "esm-apps/focal": null, "focal/esm": {"a": {}, "b": 1}}}`,
	} {
		t.Run(doc, func(t *testing.T) {
			feedtest.DecodeParity[uctRecordMaps](t, []byte(doc))
			uctStreamParity(t, []byte(doc))
		})
	}
}
