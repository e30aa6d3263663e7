// Package oval streams an OVAL 5 definitions document (oval_definitions) for
// the feeds that publish one (Oracle ELSA, Ubuntu CVE OVAL).
//
// Read walks the document token by token with encoding/xml and decodes only
// the elements a feed asks for: every <definition>, the <F_test>, <F_object>
// and <F_state> elements of one component family F ("rpminfo", "dpkginfo"),
// and optionally the <constant_variable> elements. Everything else is
// skipped token by token, so memory grows with the kept elements, not with
// the document. Element matching is by local name; namespaces are ignored.
//
// The feed supplies the element types (struct tags decide which attributes
// and children are kept; Test is the test element every feed shares) and
// keeps its own interpretation: criteria trees, version extraction and the
// advisory mapping stay in the feed's package.
// Read does not cap the document's size: the caller passes a reader that
// fails past its bound, and that failure comes back wrapped as "xml: ...".
//
// Errors: a token error is "xml: <err>", a failed element decode is
// "xml: <element>: <err>", and a document without a definition is "no OVAL
// definitions". ctx is checked before the first token and every 4096 tokens;
// its error is returned unwrapped.
package oval

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Element is a test, object or state: Key is the OVAL id that criteria and
// tests refer to it by (normally its id attribute).
type Element interface{ Key() string }

// Test is an OVAL test element (<F_test>) as the feeds read it: the object
// it checks and the state it compares the object with (State.Ref is empty
// when the test names none; of several, the last). Tests of every family
// have this shape, so a feed passes Test as Read's T and defines only its
// family's objects and states.
type Test struct {
	ID     string `xml:"id,attr"`
	Object struct {
		Ref string `xml:"object_ref,attr"`
	} `xml:"object"`
	State struct {
		Ref string `xml:"state_ref,attr"`
	} `xml:"state"`
}

// Key is the test's id.
func (t Test) Key() string { return t.ID }

// Schema says which elements Read keeps besides the definitions.
type Schema struct {
	// Family is the component prefix: "rpminfo" keeps rpminfo_test,
	// rpminfo_object and rpminfo_state.
	Family string
	// Variables keeps the values of every constant_variable.
	Variables bool
}

// Doc is what Read kept of one document. A later element with the same Key
// replaces an earlier one.
type Doc[D any, T, O, S Element] struct {
	// Definitions are in document order.
	Definitions []*D
	Tests       map[string]T
	Objects     map[string]O
	States      map[string]S
	// Variables are the constant_variable values by id; empty unless the
	// Schema asked for them.
	Variables map[string][]string
}

type constVar struct {
	ID     string   `xml:"id,attr"`
	Values []string `xml:"value"`
}

// ctxEvery is how many tokens Read reads between checks of ctx.
const ctxEvery = 4096

// Read streams r and keeps the definitions and the elements schema names.
func Read[D any, T, O, S Element](ctx context.Context, r io.Reader, schema Schema) (*Doc[D, T, O, S], error) {
	doc := &Doc[D, T, O, S]{
		Tests:     map[string]T{},
		Objects:   map[string]O{},
		States:    map[string]S{},
		Variables: map[string][]string{},
	}
	test, object, state := schema.Family+"_test", schema.Family+"_object", schema.Family+"_state"
	dec := xml.NewDecoder(r)
	for n := 0; ; n++ {
		if n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xml: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch name := se.Name.Local; {
		case name == "definition":
			d := new(D)
			if err := decode(dec, &se, d); err != nil {
				return nil, err
			}
			doc.Definitions = append(doc.Definitions, d)
		case schema.Family != "" && name == test:
			err = keep(dec, &se, doc.Tests)
		case schema.Family != "" && name == object:
			err = keep(dec, &se, doc.Objects)
		case schema.Family != "" && name == state:
			err = keep(dec, &se, doc.States)
		case schema.Variables && name == "constant_variable":
			var v constVar
			if err = decode(dec, &se, &v); err == nil {
				doc.Variables[v.ID] = v.Values
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if len(doc.Definitions) == 0 {
		return nil, errors.New("no OVAL definitions")
	}
	return doc, nil
}

func keep[E Element](dec *xml.Decoder, se *xml.StartElement, m map[string]E) error {
	var e E
	if err := decode(dec, se, &e); err != nil {
		return err
	}
	m[e.Key()] = e
	return nil
}

func decode(dec *xml.Decoder, se *xml.StartElement, v any) error {
	if err := dec.DecodeElement(v, se); err != nil {
		return fmt.Errorf("xml: %s: %w", se.Name.Local, err)
	}
	return nil
}
