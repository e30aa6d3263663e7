package rpm

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/rpm/internal/container"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// htag is one tag of a header built by header: val is a string, []string,
// int32 or []int32.
type htag struct {
	tag int32
	val any
}

// header builds an rpm header blob (the legacy layout without a region
// tag, which go-rpmdb accepts) holding tags in the order given.
func header(tags ...htag) []byte {
	var index, data bytes.Buffer
	be := binary.BigEndian
	for _, t := range tags {
		var typ, count uint32
		var b []byte
		switch v := t.val.(type) {
		case string:
			typ, count, b = 6, 1, append([]byte(v), 0)
		case []string:
			typ, count = 8, uint32(len(v))
			for _, s := range v {
				b = append(b, s...)
				b = append(b, 0)
			}
		case int32:
			typ, count, b = 4, 1, be.AppendUint32(nil, uint32(v))
		case []int32:
			typ, count = 4, uint32(len(v))
			for _, n := range v {
				b = be.AppendUint32(b, uint32(n))
			}
		}
		if typ == 4 {
			for data.Len()%4 != 0 {
				data.WriteByte(0)
			}
		}
		index.Write(be.AppendUint32(nil, uint32(t.tag)))
		index.Write(be.AppendUint32(nil, typ))
		index.Write(be.AppendUint32(nil, uint32(data.Len())))
		index.Write(be.AppendUint32(nil, count))
		data.Write(b)
	}
	out := be.AppendUint32(nil, uint32(len(tags)))
	out = be.AppendUint32(out, uint32(data.Len()))
	return append(append(out, index.Bytes()...), data.Bytes()...)
}

// pkgHeader is a header for name-version-release with one file.
func pkgHeader(name, version, release string, extra ...htag) []byte {
	var tags []htag
	if name != "" {
		tags = append(tags, htag{1000, name})
	}
	if version != "" {
		tags = append(tags, htag{1001, version})
	}
	tags = append(tags, htag{1002, release})
	tags = append(tags, extra...)
	tags = append(tags, htag{1022, "x86_64"})
	return header(tags...)
}

// TestMalformedRecords mixes malformed headers with good ones in an NDB
// database: the good ones are kept, the bad ones skipped (no name, not
// decodable) or kept with the version as written, each with its exact
// warning.
func TestMalformedRecords(t *testing.T) {
	files := []htag{{1116, []int32{0}}, {1117, []string{"good"}}, {1118, []string{"/usr/bin/"}}}
	good1 := pkgHeader("good1", "1.0", "1.el9", files...)
	good2 := pkgHeader("good2", "2.0", "2.el9")
	rpm := func(name, version string, epoch int, release string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.TypeRPM, Epoch: epoch, Release: release, Arch: "x86_64", SourceName: name, SourceVersion: version}
	}
	g1, g2 := rpm("good1", "1.0-1.el9", 0, "1.el9"), rpm("good2", "2.0-2.el9", 0, "2.el9")
	tests := []struct {
		name  string
		bad   []byte
		want  []inventory.Package
		owned []string
		warns []string
	}{
		{"no name", pkgHeader("", "1.0", "1"), []inventory.Package{g1, g2}, []string{"usr/bin/good"},
			[]string{`record 2: header has no name (version "1.0"); package skipped`}},
		{"no version", pkgHeader("nover", "", "1"), []inventory.Package{g1, rpm("nover", "", 0, "1"), g2}, []string{"usr/bin/good"},
			[]string{`record 2: package "nover": header has no version; kept with an empty version`}},
		{"negative epoch", pkgHeader("negepoch", "1.0", "1", htag{1003, int32(-1)}), []inventory.Package{g1, rpm("negepoch", "-1:1.0-1", 0, "1"), g2}, []string{"usr/bin/good"},
			[]string{`record 2: package "negepoch": negative epoch -1; kept with the version as written`}},
		{"unparseable version", pkgHeader("beta", "2.10.0 beta", "1"), []inventory.Package{g1, rpm("beta", "2.10.0 beta-1", 0, "1"), g2}, []string{"usr/bin/good"}, nil},
		{"directory index out of range", pkgHeader("baddir", "1.0", "1", htag{1116, []int32{5}}, htag{1117, []string{"f"}}, htag{1118, []string{"/usr/"}}),
			[]inventory.Package{g1, rpm("baddir", "1.0-1", 0, "1"), g2}, []string{"usr/bin/good"},
			[]string{`record 2: package "baddir": file "f": directory index 5 out of range (1 directories); its files are not listed as owned`}},
		{"too short to decode", []byte("short"), []inventory.Package{g1, g2}, []string{"usr/bin/good"},
			[]string{"record 2: header of 5 bytes is too short; package skipped"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parseBytes(t, container.NDBImage(good1, tt.bad, good2))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, res.Packages); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.owned, res.Owned); d != "" {
				t.Errorf("owned (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.warns, res.Warnings); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// TestSharedChains: BDB values whose overflow chains share pages are read
// once; the sharer is skipped with a warning, so the work stays linear in
// the file.
func TestSharedChains(t *testing.T) {
	b := fixtures(t)[FormatBDB]
	// Point the second off-page value of the first hash page at the first
	// one's chain.
	c := corrupt(b, func(c []byte) {
		o := firstPage(t, c, 13)
		le := binary.LittleEndian
		n := int(le.Uint16(c[o+20:]))
		var pages []int
		for i := 1; i < n; i += 2 {
			off := int(le.Uint16(c[o+26+2*i:]))
			if c[o+off] == 3 { // an off-page entry
				pages = append(pages, o+off)
			}
		}
		if len(pages) < 2 {
			t.Fatalf("the first hash page has %d off-page values, want 2 or more", len(pages))
		}
		copy(c[pages[1]+4:pages[1]+8], c[pages[0]+4:pages[0]+8])
	})
	res, err := parseBytes(t, c)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := parseBytes(t, b)
	if len(res.Packages) != len(full.Packages)-1 && len(res.Packages) != len(full.Packages) {
		t.Errorf("%d packages, want %d or one fewer", len(res.Packages), len(full.Packages))
	}
	if len(res.Warnings) != 1 || !bytes.Contains([]byte(res.Warnings[0]), []byte("which another value's chain holds")) {
		t.Errorf("warnings %q, want one about the shared chain", res.Warnings)
	}
}
