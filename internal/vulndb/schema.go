package vulndb

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// SchemaVersion is the version of the on-disk layout and of what stored
// values mean. A DB file with another version is refused by Open and Pull
// and is not copied forward by Update (so every source is parsed afresh).
//
//	1: the first layout
//	2: affected.fix_channel (the Ubuntu Pro service that delivers a fix)
//	3: the rejected table and the sources' rejected and withdrawn counts; no
//	   record of a rejected CVE id or a withdrawn record is stored (older
//	   files may hold them, so they are not read)
//	4: sources.parts_json, the per-part record counts (feed.Stats.Parts:
//	   NVD's 2.0 and 1.1 feeds)
//	5: exploit context: the kev, epss and source_versions tables
//	   (exploit.go)
//	6: affected.digest, each row's digest in its pair's hash (rowDigest),
//	   computed as the record is prepared, so the pairs table is built from
//	   a narrow scan and copied rows keep theirs
//	7: cpe_ranges, NVD's vulnerable CPE ranges of the products the binary
//	   classifier names (cpe.go); affected.go_imports, the Go vulnerability
//	   database's vulnerable packages and symbols of an osv:Go record
//	   (advisory.SymbolImport, JSON; "" for every other row), for symbol presence
//	8: sources.coverage_json, a source's namespaces and, for a superseded
//	   source, the better source's namespaces it was not read for
//	   (coverage, supersede.go)
const SchemaVersion = 8

// The tables. Secondary indexes are created after the bulk load (indexSQL).
const schemaSQL = `
CREATE TABLE meta(
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sources(
	name       TEXT PRIMARY KEY,
	outcome    TEXT NOT NULL,
	error      TEXT NOT NULL,
	advisories INTEGER NOT NULL,
	affected   INTEGER NOT NULL,
	enrichment INTEGER NOT NULL,
	malformed  INTEGER NOT NULL,
	malformed_json TEXT NOT NULL,
	rejected   INTEGER NOT NULL,
	withdrawn  INTEGER NOT NULL,
	newest     TEXT NOT NULL,
	fetched_at TEXT NOT NULL,
	checked_at TEXT NOT NULL,
	state_json TEXT NOT NULL,
	parts_json TEXT NOT NULL,
	coverage_json TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE advisories(
	rid             INTEGER PRIMARY KEY,
` + advColsDDL + `	pairs           TEXT NOT NULL,
	digest          BLOB NOT NULL
);

CREATE TABLE affected(
	namespace TEXT NOT NULL,
	package   TEXT NOT NULL,
	advisory  INTEGER NOT NULL,
	seq       INTEGER NOT NULL,
	kind      TEXT NOT NULL,
	module    TEXT NOT NULL,
	status    TEXT NOT NULL,
	severity  TEXT NOT NULL,
	vendor_advisory TEXT NOT NULL,
	ranges    TEXT NOT NULL,
	versions  TEXT NOT NULL,
	arches    TEXT NOT NULL,
	fix_channel TEXT NOT NULL,
	go_imports TEXT NOT NULL,
	digest    BLOB NOT NULL,
	PRIMARY KEY(namespace, package, advisory, seq)
) WITHOUT ROWID;

CREATE TABLE aliases(
	alias    TEXT NOT NULL,
	advisory INTEGER NOT NULL,
	PRIMARY KEY(alias, advisory)
) WITHOUT ROWID;

CREATE TABLE cvss(
` + advColsDDL + `	PRIMARY KEY(id, source)
) WITHOUT ROWID;

CREATE TABLE rejected(
	id     TEXT NOT NULL,
	source TEXT NOT NULL,
	PRIMARY KEY(id, source)
) WITHOUT ROWID;

CREATE TABLE pairs(
	namespace TEXT NOT NULL,
	package   TEXT NOT NULL,
	records   INTEGER NOT NULL,
	hash      BLOB NOT NULL,
	PRIMARY KEY(namespace, package)
) WITHOUT ROWID;

CREATE TABLE changes(
	namespace TEXT NOT NULL,
	package   TEXT NOT NULL,
	PRIMARY KEY(namespace, package)
) WITHOUT ROWID;
`

const indexSQL = `
CREATE INDEX advisories_id ON advisories(id);
CREATE INDEX advisories_source ON advisories(source);
`

// advCols are the advisory columns shared by the advisories and cvss tables,
// in the order encodeAdvisory returns them.
const advCols = `id, source, summary, description, vendor_severity, severity, cvss, refs, aliases, published, modified, withdrawn`

// advColsDDL declares advCols in both tables' CREATE TABLE.
const advColsDDL = `	id              TEXT NOT NULL,
	source          TEXT NOT NULL,
	summary         TEXT NOT NULL,
	description     TEXT NOT NULL,
	vendor_severity TEXT NOT NULL,
	severity        TEXT NOT NULL,
	cvss            TEXT NOT NULL,
	refs            TEXT NOT NULL,
	aliases         TEXT NOT NULL,
	published       TEXT NOT NULL,
	modified        TEXT NOT NULL,
	withdrawn       TEXT NOT NULL,
`

// timeFormat is fixed-width UTC so that stored times compare as strings.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeFormat, s)
}

// jsonList encodes a list as JSON, and an empty list as "".
func jsonList[T any](v []T) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func decodeList[T any](s string) ([]T, error) {
	if s == "" {
		return nil, nil
	}
	var v []T
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// encodeParts and decodeParts store feed.Stats.Parts ("" when empty).
func encodeParts(parts map[string]int) (string, error) {
	if len(parts) == 0 {
		return "", nil
	}
	b, err := json.Marshal(parts)
	return string(b), err
}

func decodeParts(s string) (map[string]int, error) {
	if s == "" {
		return nil, nil
	}
	var v map[string]int
	err := json.Unmarshal([]byte(s), &v)
	return v, err
}

// encodeAdvisory returns the values of advCols for a.
func encodeAdvisory(a *advisory.Advisory) ([]any, error) {
	cvss, err := jsonList(a.CVSS)
	if err != nil {
		return nil, err
	}
	refs, err := jsonList(a.References)
	if err != nil {
		return nil, err
	}
	aliases, err := jsonList(a.Aliases)
	if err != nil {
		return nil, err
	}
	return []any{a.ID, a.Source, a.Summary, a.Description, a.VendorSeverity, string(a.Severity),
		cvss, refs, aliases, fmtTime(a.Published), fmtTime(a.Modified), fmtTime(a.Withdrawn)}, nil
}

// advRow is the scanned form of advCols.
type advRow struct {
	id, source, summary, description, vendorSeverity, severity string
	cvss, refs, aliases, published, modified, withdrawn        string
}

func (r *advRow) dest() []any {
	return []any{&r.id, &r.source, &r.summary, &r.description, &r.vendorSeverity, &r.severity,
		&r.cvss, &r.refs, &r.aliases, &r.published, &r.modified, &r.withdrawn}
}

// values are the row's columns as encodeAdvisory returns them, the input
// of the advisory digest.
func (r *advRow) values() []any {
	return []any{r.id, r.source, r.summary, r.description, r.vendorSeverity, r.severity,
		r.cvss, r.refs, r.aliases, r.published, r.modified, r.withdrawn}
}

func (r *advRow) advisory() (*advisory.Advisory, error) {
	a := &advisory.Advisory{ID: r.id, Source: r.source, Summary: r.summary, Description: r.description,
		VendorSeverity: r.vendorSeverity, Severity: severity.Severity(r.severity)}
	var err error
	if a.CVSS, err = decodeList[advisory.CVSS](r.cvss); err != nil {
		return nil, fmt.Errorf("advisory %s: cvss: %w", r.id, err)
	}
	if a.References, err = decodeList[string](r.refs); err != nil {
		return nil, fmt.Errorf("advisory %s: references: %w", r.id, err)
	}
	if a.Aliases, err = decodeList[string](r.aliases); err != nil {
		return nil, fmt.Errorf("advisory %s: aliases: %w", r.id, err)
	}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{r.published, &a.Published}, {r.modified, &a.Modified}, {r.withdrawn, &a.Withdrawn}} {
		if *p.t, err = parseTime(p.s); err != nil {
			return nil, fmt.Errorf("advisory %s: %w", r.id, err)
		}
	}
	return a, nil
}

// qualify prefixes each column of a column list with table.
func qualify(table, cols string) string {
	return table + "." + strings.ReplaceAll(cols, ", ", ", "+table+".")
}

// affCols are the per-package columns of the affected table after the key.
const affCols = `kind, module, status, severity, vendor_advisory, ranges, versions, arches, fix_channel, go_imports`

func encodeAffected(f *advisory.Affected) ([]any, error) {
	ranges, err := jsonList(f.Ranges)
	if err != nil {
		return nil, err
	}
	versions, err := jsonList(f.Versions)
	if err != nil {
		return nil, err
	}
	arches, err := jsonList(f.Arches)
	if err != nil {
		return nil, err
	}
	goImports, err := jsonList(f.SymbolImports)
	if err != nil {
		return nil, err
	}
	return []any{string(f.Kind), f.Module, string(f.Status), string(f.Severity), f.Advisory, ranges, versions, arches, string(f.FixChannel), goImports}, nil
}

type affRow struct {
	namespace, pkg                                 string
	kind, module, status, severity, vendorAdvisory string
	ranges, versions, arches, fixChannel           string
	goImports                                      string
}

func (r *affRow) dest() []any {
	return []any{&r.namespace, &r.pkg, &r.kind, &r.module, &r.status, &r.severity, &r.vendorAdvisory, &r.ranges, &r.versions, &r.arches, &r.fixChannel, &r.goImports}
}

// values are the row's affCols as encodeAffected returns them.
func (r *affRow) values() []any {
	return []any{r.kind, r.module, r.status, r.severity, r.vendorAdvisory, r.ranges, r.versions, r.arches, r.fixChannel, r.goImports}
}

func (r *affRow) affected() (advisory.Affected, error) {
	f := advisory.Affected{Namespace: r.namespace, Package: r.pkg, Kind: advisory.PackageKind(r.kind),
		Module: r.module, Status: advisory.Status(r.status), Severity: severity.Severity(r.severity), Advisory: r.vendorAdvisory,
		FixChannel: advisory.FixChannel(r.fixChannel)}
	var err error
	if f.Ranges, err = decodeList[advisory.Range](r.ranges); err != nil {
		return f, fmt.Errorf("affected %s/%s: ranges: %w", r.namespace, r.pkg, err)
	}
	if f.Versions, err = decodeList[string](r.versions); err != nil {
		return f, fmt.Errorf("affected %s/%s: versions: %w", r.namespace, r.pkg, err)
	}
	if f.Arches, err = decodeList[string](r.arches); err != nil {
		return f, fmt.Errorf("affected %s/%s: arches: %w", r.namespace, r.pkg, err)
	}
	if f.SymbolImports, err = decodeList[advisory.SymbolImport](r.goImports); err != nil {
		return f, fmt.Errorf("affected %s/%s: go_imports: %w", r.namespace, r.pkg, err)
	}
	return f, nil
}

// digest hashes a list of stored values unambiguously (length-prefixed).
// It is used for the advisory digest and for the per-pair hashes behind
// ChangedPairs.
func digest(vals ...any) []byte {
	var buf [512]byte
	h := sha256.Sum256(appendDigestInput(buf[:0], vals))
	return h[:16]
}

// appendDigestInput appends what digest hashes for vals.
func appendDigestInput(buf []byte, vals []any) []byte {
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			buf = appendPrefixed(buf, v)
		case []byte:
			buf = appendPrefixed(buf, v)
		case int64:
			buf = binary.BigEndian.AppendUint64(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, uint64(v))
		default:
			buf = appendPrefixed(buf, fmt.Append(nil, v))
		}
	}
	return buf
}

// appendPrefixed appends b after its length (8 bytes, big-endian).
func appendPrefixed[T string | []byte](buf []byte, b T) []byte {
	return append(binary.BigEndian.AppendUint64(buf, uint64(len(b))), b...)
}
