package osv

import (
	"archive/zip"
	"bytes"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// acmeMapper maps the made-up ecosystem "Acme:<rel>[:<variant>]": plain
// releases to "acme:<rel>", variants skipped, "ACME-NOTE-*" records
// skipped whole.
type acmeMapper struct{ got [][]Entry }

func (m *acmeMapper) Map(a *advisory.Advisory, sev []Severity, entries []Entry) Mapped {
	m.got = append(m.got, entries)
	var out Mapped
	if a.ID == "ACME-NOTE-1" {
		return Mapped{Skip: "notes"}
	}
	for _, s := range sev {
		if s.Type == "Acme" {
			a.VendorSeverity = s.Score
		}
	}
	for _, e := range entries {
		rel, variant, _ := cutLast(e.Ecosystem)
		if variant != "" {
			out.Skipped = append(out.Skipped, "variants")
			continue
		}
		if e.Name == "bad" {
			out.Problems = append(out.Problems, "bad name")
			continue
		}
		st := advisory.StatusAffected
		if e.Fixed {
			st = advisory.StatusFixed
		}
		a.Affected = append(a.Affected, advisory.Affected{Namespace: "acme:" + rel, Package: e.Name, Kind: advisory.KindSource, Status: st, Ranges: e.Ranges})
	}
	return out
}

func cutLast(eco string) (rel, variant string, ok bool) {
	rest := eco[len("Acme:"):]
	for i := range rest {
		if rest[i] == ':' {
			return rest[:i], rest[i+1:], true
		}
	}
	return rest, "", false
}

func zipRecords(t testing.TB, recs map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range recs {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMapper(t *testing.T) {
	m := &acmeMapper{}
	u := NewWithOptions("Acme", Options{Name: "acme-osv", MirrorDir: "acme/osv", Mapper: m})
	if u.Name() != "acme-osv" || u.MirrorDir() != "acme/osv" {
		t.Fatalf("Name, MirrorDir = %q, %q", u.Name(), u.MirrorDir())
	}
	data := zipRecords(t, map[string]string{
		"ACME-1.json": `{"id":"ACME-1","upstream":["CVE-2024-1"],"related":["ACME-NOTE-1"],
			"severity":[{"type":"Acme","score":"high"}],
			"affected":[
			 {"package":{"ecosystem":"Acme:1","name":"zlib","purl":"pkg:x/zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"}]}],
			  "versions":["1.0"],"ecosystem_specific":{"k":1}},
			 {"package":{"ecosystem":"Acme:1:FIPS","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]},
			 {"package":{"ecosystem":"Acme:2","name":"bad"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]},
			 {"package":{"ecosystem":"Acme:2","name":"norange"},"ranges":[{"type":"ECOSYSTEM","events":[{"bogus":"1"}]}]},
			 {"package":{"ecosystem":"Other:1","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}
			]}`,
		"ACME-NOTE-1.json": `{"id":"ACME-NOTE-1","affected":[{"package":{"ecosystem":"Acme:1","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`,
		"ACME-2.json":      `{"id":"ACME-2","affected":[{"package":{"ecosystem":"Acme:1:FIPS","name":"zlib"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`,
	})
	own := NewWithOptions("Acme", Options{OwnDir: true, Mapper: m})
	if own.MirrorDir() != "osv/Acme" || own.Upstream() != Upstream+"Acme/" || own.zipPath() != "all.zip" {
		t.Errorf("OwnDir: MirrorDir, Upstream, zip = %q, %q, %q", own.MirrorDir(), own.Upstream(), own.zipPath())
	}
	got, err := parse(t, u, fstest.MapFS{"Acme/all.zip": {Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	want := []*advisory.Advisory{{
		ID: "ACME-1", Source: "acme-osv", Aliases: []string{"CVE-2024-1"}, VendorSeverity: "high",
		Affected: []advisory.Affected{{Namespace: "acme:1", Package: "zlib", Kind: advisory.KindSource, Status: advisory.StatusFixed,
			Ranges: []advisory.Range{rng(advisory.Event{Introduced: "0"}, advisory.Event{Fixed: "1.2"})}}},
	}}
	if diff := cmp.Diff(want, got.Advisories); diff != "" {
		t.Errorf("advisories (-want +got):\n%s", diff)
	}
	wantStats := feed.Stats{
		Records: 1,
		Skipped: map[string]int{"notes": 1, "variants": 2},
		Malformed: []feed.Malformed{
			{File: "Acme/all.zip!ACME-1.json", ID: "ACME-1", Err: `affected[3]: ranges[0]: unknown event "bogus"`},
			{File: "Acme/all.zip!ACME-1.json", ID: "ACME-1", Err: "affected[3]: no usable range"},
			{File: "Acme/all.zip!ACME-1.json", ID: "ACME-1", Err: "bad name"},
		},
	}
	if diff := cmp.Diff(wantStats, got.Stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	// The mapper saw only Acme entries with a usable range, raw fields kept.
	var first []Entry
	for _, es := range m.got {
		if len(es) == 3 {
			first = es
		}
	}
	if len(first) != 3 || first[0].PURL != "pkg:x/zlib" || string(first[0].EcosystemSpecific) != `{"k":1}` || !first[0].Fixed || first[2].Index != 2 {
		t.Errorf("entries handed to the mapper: %+v", m.got)
	}
}
