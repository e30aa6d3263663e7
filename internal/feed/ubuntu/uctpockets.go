package ubuntu

import (
	"fmt"
	"sort"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// uctEntry is one package's entry in one pocket of a tracker record
// ("packages": {POCKET: {NAME: {...}}}), with the release the pocket
// belongs to and its rank among that release's pockets (-1: the release's
// own pocket; else esmPocket's rank).
type uctEntry struct {
	pocket, rel, name string
	rank              int
	pkg               uctPkg
	// gen counts the pocket's occurrences before this entry's (a pocket
	// given again replaces the earlier one: only its last gen is kept).
	gen int
}

// uctPockets is a record's "packages", read as a stream: only the pockets
// of known releases (their own and their ESM pockets) are decoded, into one
// flat list; the others ("upstream", "devel", snaps, unknown releases) are
// skipped unread, as convertUCT ignored them. It means what decoding into
// map[string]map[string]uctPkg meant: null is no entries, a pocket or a
// package given twice is the later one, a package's fields keep
// encoding/json's rules (uctPkg is decoded with the caller's options).
// What differs: a wrong type inside a skipped pocket no longer rejects the
// record (TestUCTPocketsStream).
type uctPockets []uctEntry

// pocketRelease returns the release a pocket key belongs to and its rank
// (-1 for the release's own pocket), or ok false for pockets convertUCT
// does not read.
func pocketRelease(key string) (rel string, rank int, ok bool) {
	if _, known := releases[key]; known {
		return key, -1, true
	}
	rel, rank, ok = esmPocket(key)
	if _, known := releases[rel]; !ok || !known {
		return "", 0, false
	}
	return rel, rank, true
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom. A second "packages"
// member (another case of the name) adds to the first, as a map did.
func (ps *uctPockets) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch k := dec.PeekKind(); k {
	case 'n':
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		*ps = nil
		return nil
	case '{':
	default:
		_ = dec.SkipValue()
		return fmt.Errorf("packages: want an object, not %v", k)
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	out := *ps
	// gens is each pocket's latest occurrence; a record names tens of
	// pockets, a hostile one may repeat them: the entries of replaced
	// occurrences are dropped once, at the end (linear in the entries).
	gens := map[string]int{}
	for _, e := range out {
		gens[e.pocket] = e.gen
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		pocket := tok.String()
		rel, rank, ok := pocketRelease(pocket)
		if !ok {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		gen, again := gens[pocket]
		if again {
			gen++
		}
		gens[pocket] = gen
		switch k := dec.PeekKind(); k {
		case 'n':
			if _, err := dec.ReadToken(); err != nil {
				return err
			}
			continue
		case '{':
		default:
			_ = dec.SkipValue()
			return fmt.Errorf("packages: pocket %q: want an object, not %v", pocket, k)
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		first := len(out)
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return err
			}
			e := uctEntry{pocket: pocket, rel: rel, rank: rank, name: tok.String(), gen: gen}
			if err := json.UnmarshalDecode(dec, &e.pkg); err != nil {
				return err
			}
			out = append(out, e)
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		out = append(out[:first], lastByName(out[first:])...)
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	kept := out[:0]
	for _, e := range out {
		if e.gen == gens[e.pocket] {
			kept = append(kept, e)
		}
	}
	*ps = kept
	return nil
}

// lastByName keeps, of one pocket's entries, the last of each name (sorted
// by name: a pocket with many names costs n log n, not n²).
func lastByName(es []uctEntry) []uctEntry {
	sort.SliceStable(es, func(i, j int) bool { return es[i].name < es[j].name })
	kept := es[:0]
	for i, e := range es {
		if i+1 < len(es) && es[i+1].name == e.name {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}
