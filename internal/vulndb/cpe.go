package vulndb

import (
	"context"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// CPE ranges (schema 7): an NVD record's vulnerable cpeMatch entries for
// the products the binary classifier names (advisory.Advisory.CPE) are
// stored beside its cvss row, one row per entry, keyed by the CPE
// "vendor:product". The rows carry the record's modified time: of several
// records of one CVE and source (NVD's yearly and modified feeds), only
// the rows of the one the cvss table kept (the most recently modified) are
// read. Lookup in namespace advisory.CPENamespace reads them as affected
// entries (see lookupCPE), and each product with ranges is a pair of the
// pairs table (writeCPEPairs), so that rescans see its changes.
const cpeSchemaSQL = `
CREATE TABLE cpe_ranges(
	cpe        TEXT NOT NULL,
	cve        TEXT NOT NULL,
	source     TEXT NOT NULL,
	modified   TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	version    TEXT NOT NULL,
	start      TEXT NOT NULL,
	start_excl INTEGER NOT NULL,
	end_       TEXT NOT NULL,
	end_incl   INTEGER NOT NULL,
	PRIMARY KEY (cpe, cve, source, modified, seq)
) WITHOUT ROWID;
`

// cpeRows encodes a's CPE ranges, reporting the invalid ones as malformed.
func cpeRows(source string, a *advisory.Advisory, p *prepared) [][]any {
	var out [][]any
	for i, r := range a.CPE {
		if err := r.Valid(); err != nil {
			p.malformed = append(p.malformed, feed.Malformed{ID: a.ID, Err: fmt.Sprintf("vulndb: cpe[%d]: %v", i, err)})
			continue
		}
		out = append(out, []any{r.CPE.String(), a.ID, source, fmtTime(a.Modified), int64(i), r.Version, r.Start, boolInt(r.StartExcluding), r.End, boolInt(r.EndIncluding)})
	}
	return out
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// cpeCopyQuery copies the CPE rows of the sources in temp.copysrc.
const cpeCopyQuery = `INSERT INTO cpe_ranges SELECT * FROM prev.cpe_ranges WHERE source IN (SELECT name FROM copysrc)`

// cpeDeleteQuery removes what a failed Parse of source (?2) stored.
const cpeDeleteQuery = `DELETE FROM cpe_ranges WHERE source = ?2`

// cpeLookupSQL reads one CPE's ranges with their records.
const cpeLookupSQL = `SELECT r.version, r.start, r.start_excl, r.end_, r.end_incl, ` + `c.id, c.source, c.summary, c.description, c.vendor_severity, c.severity, c.cvss, c.refs, c.aliases, c.published, c.modified, c.withdrawn` + `
	FROM cpe_ranges r JOIN cvss c ON c.id = r.cve AND c.source = r.source AND c.modified = r.modified
	WHERE r.cpe = ? ORDER BY r.cve, r.source, r.seq`

// lookupCPE returns the records of a classified product (by its inventory
// name, advisory.CPEProductNamed): one affected entry per CVE and CPE,
// with one range per cpeMatch entry:
//
//   - versionStartIncluding S is an introduced S, versionStartExcluding S
//     an introduced advisory.CPEAboveMark+S (version.CPE orders it just
//     above S), no start an introduced "0";
//   - versionEndExcluding E is a fixed E, versionEndIncluding E a
//     last_affected E, no end leaves the range open;
//   - an exact version is an entry of Versions; an entry with neither
//     affects every version.
//
// The status is fixed when some range ends with a fix, else affected.
func (d *DB) lookupCPE(ctx context.Context, pkg string) ([]Record, error) {
	prod, ok := advisory.CPEProductNamed(pkg)
	if !ok {
		return nil, nil
	}
	var out []Record
	seen := map[string]bool{}
	for _, c := range prod.CPEs {
		recs, err := d.lookupOneCPE(ctx, pkg, c)
		if err != nil {
			return nil, fmt.Errorf("vulndb: lookup %s/%s (%s): %w", advisory.CPENamespace, pkg, c, err)
		}
		for _, r := range recs {
			// A CVE listed under two CPEs of one product (haxx:curl and
			// haxx:libcurl) is one record.
			if seen[r.Advisory.ID] {
				continue
			}
			seen[r.Advisory.ID] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func (d *DB) lookupOneCPE(ctx context.Context, pkg string, c advisory.CPE) ([]Record, error) {
	rows, err := d.cpeByProduct.QueryContext(ctx, c.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	var cur *Record
	for rows.Next() {
		var ver, start, end string
		var startExcl, endIncl int64
		var a advRow
		if err := rows.Scan(append([]any{&ver, &start, &startExcl, &end, &endIncl}, a.dest()...)...); err != nil {
			return nil, err
		}
		if cur == nil || cur.Advisory.ID != a.id || cur.Advisory.Source != a.source {
			adv, err := a.advisory()
			if err != nil {
				return nil, err
			}
			out = append(out, Record{Advisory: adv, Affected: advisory.Affected{
				Namespace: advisory.CPENamespace, Package: pkg, Kind: advisory.KindLanguage, Status: advisory.StatusAffected,
			}})
			cur = &out[len(out)-1]
		}
		addCPERange(&cur.Affected, ver, start, startExcl != 0, end, endIncl != 0)
	}
	return out, rows.Err()
}

// addCPERange adds one stored range to f (see lookupCPE).
func addCPERange(f *advisory.Affected, ver, start string, startExcl bool, end string, endIncl bool) {
	if ver != "" {
		f.Versions = append(f.Versions, ver)
		return
	}
	var r advisory.Range
	switch {
	case start == "":
		r.Events = append(r.Events, advisory.Event{Introduced: "0"})
	case startExcl:
		r.Events = append(r.Events, advisory.Event{Introduced: advisory.CPEAboveMark + start})
	default:
		r.Events = append(r.Events, advisory.Event{Introduced: start})
	}
	switch {
	case end == "":
	case endIncl:
		r.Events = append(r.Events, advisory.Event{LastAffected: end})
	default:
		r.Events = append(r.Events, advisory.Event{Fixed: end})
		f.Status = advisory.StatusFixed
	}
	f.Ranges = append(f.Ranges, r)
}
