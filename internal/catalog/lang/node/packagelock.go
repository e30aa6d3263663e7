package node

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langutil"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParsePackageLock parses a package-lock.json or npm-shrinkwrap.json of any
// lockfile version with a streaming token walk: only one key or scalar is
// held at a time besides the packages found. An entry of the wrong shape is
// skipped with a warning; a package without a version is kept with an
// empty version and a warning.
func ParsePackageLock(r io.Reader) ([]inventory.Package, []string, error) {
	pkgs, _, warns, err := parsePackageLock(r)
	return pkgs, warns, err
}

// parsePackageLock is ParsePackageLock with the dependency graph: v2/v3
// resolve each entry's dependencies, optionalDependencies and
// peerDependencies names the way Node does (the nearest enclosing
// node_modules folder that holds the name), with the root "" entry's and
// workspace folders' as the project's direct dependencies; v1 resolves
// each entry's "requires" through the nested dependencies scopes and
// records no root edges (the project's own dependencies are in its
// package.json), so the packages nothing requires count as direct.
func parsePackageLock(r io.Reader) ([]inventory.Package, []inventory.Relationship, []string, error) {
	w := walker{dec: json.NewDecoder(r), seed: maphash.MakeSeed()}
	pkgs, err := w.lock()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse package-lock: %w", err)
	}
	return pkgs, w.edges.List(), w.warns.Strings(""), nil
}

type walker struct {
	dec   *json.Decoder
	warns warn.List
	edges inventory.Edges
	// The v2/v3 "packages" entries, held compactly (a lockfile may have
	// hundreds of thousands): each entry's folder chain as hashes, its
	// package and its set of dependency names.
	seed    maphash.Seed
	v2      []v2Entry
	chains  []uint64         // every entry's chain, one after the other
	byHash  map[uint64]int32 // folder hash: index into v2
	depSets [][]string
	depSet  map[string]int32 // the names joined by NUL: index into depSets
	names   map[string]string
	depBuf  []string // the entry being read's dependency names
	keyBuf  []byte
}

// v2Entry is one v2/v3 packages entry.
type v2Entry struct {
	// chains[chain:chain+depth] hashes the folders Node searches from
	// this entry for a dependency, innermost (the entry's own) last: its
	// node_modules folders and, for an entry under a workspace, the
	// workspace folder. Empty for the root entry.
	chain int32
	depth uint16
	ok    bool  // a package (not a link, the root or a workspace)
	local bool  // the root project or a workspace folder
	pkg   int32 // index into the package set's list when ok
	deps  int32 // index into depSets
}

// lockEntry is one v1 dependencies node.
type lockEntry struct {
	ref      inventory.PackageRef
	ok       bool     // a package (not a link)
	deps     []string // names it requires
	parent   *lockEntry
	children map[string]*lockEntry // its nested dependencies
}

// folderHash hashes the folder name inside the folder hashed as parent.
func (w *walker) folderHash(parent uint64, name string) uint64 {
	var h maphash.Hash
	h.SetSeed(w.seed)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], parent)
	h.Write(b[:])
	h.WriteString(name)
	return h.Sum64()
}

// keyChain is the folder chain of a packages key (see v2Entry.chain);
// local reports a key outside node_modules (the root, a workspace).
func (w *walker) keyChain(key string) (start int32, depth uint16, local bool) {
	start = int32(len(w.chains))
	if key == "" {
		return start, 0, true
	}
	base, rest := key, ""
	if strings.HasPrefix(key, "node_modules/") {
		base, rest = "", key[len("node_modules/"):]
	} else if i := strings.Index(key, "/node_modules/"); i >= 0 {
		base, rest = key[:i], key[i+len("/node_modules/"):]
	}
	var h uint64
	if base != "" {
		h = w.folderHash(0, "\x00"+base)
		w.chains = append(w.chains, h)
		depth++
	}
	if rest == "" {
		return start, depth, true
	}
	for n := range strings.SplitSeq(rest, "/node_modules/") {
		if depth >= MaxDepth {
			break
		}
		h = w.folderHash(h, n)
		w.chains = append(w.chains, h)
		depth++
	}
	return start, depth, false
}

// internDeps returns the index of the set of names (sorted; the slice
// is reused by the caller).
func (w *walker) internDeps(names []string) int32 {
	w.keyBuf = w.keyBuf[:0]
	for i, n := range names {
		if i > 0 {
			w.keyBuf = append(w.keyBuf, 0)
		}
		w.keyBuf = append(w.keyBuf, n...)
	}
	if id, ok := w.depSet[string(w.keyBuf)]; ok { // no allocation
		return id
	}
	if w.depSet == nil {
		w.depSet = map[string]int32{}
	}
	id := int32(len(w.depSets))
	w.depSets = append(w.depSets, slices.Clone(names))
	w.depSet[string(w.keyBuf)] = id
	return id
}

// intern returns the walker's copy of the name b spells.
func (w *walker) intern(b []byte) string {
	if s, ok := w.names[string(b)]; ok { // no allocation
		return s
	}
	if w.names == nil {
		w.names = map[string]string{}
	}
	s := string(b)
	w.names[s] = s
	return s
}

// depKeys decodes a dependencies-like object into the names it lists
// (appended to *names), without copying it or decoding its values; a
// value of another shape adds nothing.
type depKeys struct {
	w     *walker
	names *[]string
}

// UnmarshalJSON implements json.Unmarshaler. The decoder hands it one
// complete, valid JSON value.
func (d depKeys) UnmarshalJSON(b []byte) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	for i = skipSpace(b, i+1); i < len(b) && b[i] == '"'; i = skipSpace(b, i) {
		end, escaped := stringEnd(b, i)
		if end < 0 {
			return nil
		}
		if escaped {
			var s string
			if json.Unmarshal(b[i:end], &s) != nil {
				return nil
			}
			*d.names = append(*d.names, d.w.intern([]byte(s)))
		} else {
			*d.names = append(*d.names, d.w.intern(b[i+1:end-1]))
		}
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return nil
		}
		if i = valueEnd(b, skipSpace(b, i+1)); i < 0 {
			return nil
		}
		if i = skipSpace(b, i); i < len(b) && b[i] == ',' {
			i++
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] ('"'),
// and whether it holds an escape; -1 when it does not end.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// valueEnd returns the index after the JSON value starting at b[i], or -1.
func valueEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			end, _ := stringEnd(b, i)
			if end < 0 {
				return -1
			}
			i = end
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	if depth == 0 {
		return i
	}
	return -1
}

func (w *walker) lock() ([]inventory.Package, error) {
	if err := w.delim('{'); err != nil {
		return nil, err
	}
	var (
		packages, deps  set
		v1root          lockEntry
		sawPackages     bool
		sawDependencies bool
		sawVersion      bool
	)
	for w.dec.More() {
		key, err := w.key()
		if err != nil {
			return nil, err
		}
		switch key {
		case "lockfileVersion":
			var v json.Number
			if err := w.dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("lockfileVersion: %w", err)
			}
			sawVersion = true
		case "packages":
			sawPackages = true
			if err := w.packages(&packages); err != nil {
				return nil, fmt.Errorf("packages: %w", err)
			}
		case "dependencies":
			sawDependencies = true
			if err := w.dependencies(&deps, &v1root, 0); err != nil {
				return nil, fmt.Errorf("dependencies: %w", err)
			}
		default:
			if err := w.skip(); err != nil {
				return nil, fmt.Errorf("%s: %w", trunc(key), err)
			}
		}
	}
	if err := w.delim('}'); err != nil {
		return nil, err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return nil, errors.New("data after the top-level object")
	}
	if !sawPackages && !sawDependencies && !sawVersion {
		return nil, errors.New("no lockfileVersion, packages or dependencies: not a package-lock")
	}
	if sawPackages {
		w.resolvePackages(&packages)
		return packages.list, nil
	}
	w.resolveV1(&v1root)
	return deps.list, nil
}

// sortedNames sorts names and drops repeats, in place.
func sortedNames(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}

// depNames reads the names of a dependencies-like object, ignoring a
// value of another shape.
func depNames(raws ...json.RawMessage) []string {
	var names []string
	for _, raw := range raws {
		var m map[string]json.RawMessage
		if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
			continue
		}
		for k := range m {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// resolvePackages turns the v2/v3 entries' dependency names into edges:
// each name is looked up in the entry's own node_modules folder, then in
// each enclosing one, up to the project's.
func (w *walker) resolvePackages(set *set) {
	for _, e := range w.v2 {
		if !e.ok && !e.local {
			continue // a link: its folder's own entry has the edges
		}
		var from inventory.PackageRef // the root project or a workspace
		if !e.local {
			from = inventory.RefOf(set.list[e.pkg])
		}
		chain := w.chains[e.chain : e.chain+int32(e.depth)]
		for _, d := range w.depSets[e.deps] {
			for j := len(chain); j >= 0; j-- {
				var parent uint64
				if j > 0 {
					parent = chain[j-1]
				}
				if i, ok := w.byHash[w.folderHash(parent, d)]; ok {
					if t := w.v2[i]; t.ok {
						w.edges.Add(from, inventory.RefOf(set.list[t.pkg]))
					}
					break
				}
			}
		}
	}
}

// resolveV1 turns the v1 tree's requires into edges: each name is looked
// up in the node's own nested dependencies, then its ancestors'.
func (w *walker) resolveV1(root *lockEntry) {
	var walk func(n *lockEntry)
	walk = func(n *lockEntry) {
		names := make([]string, 0, len(n.children))
		for k := range n.children {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			c := n.children[k]
			if c.ok {
				for _, d := range c.deps {
					for s := c; s != nil; s = s.parent {
						if t := s.children[d]; t != nil {
							if t.ok {
								w.edges.Add(c.ref, t.ref)
							}
							break
						}
					}
				}
			}
			walk(c)
		}
	}
	walk(root)
}

// packages walks the v2/v3 "packages" map.
func (w *walker) packages(s *set) error {
	if err := w.delim('{'); err != nil {
		return err
	}
	for w.dec.More() {
		key, err := w.key()
		if err != nil {
			return err
		}
		// One entry is small and flat; decoding it whole is much faster
		// than a token walk and holds only that entry. Decode reads the
		// whole value before converting it, so an entry of the wrong type
		// leaves the stream at the next key.
		var e struct {
			Name                 json.RawMessage `json:"name"`
			Version              json.RawMessage `json:"version"`
			Link                 json.RawMessage `json:"link"`
			Dependencies         depKeys         `json:"dependencies"`
			OptionalDependencies depKeys         `json:"optionalDependencies"`
			PeerDependencies     depKeys         `json:"peerDependencies"`
		}
		w.depBuf = w.depBuf[:0]
		dk := depKeys{w: w, names: &w.depBuf}
		e.Dependencies, e.OptionalDependencies, e.PeerDependencies = dk, dk, dk
		if err := w.dec.Decode(&e); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return fmt.Errorf("%q: %w", trunc(key), err)
			}
			w.warns.Addf("packages: %q: not an object; skipped", trunc(key))
			continue
		}
		start, depth, local := w.keyChain(key)
		w.v2 = append(w.v2, v2Entry{chain: start, depth: depth, local: local, deps: w.internDeps(sortedNames(w.depBuf))})
		le := &w.v2[len(w.v2)-1]
		if !local && depth > 0 {
			if w.byHash == nil {
				w.byHash = map[uint64]int32{}
			}
			w.byHash[w.chains[start+int32(depth)-1]] = int32(len(w.v2) - 1)
		}
		i := strings.LastIndex(key, "node_modules/")
		if i < 0 || string(bytes.TrimSpace(e.Link)) == "true" {
			continue // the root project, a workspace folder or a link to one
		}
		name, ok := langutil.JSONText(e.Name)
		if !ok || name == "" {
			name = key[i+len("node_modules/"):]
		}
		version, ok := langutil.JSONText(e.Version)
		if !ok {
			w.warns.Addf("packages: %q: \"version\" is not a string; kept with an empty version", trunc(key))
		}
		if _, ok := w.addVersion(s, "packages: "+strconv.Quote(trunc(key)), name, version); ok {
			le.ok, le.pkg = true, int32(s.seen[[2]string{s.last.Name, s.last.Version}])
		}
	}
	return w.delim('}')
}

// dependencies walks a v1 "dependencies" tree.
func (w *walker) dependencies(s *set, parent *lockEntry, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("dependencies nested more than %d deep", MaxDepth)
	}
	if err := w.delim('{'); err != nil {
		return err
	}
	for w.dec.More() {
		name, err := w.key()
		if err != nil {
			return err
		}
		t, err := w.token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); !ok || d != '{' {
			if err := w.skipFrom(t); err != nil {
				return err
			}
			w.warns.Addf("dependencies: %q: not an object; skipped", trunc(name))
			continue
		}
		var version string
		node := &lockEntry{parent: parent}
		if parent.children == nil {
			parent.children = map[string]*lockEntry{}
		}
		parent.children[name] = node
		err = w.fields(func(k string) error {
			var err error
			switch k {
			case "version":
				var ok bool
				if version, ok, err = w.scalar(); err == nil && !ok {
					w.warns.Addf("dependencies: %q: \"version\" is not a string; kept with an empty version", trunc(name))
				}
			case "requires":
				var raw json.RawMessage
				if err = w.dec.Decode(&raw); err == nil {
					node.deps = depNames(raw)
				}
			case "dependencies":
				err = w.dependencies(s, node, depth+1)
			default:
				err = w.skip()
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("%q: %w", trunc(name), err)
		}
		node.ref, node.ok = w.addVersion(s, "dependencies: "+strconv.Quote(trunc(name)), name, version)
	}
	return w.delim('}')
}

// addVersion adds name@version, resolving npm aliases and skipping
// references to the project's own folders. where names the entry in
// warnings.
func (w *walker) addVersion(s *set, where, name, version string) (inventory.PackageRef, bool) {
	version = strings.TrimSpace(version)
	if real, ok := strings.CutPrefix(version, "npm:"); ok {
		if n, v, ok := splitNameVersion(real); ok {
			name, version = n, v
		}
	}
	switch {
	case name == "":
		w.warns.Addf("%s: no package name; skipped", where)
		return inventory.PackageRef{}, false
	case localReference(version):
		return inventory.PackageRef{}, false
	case version == "":
		w.warns.Addf("%s: no version; kept with an empty version", where)
	}
	return s.add(name, version), true
}

// fields walks the rest of a JSON object whose opening '{' has been read,
// calling field for each key with the decoder positioned at the value;
// field must consume the value.
func (w *walker) fields(field func(key string) error) error {
	for w.dec.More() {
		k, err := w.key()
		if err != nil {
			return err
		}
		if err := field(k); err != nil {
			return fmt.Errorf("%s: %w", trunc(k), err)
		}
	}
	return w.delim('}')
}

// scalar reads one value: a string (trimmed) or a number as written; any
// other value is consumed and gives ok false. null reads as "".
func (w *walker) scalar() (s string, ok bool, err error) {
	t, err := w.token()
	if err != nil {
		return "", false, err
	}
	switch v := t.(type) {
	case string:
		return strings.TrimSpace(v), true, nil
	case json.Number:
		return v.String(), true, nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), true, nil
	case nil:
		return "", true, nil
	}
	return "", false, w.skipFrom(t)
}

func (w *walker) token() (json.Token, error) {
	t, err := w.dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return t, err
}

func (w *walker) delim(want json.Delim) error {
	t, err := w.token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v at offset %d", want, describe(t), w.dec.InputOffset())
	}
	return nil
}

func (w *walker) key() (string, error) {
	t, err := w.token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("want an object key, got %v at offset %d", describe(t), w.dec.InputOffset())
	}
	return s, nil
}

// skip consumes one value of any shape without keeping it.
func (w *walker) skip() error {
	t, err := w.token()
	if err != nil {
		return err
	}
	return w.skipFrom(t)
}

// skipFrom consumes the rest of the value whose first token is t.
func (w *walker) skipFrom(t json.Token) error {
	depth := 0
	for {
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if t, err = w.token(); err != nil {
			return err
		}
	}
}

func describe(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("string %q", trunc(v))
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T %v", v, v)
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
