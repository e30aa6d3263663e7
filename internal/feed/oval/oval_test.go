package oval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type def struct {
	ID    string `xml:"id,attr"`
	Class string `xml:"class,attr"`
}

type object struct {
	ID   string `xml:"id,attr"`
	Name string `xml:"name"`
}

type state struct {
	ID  string `xml:"id,attr"`
	EVR string `xml:"evr"`
}

func (o object) Key() string { return o.ID }
func (s state) Key() string  { return s.ID }

type doc = Doc[def, Test, object, state]

const sample = `<?xml version="1.0"?>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" xmlns:red-def="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux">
  <definitions>
    <definition id="d1" class="patch"><metadata><title>one</title></metadata></definition>
    <definition id="d2" class="vulnerability"/>
  </definitions>
  <tests>
    <red-def:rpminfo_test id="t1"><red-def:object object_ref="o1"/><red-def:state state_ref="s1"/></red-def:rpminfo_test>
    <dpkginfo_test id="t9"><object object_ref="o9"/></dpkginfo_test>
  </tests>
  <objects>
    <red-def:rpminfo_object id="o1"><red-def:name>openssl</red-def:name></red-def:rpminfo_object>
    <rpminfo_object id="o1"><name>openssl-libs</name></rpminfo_object>
  </objects>
  <states>
    <red-def:rpminfo_state id="s1"><red-def:evr>0:1-2</red-def:evr></red-def:rpminfo_state>
  </states>
  <variables>
    <constant_variable id="v1"><value>a</value><value>b</value></constant_variable>
  </variables>
</oval_definitions>`

func mkTest(id, object, state string) Test {
	t := Test{ID: id}
	t.Object.Ref = object
	t.State.Ref = state
	return t
}

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		schema  Schema
		want    *doc
		wantErr string
	}{
		{
			name:   "rpminfo with variables",
			in:     sample,
			schema: Schema{Family: "rpminfo", Variables: true},
			want: &doc{
				Definitions: []*def{{ID: "d1", Class: "patch"}, {ID: "d2", Class: "vulnerability"}},
				Tests:       map[string]Test{"t1": mkTest("t1", "o1", "s1")},
				Objects:     map[string]object{"o1": {ID: "o1", Name: "openssl-libs"}}, // the later o1 wins
				States:      map[string]state{"s1": {ID: "s1", EVR: "0:1-2"}},
				Variables:   map[string][]string{"v1": {"a", "b"}},
			},
		},
		{
			name:   "dpkginfo without variables",
			in:     sample,
			schema: Schema{Family: "dpkginfo"},
			want: &doc{
				Definitions: []*def{{ID: "d1", Class: "patch"}, {ID: "d2", Class: "vulnerability"}},
				Tests:       map[string]Test{"t9": mkTest("t9", "o9", "")},
				Objects:     map[string]object{},
				States:      map[string]state{},
				Variables:   map[string][]string{},
			},
		},
		{
			name:   "a test with two states keeps the last",
			in:     `<oval_definitions><definition id="d1"/><rpminfo_test id="t1"><object object_ref="o1"/><state state_ref="s1"/><state state_ref="s2"/></rpminfo_test></oval_definitions>`,
			schema: Schema{Family: "rpminfo"},
			want: &doc{
				Definitions: []*def{{ID: "d1"}},
				Tests:       map[string]Test{"t1": mkTest("t1", "o1", "s2")},
				Objects:     map[string]object{}, States: map[string]state{}, Variables: map[string][]string{},
			},
		},
		{
			name:    "no definitions",
			in:      `<oval_definitions><tests><rpminfo_test id="t1"/></tests></oval_definitions>`,
			schema:  Schema{Family: "rpminfo"},
			wantErr: "no OVAL definitions",
		},
		{
			name:    "empty input",
			in:      "",
			schema:  Schema{Family: "rpminfo"},
			wantErr: "no OVAL definitions",
		},
		{
			name:    "token error",
			in:      `<oval_definitions><definition id="d1"/>`,
			schema:  Schema{Family: "rpminfo"},
			wantErr: "xml: XML syntax error on line 1: unexpected EOF",
		},
		{
			name:    "definition decode error",
			in:      `<oval_definitions><definition id="d1"><metadata></definition></oval_definitions>`,
			schema:  Schema{Family: "rpminfo"},
			wantErr: "xml: definition: XML syntax error on line 1: element <metadata> closed by </definition>",
		},
		{
			name:    "test decode error names the element",
			in:      `<oval_definitions><definition id="d1"/><rpminfo_test id="t1"><object></rpminfo_test></oval_definitions>`,
			schema:  Schema{Family: "rpminfo"},
			wantErr: "xml: rpminfo_test: XML syntax error on line 1: element <object> closed by </rpminfo_test>",
		},
		{
			name:    "variable decode error",
			in:      `<oval_definitions><definition id="d1"/><constant_variable id="v"><value></constant_variable></oval_definitions>`,
			schema:  Schema{Family: "dpkginfo", Variables: true},
			wantErr: "xml: constant_variable: XML syntax error on line 1: element <value> closed by </constant_variable>",
		},
		{
			name:   "elements of another family are not kept",
			in:     `<oval_definitions><definition id="d1"/><textfilecontent54_test id="x"><object object_ref="y"/></textfilecontent54_test></oval_definitions>`,
			schema: Schema{Family: "rpminfo"},
			want: &doc{
				Definitions: []*def{{ID: "d1"}},
				Tests:       map[string]Test{}, Objects: map[string]object{}, States: map[string]state{}, Variables: map[string][]string{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read[def, Test, object, state](context.Background(), strings.NewReader(tt.in), tt.schema)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Read() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read() (-want +got):\n%s", diff)
			}
		})
	}
}

// failReader fails like a size-capped reader past its bound.
type failReader struct {
	data string
	err  error
}

func (f *failReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestReadWrapsReaderError(t *testing.T) {
	errCap := errors.New("decompressed data exceeds the size limit of 10 bytes")
	_, err := Read[def, Test, object, state](context.Background(), &failReader{data: `<oval_definitions><definition id="d1"/>`, err: errCap}, Schema{Family: "rpminfo"})
	if !errors.Is(err, errCap) || err.Error() != "xml: "+errCap.Error() {
		t.Fatalf("Read() error = %v, want xml: %v", err, errCap)
	}
}

func TestReadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Read[def, Test, object, state](ctx, strings.NewReader(sample), Schema{Family: "rpminfo"})
	if err != context.Canceled {
		t.Fatalf("Read() error = %v, want context.Canceled", err)
	}
}

// TestReadChecksContextWhileStreaming cancels after the first check and
// shows that a long document is abandoned midway.
func TestReadChecksContextWhileStreaming(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var b strings.Builder
	b.WriteString(`<oval_definitions><definition id="d1"/>`)
	for range 3 * ctxEvery {
		b.WriteString(`<x/>`)
	}
	b.WriteString(`</oval_definitions>`)
	r := &cancelAfter{r: strings.NewReader(b.String()), cancel: cancel}
	_, err := Read[def, Test, object, state](ctx, r, Schema{Family: "rpminfo"})
	if err != context.Canceled {
		t.Fatalf("Read() error = %v, want context.Canceled", err)
	}
}

type cancelAfter struct {
	r      *strings.Reader
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	c.cancel()
	if len(p) > 64 {
		p = p[:64]
	}
	return c.r.Read(p)
}

// seeds are the OVAL fixtures of the feeds that use this reader.
var seeds = []string{
	"../oracle/testdata/com.oracle.elsa-all.xml",
	"../ubuntu/testdata/oval/com.ubuntu.focal.cve.oval.xml",
}

func FuzzRead(f *testing.F) {
	for _, p := range seeds {
		b, err := os.ReadFile(filepath.FromSlash(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "rpminfo", true)
		f.Add(b, "dpkginfo", true)
	}
	f.Add([]byte(sample), "rpminfo", false)
	f.Fuzz(func(t *testing.T, data []byte, family string, vars bool) {
		d, err := Read[def, Test, object, state](context.Background(), strings.NewReader(string(data)), Schema{Family: family, Variables: vars})
		if err != nil {
			if d != nil {
				t.Fatalf("Read() = %+v with error %v", d, err)
			}
			return
		}
		if len(d.Definitions) == 0 {
			t.Fatal("Read() succeeded without a definition")
		}
		for _, x := range d.Definitions {
			if x == nil {
				t.Fatal("nil definition")
			}
		}
		checkKeys(t, d.Tests)
		checkKeys(t, d.Objects)
		checkKeys(t, d.States)
		if family == "" && len(d.Tests)+len(d.Objects)+len(d.States) > 0 {
			t.Fatalf("no family, yet kept %d tests, %d objects, %d states", len(d.Tests), len(d.Objects), len(d.States))
		}
		if !vars && len(d.Variables) > 0 {
			t.Fatalf("variables kept unasked: %v", d.Variables)
		}
	})
}

func checkKeys[E Element](t *testing.T, m map[string]E) {
	t.Helper()
	for k, e := range m {
		if e.Key() != k {
			t.Fatalf("element %+v stored under %q", e, k)
		}
	}
}
