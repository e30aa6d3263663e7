package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// ErrSchema is returned when a DB file has another schema version.
var ErrSchema = errors.New("unsupported DB schema version")

// Record is one affected entry with its advisory. It has the same fields as
// match.Candidate, so a []Record converts element-wise with a plain
// conversion. Advisory.Affected is left empty, and records of one advisory
// returned by one call share the *Advisory: treat it as read-only.
type Record struct {
	Advisory *advisory.Advisory
	Affected advisory.Affected
}

// Pair is one (namespace, package) key of the DB.
type Pair struct {
	Namespace string `json:"namespace"`
	Package   string `json:"package"`
}

// DB is a read-only handle on one DB file. It is safe for concurrent use.
// The file it opened stays readable for the handle's lifetime even when an
// update replaces and deletes it.
type DB struct {
	db            *sql.DB
	path          string
	buildID       string
	builtAt       time.Time
	previousBuild string
	changesOK     bool

	lookup, affOf, advByID, advByAlias, cvssByID *sql.Stmt
	// pairsOf reads the (namespace, package) pairs of one source's records
	// of an id (Judges).
	pairsOf *sql.Stmt
	// exploitByID reads a CVE's KEV entry and EPSS score (exploit.go).
	exploitByID *sql.Stmt
	// cpeByProduct reads one CPE's ranges (cpe.go).
	cpeByProduct *sql.Stmt
}

// OpenOptions tune how a handle reads its file.
type OpenOptions struct {
	// NoMmap reads the file's pages with pread(2) into SQLite's page cache
	// (its default 2 MiB per connection) instead of memory-mapping the
	// file. Mapped pages count in the process's resident set for as long as
	// the handle is open: one scan of an image with 1,500 findings maps
	// 200–300 MiB of the 770 MiB file. A long-running server, which should
	// stay small, sets it; it costs a few percent more CPU (the copies and
	// system calls), and the kernel's page cache still holds the pages.
	NoMmap bool
}

// Open opens the current DB of a directory (following CURRENT) or a DB file
// given by path. The connections are opened eagerly and never recycled, so
// the handle keeps reading the file it opened even after an update removes
// it. The file is memory-mapped (see OpenOptions).
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, OpenOptions{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, o OpenOptions) (*DB, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("vulndb: open %s: %w", path, ErrNoDB)
		}
		return nil, fmt.Errorf("vulndb: open: %w", err)
	}
	if !fi.IsDir() {
		return openFile(ctx, path, o)
	}
	// CURRENT may move on between reading it and opening the file it names
	// (a concurrent update's gc); retry with the new name.
	var lastErr error
	for range 5 {
		name, err := readCurrent(path)
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, fmt.Errorf("vulndb: open %s: %w", path, ErrNoDB)
		}
		db, err := openFile(ctx, filepath.Join(path, name), o)
		if err == nil {
			return db, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, lastErr
}

func openFile(ctx context.Context, path string, o OpenOptions) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("vulndb: open: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("vulndb: open: %w", err)
	}
	// Published files are never modified, so immutable=1 is true and spares
	// all locking.
	mmap := "17179869184"
	if o.NoMmap {
		mmap = "0"
	}
	sdb, err := sql.Open("sqlite", sqliteURI(abs, "mode=ro&immutable=1&_pragma=query_only(1)&_pragma=mmap_size("+mmap+")"))
	if err != nil {
		return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
	}
	n := min(max(runtime.GOMAXPROCS(0), 2), 8)
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)
	d := &DB{db: sdb, path: abs}
	conns := make([]*sql.Conn, 0, n)
	for range n {
		c, err := sdb.Conn(ctx)
		if err == nil {
			err = c.PingContext(ctx)
		}
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			sdb.Close()
			return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close() // back to the pool, where it stays
	}
	if err := d.init(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("vulndb: open %s: %w", path, err)
	}
	return d, nil
}

func (d *DB) init(ctx context.Context) error {
	meta := map[string]string{}
	rows, err := d.db.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return fmt.Errorf("meta: %w (not a stowaway DB?)", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return fmt.Errorf("meta: %w", err)
		}
		meta[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	if v := meta["schema_version"]; v != strconv.Itoa(SchemaVersion) {
		return fmt.Errorf("%w: file has %q, this build reads %d", ErrSchema, v, SchemaVersion)
	}
	d.buildID = meta["build_id"]
	d.previousBuild = meta["previous_build"]
	d.changesOK = meta["changes_complete"] == "true"
	if d.builtAt, err = parseTime(meta["built_at"]); err != nil {
		return fmt.Errorf("meta: built_at: %w", err)
	}
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = d.db.PrepareContext(ctx, q)
		return s
	}
	advColsA := qualify("a", advCols)
	d.lookup = prep(`SELECT f.advisory, f.namespace, f.package, ` + qualify("f", affCols) + `, ` + advColsA + `
		FROM affected f JOIN advisories a ON a.rid = f.advisory
		WHERE f.namespace = ? AND f.package = ? ORDER BY f.advisory, f.seq`)
	d.affOf = prep(`SELECT namespace, package, ` + affCols + ` FROM affected
		WHERE namespace = ? AND package = ? AND advisory = ? ORDER BY seq`)
	d.advByID = prep(`SELECT rid, pairs, ` + advCols + ` FROM advisories WHERE id = ? ORDER BY source, rid`)
	d.pairsOf = prep(`SELECT pairs FROM advisories WHERE id = ? AND source = ?`)
	d.advByAlias = prep(`SELECT a.rid, a.pairs, ` + advColsA + ` FROM aliases l JOIN advisories a ON a.rid = l.advisory
		WHERE l.alias = ? ORDER BY a.source, a.rid`)
	d.cvssByID = prep(`SELECT ` + advCols + ` FROM cvss WHERE id = ? ORDER BY source != 'nvd', source`)
	d.exploitByID = prep(exploitByIDSQL)
	d.cpeByProduct = prep(cpeLookupSQL)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

// Close releases the handle.
func (d *DB) Close() error {
	for _, s := range []*sql.Stmt{d.lookup, d.affOf, d.advByID, d.advByAlias, d.cvssByID, d.pairsOf, d.exploitByID, d.cpeByProduct} {
		if s != nil {
			s.Close()
		}
	}
	return d.db.Close()
}

// Path is the DB file this handle reads.
func (d *DB) Path() string { return d.path }

// BuildID identifies the build (db-<BuildID>.sqlite).
func (d *DB) BuildID() string { return d.buildID }

// BuiltAt is when the DB was built.
func (d *DB) BuiltAt() time.Time { return d.builtAt }

// Lookup returns every affected record for one (namespace, package), each
// with its advisory, ordered by advisory insertion and entry order. In
// namespace advisory.CPENamespace the package is a classified product's
// name and the records are NVD's CPE ranges for it (see lookupCPE).
func (d *DB) Lookup(ctx context.Context, namespace, pkg string) ([]Record, error) {
	if namespace == advisory.CPENamespace {
		return d.lookupCPE(ctx, pkg)
	}
	rows, err := d.lookup.QueryContext(ctx, namespace, pkg)
	if err != nil {
		return nil, fmt.Errorf("vulndb: lookup %s/%s: %w", namespace, pkg, err)
	}
	defer rows.Close()
	var out []Record
	var rid, lastRID int64 = 0, -1
	var cur *advisory.Advisory
	var f affRow
	var a advRow
	dest := append([]any{&rid}, f.dest()...)
	dest = append(dest, a.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("vulndb: lookup %s/%s: %w", namespace, pkg, err)
		}
		if rid != lastRID {
			if cur, err = a.advisory(); err != nil {
				return nil, fmt.Errorf("vulndb: lookup %s/%s: %w", namespace, pkg, err)
			}
			lastRID = rid
		}
		aff, err := f.affected()
		if err != nil {
			return nil, fmt.Errorf("vulndb: lookup %s/%s: %w", namespace, pkg, err)
		}
		out = append(out, Record{Advisory: cur, Affected: aff})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulndb: lookup %s/%s: %w", namespace, pkg, err)
	}
	return out, nil
}

// Advisory returns every record stored under id (one per source that has it),
// with Affected filled in, followed by any enrichment records (no Affected).
func (d *DB) Advisory(ctx context.Context, id string) ([]*advisory.Advisory, error) {
	out, err := d.advisories(ctx, d.advByID, id, true)
	if err != nil {
		return nil, fmt.Errorf("vulndb: advisory %s: %w", id, err)
	}
	enr, err := d.CVSS(ctx, id)
	if err != nil {
		return nil, err
	}
	return append(out, enr...), nil
}

// Judges reports whether source holds a record of id with an affected
// entry in namespace: what Advisory(id) would show, read from the records'
// (namespace, package) pairs without their affected rows. A record's pairs
// are those of the entries it stored, so the answers agree; for a CVE that
// Red Hat lists under hundreds of packages, Advisory reads every one of
// those rows (and the pages they are on) where Judges reads one column.
func (d *DB) Judges(ctx context.Context, source, id, namespace string) (bool, error) {
	rows, err := d.pairsOf.QueryContext(ctx, id, source)
	if err != nil {
		return false, fmt.Errorf("vulndb: judges %s %s %s: %w", source, id, namespace, err)
	}
	defer rows.Close()
	var js string
	found := false
	for rows.Next() && !found {
		if err := rows.Scan(&js); err != nil {
			return false, fmt.Errorf("vulndb: judges %s %s %s: %w", source, id, namespace, err)
		}
		pairs, err := decodeList[[2]string](js)
		if err != nil {
			return false, fmt.Errorf("vulndb: judges %s %s %s: pairs: %w", source, id, namespace, err)
		}
		for _, p := range pairs {
			if p[0] == namespace {
				found = true
				break
			}
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("vulndb: judges %s %s %s: %w", source, id, namespace, err)
	}
	return found, nil
}

// ByAlias returns the records (with Affected) that list alias among their
// aliases: ByAlias("CVE-2024-1") finds the DSA and GHSA records of that CVE.
func (d *DB) ByAlias(ctx context.Context, alias string) ([]*advisory.Advisory, error) {
	out, err := d.advisories(ctx, d.advByAlias, alias, true)
	if err != nil {
		return nil, fmt.Errorf("vulndb: alias %s: %w", alias, err)
	}
	return out, nil
}

// Scores returns what Advisory(id) and then ByAlias(id) return, without
// their Affected entries: the scores, severities and descriptions that
// severity rating reads, at a fraction of the cost.
func (d *DB) Scores(ctx context.Context, id string) ([]*advisory.Advisory, error) {
	out, err := d.advisories(ctx, d.advByID, id, false)
	if err != nil {
		return nil, fmt.Errorf("vulndb: scores %s: %w", id, err)
	}
	enr, err := d.CVSS(ctx, id)
	if err != nil {
		return nil, err
	}
	aliased, err := d.advisories(ctx, d.advByAlias, id, false)
	if err != nil {
		return nil, fmt.Errorf("vulndb: scores %s: alias: %w", id, err)
	}
	return append(append(out, enr...), aliased...), nil
}

func (d *DB) advisories(ctx context.Context, q *sql.Stmt, key string, withAffected bool) ([]*advisory.Advisory, error) {
	rows, err := q.QueryContext(ctx, key)
	if err != nil {
		return nil, err
	}
	type hit struct {
		rid   int64
		pairs string
		adv   *advisory.Advisory
	}
	var hits []hit
	for rows.Next() {
		var h hit
		var a advRow
		if err := rows.Scan(append([]any{&h.rid, &h.pairs}, a.dest()...)...); err != nil {
			rows.Close()
			return nil, err
		}
		if h.adv, err = a.advisory(); err != nil {
			rows.Close()
			return nil, err
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*advisory.Advisory, 0, len(hits))
	for _, h := range hits {
		if !withAffected {
			out = append(out, h.adv)
			continue
		}
		pairs, err := decodeList[[2]string](h.pairs)
		if err != nil {
			return nil, fmt.Errorf("pairs: %w", err)
		}
		for _, p := range pairs {
			if err := d.appendAffected(ctx, h.adv, p[0], p[1], h.rid); err != nil {
				return nil, err
			}
		}
		out = append(out, h.adv)
	}
	return out, nil
}

func (d *DB) appendAffected(ctx context.Context, a *advisory.Advisory, ns, pkg string, rid int64) error {
	rows, err := d.affOf.QueryContext(ctx, ns, pkg, rid)
	if err != nil {
		return err
	}
	defer rows.Close()
	var f affRow
	for rows.Next() {
		if err := rows.Scan(f.dest()...); err != nil {
			return err
		}
		aff, err := f.affected()
		if err != nil {
			return err
		}
		a.Affected = append(a.Affected, aff)
	}
	return rows.Err()
}

// CVSS returns the enrichment records for a CVE: advisories that name no
// package (NVD's), with the "nvd" source first. It returns nil when there
// are none.
func (d *DB) CVSS(ctx context.Context, cveID string) ([]*advisory.Advisory, error) {
	rows, err := d.cvssByID.QueryContext(ctx, cveID)
	if err != nil {
		return nil, fmt.Errorf("vulndb: cvss %s: %w", cveID, err)
	}
	defer rows.Close()
	var out []*advisory.Advisory
	var a advRow
	for rows.Next() {
		if err := rows.Scan(a.dest()...); err != nil {
			return nil, fmt.Errorf("vulndb: cvss %s: %w", cveID, err)
		}
		adv, err := a.advisory()
		if err != nil {
			return nil, fmt.Errorf("vulndb: cvss %s: %w", cveID, err)
		}
		out = append(out, adv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulndb: cvss %s: %w", cveID, err)
	}
	return out, nil
}

// Enrichment returns the preferred enrichment record for id (NVD's when
// present), or nil. It has the signature the matcher's Store expects.
func (d *DB) Enrichment(ctx context.Context, id string) (*advisory.Advisory, error) {
	recs, err := d.CVSS(ctx, id)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[0], nil
}

// SourceStatus is one source's line of `db status`.
type SourceStatus struct {
	Name       string  `json:"name"`
	Outcome    Outcome `json:"outcome"`
	Error      string  `json:"error,omitempty"`
	Advisories int     `json:"advisories"`
	Affected   int     `json:"affected"`
	Enrichment int     `json:"enrichment"`
	Malformed  int     `json:"malformed"`
	// Rejected and Withdrawn count the dropped records (see SourceReport).
	Rejected  int `json:"rejected,omitempty"`
	Withdrawn int `json:"withdrawn,omitempty"`
	// MalformedSample holds up to 1000 of the malformed records.
	MalformedSample []feed.Malformed `json:"malformed_sample,omitempty"`
	Newest          time.Time        `json:"newest,omitzero"`
	FetchedAt       time.Time        `json:"fetched_at,omitzero"`
	CheckedAt       time.Time        `json:"checked_at,omitzero"`
	// Parts is SourceReport.Parts as stored.
	Parts map[string]int `json:"parts,omitempty"`
	// Version is SourceReport.Version as stored (KEV's catalogVersion,
	// EPSS's model version and score date).
	Version string `json:"version,omitempty"`
	// Namespaces, SupersededBy and Superseded are SourceReport's, as
	// stored.
	Namespaces   []string `json:"namespaces,omitempty"`
	SupersededBy string   `json:"superseded_by,omitempty"`
	Superseded   []string `json:"superseded,omitempty"`
}

// StatusReport is what `db status` prints.
type StatusReport struct {
	Path          string         `json:"path"`
	SchemaVersion int            `json:"schema_version"`
	BuildID       string         `json:"build_id"`
	BuiltAt       time.Time      `json:"built_at"`
	PreviousBuild string         `json:"previous_build,omitempty"`
	Sources       []SourceStatus `json:"sources"`
}

// Status returns the status of the current DB in dir.
func Status(ctx context.Context, dir string) (*StatusReport, error) {
	d, err := Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Status(ctx)
}

// Status reports the build and, per source, its record counts, malformed
// count, newest record date and fetch times.
func (d *DB) Status(ctx context.Context) (*StatusReport, error) {
	st := &StatusReport{Path: d.path, SchemaVersion: SchemaVersion, BuildID: d.buildID, BuiltAt: d.builtAt, PreviousBuild: d.previousBuild}
	rows, err := d.db.QueryContext(ctx, `SELECT name, outcome, error, advisories, affected, enrichment, malformed,
		malformed_json, rejected, withdrawn, newest, fetched_at, checked_at, parts_json, coverage_json FROM sources ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("vulndb: status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s SourceStatus
		var outcome, mal, newest, fetched, checked, parts, cov string
		if err := rows.Scan(&s.Name, &outcome, &s.Error, &s.Advisories, &s.Affected, &s.Enrichment, &s.Malformed,
			&mal, &s.Rejected, &s.Withdrawn, &newest, &fetched, &checked, &parts, &cov); err != nil {
			return nil, fmt.Errorf("vulndb: status: %w", err)
		}
		s.Outcome = Outcome(outcome)
		if s.MalformedSample, err = decodeList[feed.Malformed](mal); err != nil {
			return nil, fmt.Errorf("vulndb: status %s: malformed: %w", s.Name, err)
		}
		if s.Parts, err = decodeParts(parts); err != nil {
			return nil, fmt.Errorf("vulndb: status %s: parts: %w", s.Name, err)
		}
		if cov != "" {
			var c coverage
			if err := json.Unmarshal([]byte(cov), &c); err != nil {
				return nil, fmt.Errorf("vulndb: status %s: coverage: %w", s.Name, err)
			}
			s.Namespaces, s.SupersededBy, s.Superseded = c.Namespaces, c.SupersededBy, c.Superseded
		}
		for _, p := range []struct {
			v string
			t *time.Time
		}{{newest, &s.Newest}, {fetched, &s.FetchedAt}, {checked, &s.CheckedAt}} {
			if *p.t, err = parseTime(p.v); err != nil {
				return nil, fmt.Errorf("vulndb: status %s: %w", s.Name, err)
			}
		}
		st.Sources = append(st.Sources, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulndb: status: %w", err)
	}
	versions, err := d.sourceVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("vulndb: status: versions: %w", err)
	}
	for i := range st.Sources {
		st.Sources[i].Version = versions[st.Sources[i].Name]
	}
	return st, nil
}

// Write prints the status as a table.
func (s *StatusReport) Write(w io.Writer) error {
	day := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02")
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "DB:       %s\nSchema:   %d\nBuild:    %s (built %s)\n\n", s.Path, s.SchemaVersion, s.BuildID, stamp(s.BuiltAt))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATE\tADVISORIES\tAFFECTED\tENRICHMENT\tMALFORMED\tREJECTED\tWITHDRAWN\tNEWEST\tFETCHED\tCHECKED\tERROR")
	for _, src := range s.Sources {
		errText := src.Error
		if len(errText) > 80 {
			errText = errText[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", src.Name, src.Outcome, src.Advisories, src.Affected,
			src.Enrichment, src.Malformed, src.Rejected, src.Withdrawn, day(src.Newest), stamp(src.FetchedAt), stamp(src.CheckedAt), errText)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, src := range s.Sources {
		if len(src.Parts) > 0 {
			if _, err := fmt.Fprintf(w, "%s records by part: %s\n", src.Name, FormatParts(src.Parts)); err != nil {
				return err
			}
		}
	}
	for _, src := range s.Sources {
		if src.SupersededBy != "" {
			if _, err := fmt.Fprintf(w, "%s: %s\n", src.Name, SupersededNote(src.SupersededBy, src.Superseded)); err != nil {
				return err
			}
		}
	}
	for _, src := range s.Sources {
		if src.Version != "" {
			if _, err := fmt.Fprintf(w, "%s data set: %s\n", src.Name, src.Version); err != nil {
				return err
			}
		}
	}
	return nil
}

// SupersededNote says which of a source's releases were read from the
// better source instead: "4 releases read from ubuntu-uct instead
// (ubuntu:14.04, ...)", or "" when none was.
func SupersededNote(by string, namespaces []string) string {
	if by == "" || len(namespaces) == 0 {
		return ""
	}
	what := "releases"
	if len(namespaces) == 1 {
		what = "release"
	}
	return fmt.Sprintf("%d %s read from %s instead (%s)", len(namespaces), what, by, strings.Join(namespaces, ", "))
}

// FormatParts prints per-part record counts as "a 12, b 3", sorted by
// part name.
func FormatParts(parts map[string]int) string {
	var b strings.Builder
	for i, n := range slices.Sorted(maps.Keys(parts)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", n, parts[n])
	}
	return b.String()
}

// ChangeSet is the set of pairs whose records changed between the previous
// build and this one, recorded at build time.
type ChangeSet struct {
	// Base is the build id the changes are relative to.
	Base string
	// Complete is false when there was no comparable previous DB: then every
	// pair must be considered changed.
	Complete bool
	Pairs    []Pair
}

// Changes returns the change set recorded when this DB was built.
func (d *DB) Changes(ctx context.Context) (*ChangeSet, error) {
	cs := &ChangeSet{Base: d.previousBuild, Complete: d.changesOK}
	rows, err := d.db.QueryContext(ctx, `SELECT namespace, package FROM changes ORDER BY namespace, package`)
	if err != nil {
		return nil, fmt.Errorf("vulndb: changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Pair
		if err := rows.Scan(&p.Namespace, &p.Package); err != nil {
			return nil, fmt.Errorf("vulndb: changes: %w", err)
		}
		cs.Pairs = append(cs.Pairs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("vulndb: changes: %w", err)
	}
	return cs, nil
}

// ChangedPairs returns, sorted, the (namespace, package) pairs whose records
// differ between d and other: added, removed, or with any record changed
// (ranges, status, severity, the advisory's text, CVSS, dates ...). It
// compares the per-pair hashes, streaming both tables in key order.
func (d *DB) ChangedPairs(ctx context.Context, other *DB) ([]Pair, error) {
	const q = `SELECT namespace, package, hash FROM pairs ORDER BY namespace, package`
	ra, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("vulndb: changed pairs: %w", err)
	}
	defer ra.Close()
	rb, err := other.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("vulndb: changed pairs: %w", err)
	}
	defer rb.Close()
	type row struct {
		p    Pair
		hash []byte
		ok   bool
	}
	next := func(r *sql.Rows) (row, error) {
		var x row
		if !r.Next() {
			return x, r.Err()
		}
		x.ok = true
		err := r.Scan(&x.p.Namespace, &x.p.Package, &x.hash)
		return x, err
	}
	cmp := func(a, b Pair) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Package, b.Package)
	}
	var out []Pair
	a, err := next(ra)
	if err != nil {
		return nil, fmt.Errorf("vulndb: changed pairs: %w", err)
	}
	b, err := next(rb)
	if err != nil {
		return nil, fmt.Errorf("vulndb: changed pairs: %w", err)
	}
	for a.ok || b.ok {
		var c int
		switch {
		case !a.ok:
			c = 1
		case !b.ok:
			c = -1
		default:
			c = cmp(a.p, b.p)
		}
		switch {
		case c < 0:
			out = append(out, a.p)
			a, err = next(ra)
		case c > 0:
			out = append(out, b.p)
			b, err = next(rb)
		default:
			if !slices.Equal(a.hash, b.hash) {
				out = append(out, a.p)
			}
			if a, err = next(ra); err == nil {
				b, err = next(rb)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("vulndb: changed pairs: %w", err)
		}
	}
	return out, nil
}
