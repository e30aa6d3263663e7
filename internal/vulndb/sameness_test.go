package vulndb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// LookupDigest is what a reader of the DB can see, digested per kind of
// question, as "N answers sha256:HEX": every Lookup of a stored pair, every
// Advisory, Scores and CVSS of a stored id, every ByAlias of a stored alias,
// the namespaces and the sources' counts. A writer change that keeps it is
// invisible to the matcher, the rescans and `db status`.
//
// sample > 1 asks only the pairs, ids and aliases whose FNV-1a hash is 0
// modulo sample (the real DB has millions of rows).
type LookupDigest map[string]string

// digestLookups computes d's LookupDigest.
func digestLookups(ctx context.Context, d *DB, sample uint32) (LookupDigest, error) {
	out := LookupDigest{}
	keep := func(parts ...string) bool {
		if sample <= 1 {
			return true
		}
		h := fnv.New32a()
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		return h.Sum32()%sample == 0
	}
	type acc struct {
		h hash.Hash
		n int
	}
	accs := map[string]*acc{}
	add := func(kind, key string, v any) error {
		a := accs[kind]
		if a == nil {
			a = &acc{h: sha256.New()}
			accs[kind] = a
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, key, err)
		}
		fmt.Fprintf(a.h, "%s\x00%d\x00", key, len(b))
		a.h.Write(b)
		a.n++
		return nil
	}
	strs := func(q string) ([]string, error) {
		rows, err := d.db.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, rows.Err()
	}

	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT namespace, package FROM affected ORDER BY namespace, package`)
	if err != nil {
		return nil, err
	}
	var pairs []Pair
	for rows.Next() {
		var p Pair
		if err := rows.Scan(&p.Namespace, &p.Package); err != nil {
			rows.Close()
			return nil, err
		}
		if keep(p.Namespace, p.Package) {
			pairs = append(pairs, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, p := range pairs {
		recs, err := d.Lookup(ctx, p.Namespace, p.Package)
		if err != nil {
			return nil, err
		}
		if err := add("lookup", p.Namespace+"/"+p.Package, recs); err != nil {
			return nil, err
		}
	}
	ids, err := strs(`SELECT id FROM advisories UNION SELECT id FROM cvss ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if !keep(id) {
			continue
		}
		a, err := d.Advisory(ctx, id)
		if err != nil {
			return nil, err
		}
		s, err := d.Scores(ctx, id)
		if err != nil {
			return nil, err
		}
		c, err := d.Enrichment(ctx, id)
		if err != nil {
			return nil, err
		}
		for kind, v := range map[string]any{"advisory": a, "scores": s, "enrichment": c} {
			if err := add(kind, id, v); err != nil {
				return nil, err
			}
		}
	}
	aliases, err := strs(`SELECT DISTINCT alias FROM aliases ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	for _, al := range aliases {
		if !keep(al) {
			continue
		}
		a, err := d.ByAlias(ctx, al)
		if err != nil {
			return nil, err
		}
		if err := add("alias", al, a); err != nil {
			return nil, err
		}
	}
	nss, err := d.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	if err := add("namespaces", "", nss); err != nil {
		return nil, err
	}
	st, err := d.Status(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range st.Sources {
		s.FetchedAt, s.CheckedAt = time.Time{}, time.Time{} // the build's clock
		if err := add("status", s.Name, s); err != nil {
			return nil, err
		}
	}
	for k, a := range accs {
		out[k] = fmt.Sprintf("%d answers sha256:%s", a.n, hex.EncodeToString(a.h.Sum(nil)))
	}
	return out, nil
}

// checkGolden compares got with the JSON golden file at path (rewritten
// under -update).
func checkGolden(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("what readers see differs from %s (-want +got):\n%s", path, diff)
	}
}

// extraSource is a small second source beside the synthetic one: it
// rejects one synthetic CVE, aliases it, and carries enrichment records
// (one id twice, the newer winning) and a withdrawn record.
func extraSource(version string) *fakeUpdater {
	rej := &advisory.Advisory{ID: "CVE-2010-00010", Rejected: true, Description: "** REJECT **"}
	wd := osAdv("GHSA-wwww", "osv:PyPI", "pkg1", "1.0")
	wd.Withdrawn = day(3)
	enr := func(score float64, mod int) *advisory.Advisory {
		return &advisory.Advisory{ID: "CVE-2011-00011", Description: fmt.Sprint("enriched ", score), Modified: day(mod),
			CVSS: []advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: score, Source: "nvd"}}}
	}
	advs := []*advisory.Advisory{
		rej,
		osAdv("DSA-0001-1", "debian:12", "hot", "2.0", "CVE-2010-00010", "CVE-2011-00011"),
		enr(9.8, 2), enr(5.0, 1), wd,
		{ID: "CVE-2012-00012", Severity: severity.Severity("LOW"), Affected: []advisory.Affected{
			{Namespace: "alpine:3.20", Package: "pkg7", Status: advisory.StatusAffected, Versions: []string{"1.0-r0", "1.1-r0"}},
			{Namespace: "alpine:3.20", Package: "pkg7", Status: advisory.StatusFixed, Arches: []string{"x86_64"},
				Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: "1.2-r0"}}}}},
		}},
	}
	if version != "1" {
		advs = append(advs, osAdv("DSA-0002-1", "debian:12", "pkg9", "3.0", "CVE-2012-00012"))
	}
	return &fakeUpdater{name: "extra", version: version, advs: advs}
}

// TestLookupsUnchangedSynthetic: what readers see of a synthetic DB (the
// benchmark's generator plus a small source with rejections, aliases and
// enrichment) is the golden digest recorded with the previous writer, on
// a build from scratch and on an update that copies the synthetic source
// forward.
func TestLookupsUnchangedSynthetic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	synth := &fakeUpdater{name: "synthetic", version: "1", gen: synthetic(20_000)}
	got := map[string]any{}
	for i, extra := range []string{"1", "2"} {
		rep := mustUpdate(t, dir, synth, extraSource(extra))
		d := mustOpen(t, dir)
		dg, err := digestLookups(ctx, d, 1)
		if err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("build%d", i+1)] = map[string]any{"changed_pairs": rep.ChangedPairs, "rejected_ids": rep.RejectedIDs, "digest": dg}
	}
	checkGolden(t, filepath.Join("testdata", "lookups-synthetic.json"), got)
}
