package vulndb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite" (pure Go)

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// Outcome says what happened to one source in an update.
type Outcome string

// Outcomes.
const (
	// Updated: fetched and parsed; the source's records are new.
	Updated Outcome = "updated"
	// Unchanged: upstream said nothing changed; the previous records were copied.
	Unchanged Outcome = "unchanged"
	// Kept: fetch or parse failed; the previous records were copied.
	Kept Outcome = "kept"
	// Failed: fetch or parse failed and there were no previous records.
	Failed Outcome = "failed"
	// Absent: with UpdateOptions.MissingIsAbsent, the source's files are
	// not found (a mirror without that feed) and there were no previous
	// records. It is not an error and is not stored as a source.
	Absent Outcome = "absent"
)

// rowsPerInsert is how many rows one multi-row INSERT writes (see
// batchInsert): 256 took about 5% less CPU than 64 and 15% less than 16 in
// BenchmarkBuild.
const rowsPerInsert = 256

// sortedRows is how many affected (and alias) rows are buffered and
// written in key order at most; a commit (every BatchSize rows) writes
// them sooner. Inserting the affected rows of a full build in key order
// per 50,000 rows took about half the B-tree work of inserting them in
// record order (sqlite3 on the rows of the shared feeds' DB, 32 MiB page
// cache: 7.9 s unsorted, 4.6 s in sorted runs of 50,000, 2.9 s all sorted).
const sortedRows = 1 << 16

// maxStoredMalformed bounds the malformed entries kept per source in the DB;
// the Report carries all of them.
const maxStoredMalformed = 1000

// UpdateOptions tune Update. The zero value is ready to use.
type UpdateOptions struct {
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// KeepOtherSources copies forward the previous records of sources that
	// are not among the updaters (a partial update). By default they are
	// dropped, so a removed updater's records disappear.
	KeepOtherSources bool
	// MissingIsAbsent: a source whose fetch finds its files missing
	// (fs.ErrNotExist) and that has no previous records is Absent, not
	// Failed. For mirrors, which may carry a subset of the feeds; a real
	// upstream that answers 404 has moved, and that is a failure.
	MissingIsAbsent bool
	// BatchSize is how many rows go in one transaction (default 50,000).
	BatchSize int
	// CacheMiB is SQLite's page cache while building (default 32: with two
	// sources parsed at a time, 64 took the peak RSS of a full build past
	// 256 MiB for no measurable gain).
	CacheMiB int
	// Parallel is how many sources are fetched and parsed at a time
	// (default: GOMAXPROCS, at least 2). Their records are stored by one
	// writer in updater order, so the DB does not depend on it.
	Parallel int
	// Progress, when set, is called from Update's goroutine as each source
	// starts, about once a second while it runs, and when it is done.
	Progress func(Progress)
	// Supersedes maps a source (updater name) to the better source that
	// replaces it release by release (distro.List.Supersedes): the
	// superseded source is read only for the namespaces the better one has
	// no records in (see "Superseded sources" in the package doc). The
	// better source must come first among the updaters.
	Supersedes map[string]string
	// Now replaces time.Now (tests).
	Now func() time.Time

	// hook is called at named stages (tests kill the process there).
	hook func(stage string)
	// noClone makes a no-change update copy rows like any other (tests
	// compare both ways).
	noClone bool
}

// SourceReport is what happened to one source.
type SourceReport struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	// Err is the fetch or parse failure, "" on success.
	Err string `json:"error,omitempty"`
	// Advisories and Affected count stored records (copied ones included);
	// Enrichment counts records without affected packages (NVD).
	Advisories int `json:"advisories"`
	Affected   int `json:"affected"`
	Enrichment int `json:"enrichment"`
	// Malformed lists records that the parser or the DB rejected, by id.
	Malformed []feed.Malformed `json:"malformed,omitempty"`
	// Rejected counts the source's records dropped because their CVE id
	// was rejected by the CVE program (as this source's own record says,
	// or another source's; see the package doc). Withdrawn counts records
	// the source itself retracted. Neither kind is stored or counted in
	// Advisories.
	Rejected  int `json:"rejected,omitempty"`
	Withdrawn int `json:"withdrawn,omitempty"`
	// Skipped counts, by what was left out, the well-formed records and
	// entries the parser left out on purpose (feed.Stats.Skipped: entries
	// for a distribution's FIPS streams, ...). It is reported for a source parsed in this
	// update only; it is not stored, so a copied source shows none.
	Skipped map[string]int `json:"skipped,omitempty"`
	Newest  time.Time      `json:"newest,omitzero"`
	// Parts is the parser's feed.Stats.Parts: the records it emitted per
	// part of the source (NVD: "nvd-2.0", "nvd-1.1"), rejected ones
	// included; nil for sources with one kind of input.
	Parts map[string]int `json:"parts,omitempty"`
	// Namespaces are the namespaces of the source's stored records.
	Namespaces []string `json:"namespaces,omitempty"`
	// SupersededBy names the better source (UpdateOptions.Supersedes) whose
	// namespaces this source was not read for, and Superseded lists this
	// source's namespaces that were left unread (or dropped) for that
	// reason; both empty when the better source covered none of them.
	SupersededBy string   `json:"superseded_by,omitempty"`
	Superseded   []string `json:"superseded,omitempty"`
	// supersededWith is the better source's namespaces the source was
	// read against (stored, so that a later build re-reads the source in
	// full when they change).
	supersededWith []string
	// Version is the source's data-set version (feed.Stats.Version: KEV's
	// catalogVersion, EPSS's model version and score date), copied ones
	// included; "" for sources that publish none.
	Version string `json:"version,omitempty"`
	// FetchedAt is when the stored records were fetched; CheckedAt is the
	// last successful check of upstream.
	FetchedAt time.Time     `json:"fetched_at,omitzero"`
	CheckedAt time.Time     `json:"checked_at,omitzero"`
	Duration  time.Duration `json:"duration"`
}

// Report is the result of Update or Pull.
type Report struct {
	// Path is the new current DB file.
	Path    string         `json:"path"`
	BuildID string         `json:"build_id"`
	Sources []SourceReport `json:"sources,omitempty"`
	// ChangedPairs counts (namespace, package) pairs whose records differ
	// from the previous DB; -1 when there was no comparable previous DB.
	ChangedPairs int `json:"changed_pairs"`
	// RejectedIDs counts the distinct CVE ids that some source marks
	// rejected; no source's record of them is stored.
	RejectedIDs int           `json:"rejected_ids"`
	Duration    time.Duration `json:"duration"`
	// Previous is a problem with the previous DB (unreadable, other schema),
	// which was then ignored.
	Previous string `json:"previous_error,omitempty"`
}

// Err joins the failures of every source that did not update (Kept or
// Failed), or returns nil. Update itself succeeds in that case, since the
// previous records stay in place; the CLI can use Err for its exit code.
func (r *Report) Err() error {
	var errs []error
	for _, s := range r.Sources {
		if s.Outcome == Kept || s.Outcome == Failed {
			errs = append(errs, fmt.Errorf("%s (%s): %s", s.Name, s.Outcome, s.Err))
		}
	}
	return errors.Join(errs...)
}

// Update builds a new DB in dir from updaters and makes it current.
//
// Each updater is fetched through src(u) with the state recorded in the
// current DB, then parsed straight into the new file. A source whose Fetch
// reports Unchanged, or whose Fetch or Parse fails, gets its previous records
// copied forward, so a failing download never loses data. Malformed records
// are reported per source, never fatal. Update fails only when the new DB
// cannot be built (disk, ctx, a broken emit); the current DB is then untouched.
//
// The new file is built as db-<time>.sqlite.tmp, synced, renamed, and
// switched in by replacing CURRENT atomically; see the package doc.
func Update(ctx context.Context, dir string, updaters []feed.Updater, src func(feed.Updater) feed.Source, opts UpdateOptions) (*Report, error) {
	opts = opts.withDefaults()
	start := opts.Now()
	seen := map[string]bool{}
	for _, u := range updaters {
		n := u.Name()
		if n == "" || seen[n] {
			return nil, fmt.Errorf("vulndb: update: updater name %q is empty or repeated", n)
		}
		seen[n] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vulndb: update: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	prevName, err := readCurrent(dir)
	if err != nil {
		opts.Logger.Warn("ignoring unreadable CURRENT", "err", err)
		prevName = ""
	}
	name := newDBName(dir, start)
	tmp := filepath.Join(dir, name+tmpSuffix)
	rep := &Report{BuildID: strings.TrimSuffix(strings.TrimPrefix(name, dbPrefix), dbSuffix), ChangedPairs: -1}

	b, err := newBuilder(ctx, tmp, opts)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			b.close()
			os.Remove(tmp)
		}
	}()
	prev := map[string]*prevSource{}
	if prevName != "" {
		if prev, err = b.attachPrev(ctx, filepath.Join(dir, prevName)); err != nil {
			rep.Previous = err.Error()
			opts.Logger.Warn("previous DB ignored", "file", prevName, "err", err)
			prev = map[string]*prevSource{}
		}
	}
	var copyNames []string
	// A Cacher runs with its cache directory under dir; src is still
	// asked with the listed updater.
	runs := make([]feed.Updater, len(updaters))
	srcs := make([]feed.Source, len(updaters))
	for i, u := range updaters {
		runs[i], srcs[i] = u, src(u)
		if c, ok := u.(feed.Cacher); ok {
			runs[i] = c.WithCacheDir(filepath.Join(dir, CacheDir, u.Name()))
		}
	}
	// Sources are fetched and parsed in parallel (at most opts.Parallel at
	// a time) and stored one after the other in updater order by this
	// goroutine, so each source's rows stay contiguous and the file is the
	// same as a sequential build's.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs, wait := startJobs(pctx, runs, srcs, prev, opts)
	defer wait()
	defer cancel() // before wait: stops the parsers on an early return
	for i, j := range jobs {
		sr, copyPrev, err := b.storeSource(ctx, j, prev[updaters[i].Name()])
		if err != nil {
			return nil, err
		}
		if copyPrev {
			copyNames = append(copyNames, sr.Name)
		}
		rep.Sources = append(rep.Sources, *sr)
		opts.Logger.Info("source done", "source", sr.Name, "outcome", sr.Outcome, "advisories", sr.Advisories,
			"malformed", len(sr.Malformed), "err", sr.Err, "duration", sr.Duration)
	}
	if opts.KeepOtherSources {
		var others []string
		for n := range prev {
			if !seen[n] {
				others = append(others, n)
			}
		}
		sort.Strings(others)
		for _, n := range others {
			p := prev[n]
			sr := p.report()
			sr.Outcome = Kept
			sr.Err = p.err
			b.sources = append(b.sources, sr)
			copyNames = append(copyNames, n)
			rep.Sources = append(rep.Sources, *sr)
		}
	}
	if clone, err := b.cloneable(ctx, copyNames, prev); err != nil {
		return nil, err
	} else if clone {
		if err := b.cloneFrom(ctx, filepath.Join(dir, prevName), tmp, copyNames, prev); err != nil {
			return nil, err
		}
	} else if err := b.copyForward(ctx, copyNames, prev); err != nil {
		return nil, err
	}
	opts.hook("loaded")
	if rep.ChangedPairs, err = b.finish(ctx, rep.BuildID, start, prevName != "" && rep.Previous == ""); err != nil {
		return nil, err
	}
	rep.RejectedIDs = b.rejectedIDs
	for i := range rep.Sources {
		for _, s := range b.sources {
			if s.Name == rep.Sources[i].Name {
				rep.Sources[i] = *s
			}
		}
	}
	if err := b.close(); err != nil {
		return nil, fmt.Errorf("vulndb: update: close: %w", err)
	}
	opts.hook("built")
	if err := publish(dir, tmp, name, opts.hook); err != nil {
		return nil, err
	}
	ok = true
	rep.Path = filepath.Join(dir, name)
	if err := gc(dir, name, prevName); err != nil {
		opts.Logger.Warn("garbage collection", "err", err)
	}
	rep.Duration = opts.Now().Sub(start)
	return rep, nil
}

func (o UpdateOptions) withDefaults() UpdateOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 50_000
	}
	if o.CacheMiB <= 0 {
		o.CacheMiB = 32
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Parallel <= 0 {
		o.Parallel = max(2, runtime.GOMAXPROCS(0))
	}
	if o.hook == nil {
		o.hook = func(string) {}
	}
	return o
}

// prevSource is a source's row in the previous DB.
type prevSource struct {
	name                   string
	state                  feed.State
	advisories, affected   int
	enrichment             int
	malformed              []feed.Malformed
	malformedCount         int
	rejected, withdrawn    int
	newest, fetched, check time.Time
	err                    string
	parts                  map[string]int
	coverage               coverage
}

func (p *prevSource) report() *SourceReport {
	return &SourceReport{Name: p.name, Advisories: p.advisories, Affected: p.affected, Enrichment: p.enrichment,
		Malformed: p.malformed, Rejected: p.rejected, Withdrawn: p.withdrawn, Newest: p.newest, FetchedAt: p.fetched, CheckedAt: p.check, Parts: p.parts,
		Namespaces: p.coverage.Namespaces, SupersededBy: p.coverage.SupersededBy, Superseded: p.coverage.Superseded, supersededWith: p.coverage.With}
}

// builder writes one new DB file through a single connection.
type builder struct {
	db      *sql.DB
	conn    *sql.Conn
	opts    UpdateOptions
	inTx    bool
	rows    int
	fatal   error
	hasPrev bool

	// The inserts of records, buffered (see batchInsert); nextRID is the
	// rowid of the next advisory stored.
	insAdv, insAff, insAlias, insCVSS, insRejected, insCPE *batchInsert
	// insKEV and insEPSS buffer the exploit-context rows (exploit.go).
	insKEV, insEPSS *exploitInsert
	nextRID         int64
	// rejectedIDs is the number of distinct rejected CVE ids (finish).
	rejectedIDs int

	// cloned says the file is a copy of the previous DB (cloneFrom): its
	// records, indexes and pair hashes are already in place.
	cloned bool

	sources []*SourceReport
	// cur is the source being parsed (emit counts into it).
	cur *SourceReport
	// stateOf is the fetch state stored per source; prevMalformed the
	// malformed count of copied-forward sources.
	stateOf       map[string]feed.State
	prevMalformed map[string]int
}

func sqliteURI(path string, query string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), OmitHost: true, RawQuery: query}
	return u.String()
}

func newBuilder(ctx context.Context, path string, opts UpdateOptions) (*builder, error) {
	b := &builder{opts: opts, stateOf: map[string]feed.State{}, prevMalformed: map[string]int{}, nextRID: 1,
		insKEV: newExploitInsert("kev", 9), insEPSS: newExploitInsert("epss", 4)}
	if err := b.open(ctx, path); err != nil {
		return nil, err
	}
	conn := b.conn
	if _, err := conn.ExecContext(ctx, schemaSQL+exploitSchemaSQL+cpeSchemaSQL); err != nil {
		b.close()
		return nil, fmt.Errorf("vulndb: build: schema: %w", err)
	}
	var err error
	ins := func(table, head string, cols, perStmt int, tail string) *batchInsert {
		if err != nil {
			return nil
		}
		var bi *batchInsert
		bi, err = newBatchInsert(ctx, conn, table, head, cols, perStmt, tail)
		return bi
	}
	b.insAdv = ins("advisories", `INSERT INTO advisories(rid, `+advCols+`, pairs, digest) VALUES`, 15, rowsPerInsert, "")
	sorted := func(table, head string, cols, keyCols int) *batchInsert {
		if err != nil {
			return nil
		}
		var bi *batchInsert
		bi, err = newSortedInsert(ctx, conn, table, head, cols, rowsPerInsert, keyCols, sortedRows)
		return bi
	}
	// affected and aliases rows are written in primary-key order per
	// transaction (see batchInsert).
	b.insAff = sorted("affected", `INSERT INTO affected(namespace, package, advisory, seq, `+affCols+`, digest) VALUES`, 15, 4)
	b.insAlias = sorted("aliases", `INSERT OR IGNORE INTO aliases(alias, advisory) VALUES`, 2, 2)
	// Several records of one id from one source (NVD yearly + modified
	// feeds): the most recently modified wins. The rows of one statement
	// are inserted in order, so a later row meets an earlier one here too.
	b.insCVSS = ins("cvss", `INSERT INTO cvss(`+advCols+`) VALUES`, 12, rowsPerInsert,
		`ON CONFLICT(id, source) DO UPDATE SET summary=excluded.summary, description=excluded.description,
		vendor_severity=excluded.vendor_severity, severity=excluded.severity, cvss=excluded.cvss, refs=excluded.refs,
		aliases=excluded.aliases, published=excluded.published, modified=excluded.modified, withdrawn=excluded.withdrawn
		WHERE excluded.modified >= cvss.modified`)
	b.insRejected = ins("rejected", `INSERT OR IGNORE INTO rejected(id, source) VALUES`, 2, rowsPerInsert, "")
	// A record repeated with the same modified time (in two NVD feeds)
	// repeats its ranges: kept once.
	b.insCPE = ins("cpe_ranges", `INSERT OR IGNORE INTO cpe_ranges(cpe, cve, source, modified, seq, version, start, start_excl, end_, end_incl) VALUES`, 10, rowsPerInsert, "")
	if err != nil {
		b.close()
		return nil, fmt.Errorf("vulndb: build: %w", err)
	}
	if err := b.begin(ctx); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// open connects the builder to the file at path with the bulk-load
// settings.
func (b *builder) open(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", sqliteURI(path, ""))
	if err != nil {
		return fmt.Errorf("vulndb: build: open: %w", err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return fmt.Errorf("vulndb: build: open: %w", err)
	}
	b.db, b.conn = db, conn
	// Bulk-load settings: the file is private until published and is thrown
	// away on any failure, so no journal and no syncs (publish syncs once).
	pragmas := []string{
		"PRAGMA page_size=8192",
		"PRAGMA journal_mode=OFF",
		"PRAGMA synchronous=OFF",
		"PRAGMA locking_mode=EXCLUSIVE",
		"PRAGMA temp_store=FILE",
		fmt.Sprintf("PRAGMA cache_size=-%d", b.opts.CacheMiB*1024),
	}
	for _, p := range pragmas {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			b.close()
			return fmt.Errorf("vulndb: build: %s: %w", p, err)
		}
	}
	return nil
}

func (b *builder) begin(ctx context.Context) error {
	if _, err := b.conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("vulndb: build: begin: %w", err)
	}
	b.inTx = true
	return nil
}

// inserts are the builder's buffered inserts.
func (b *builder) inserts() []*batchInsert {
	return []*batchInsert{b.insAdv, b.insAff, b.insAlias, b.insCVSS, b.insRejected, b.insCPE}
}

// flush writes the rows buffered in the inserts. It runs before anything
// reads the tables the build writes (commit flushes too).
func (b *builder) flush(ctx context.Context) error {
	if b.fatal != nil {
		return b.fatal
	}
	for _, s := range b.inserts() {
		if err := s.flush(ctx); err != nil {
			b.fatal = fmt.Errorf("vulndb: build: %w", err)
			return b.fatal
		}
	}
	for _, e := range []*exploitInsert{b.insKEV, b.insEPSS} {
		if err := e.flush(ctx, b.conn); err != nil {
			b.fatal = fmt.Errorf("vulndb: build: %w", err)
			return b.fatal
		}
	}
	return nil
}

func (b *builder) commit(ctx context.Context) error {
	if !b.inTx {
		return nil
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	b.inTx = false
	if _, err := b.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("vulndb: build: commit: %w", err)
	}
	return nil
}

// tick counts written rows and commits every BatchSize rows.
func (b *builder) tick(ctx context.Context, n int) error {
	b.rows += n
	if b.rows < b.opts.BatchSize {
		return nil
	}
	b.rows = 0
	if err := b.commit(ctx); err != nil {
		return err
	}
	return b.begin(ctx)
}

func (b *builder) close() error {
	var errs []error
	for _, s := range b.inserts() {
		errs = append(errs, s.close())
	}
	b.insAdv, b.insAff, b.insAlias, b.insCVSS, b.insRejected, b.insCPE = nil, nil, nil, nil, nil, nil
	if b.conn != nil {
		errs = append(errs, b.conn.Close())
		b.conn = nil
	}
	if b.db != nil {
		errs = append(errs, b.db.Close())
		b.db = nil
	}
	return errors.Join(errs...)
}

// attachPrev attaches the current DB read-only as "prev" and reads its sources.
func (b *builder) attachPrev(ctx context.Context, path string) (map[string]*prevSource, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("previous DB: %w", err)
	}
	if err := b.commit(ctx); err != nil { // ATTACH is not allowed inside a transaction
		return nil, err
	}
	defer func() {
		if !b.inTx {
			if err := b.begin(ctx); err != nil && b.fatal == nil {
				b.fatal = err
			}
		}
	}()
	if _, err := b.conn.ExecContext(ctx, `ATTACH DATABASE ? AS prev`, sqliteURI(path, "mode=ro&immutable=1")); err != nil {
		return nil, fmt.Errorf("previous DB: attach: %w", err)
	}
	detach := func() { _, _ = b.conn.ExecContext(ctx, `DETACH DATABASE prev`) }
	var v string
	if err := b.conn.QueryRowContext(ctx, `SELECT value FROM prev.meta WHERE key='schema_version'`).Scan(&v); err != nil {
		detach()
		return nil, fmt.Errorf("previous DB: schema version: %w", err)
	}
	if v != fmt.Sprint(SchemaVersion) {
		detach()
		return nil, fmt.Errorf("previous DB has schema version %s, this build uses %d", v, SchemaVersion)
	}
	rows, err := b.conn.QueryContext(ctx, `SELECT name, outcome, error, advisories, affected, enrichment, malformed, malformed_json,
		rejected, withdrawn, newest, fetched_at, checked_at, state_json, parts_json, coverage_json FROM prev.sources`)
	if err != nil {
		detach()
		return nil, fmt.Errorf("previous DB: sources: %w", err)
	}
	defer rows.Close()
	out := map[string]*prevSource{}
	for rows.Next() {
		p := &prevSource{}
		var outcome, mal, newest, fetched, checked, state, parts, cov string
		if err := rows.Scan(&p.name, &outcome, &p.err, &p.advisories, &p.affected, &p.enrichment, &p.malformedCount, &mal,
			&p.rejected, &p.withdrawn, &newest, &fetched, &checked, &state, &parts, &cov); err != nil {
			detach()
			return nil, fmt.Errorf("previous DB: sources: %w", err)
		}
		p.malformed, _ = decodeList[feed.Malformed](mal)
		p.newest, _ = parseTime(newest)
		p.fetched, _ = parseTime(fetched)
		p.check, _ = parseTime(checked)
		p.parts, _ = decodeParts(parts)
		if cov != "" {
			if err := json.Unmarshal([]byte(cov), &p.coverage); err != nil {
				// Unknown coverage: a superseded source is then read in
				// full (its recorded better namespaces differ).
				p.coverage = coverage{With: []string{"?"}}
			}
		}
		if state != "" {
			if err := json.Unmarshal([]byte(state), &p.state); err != nil {
				p.state = nil // a fresh unconditional fetch, then
			}
		}
		if outcome == string(Failed) {
			continue // no records to copy, no state to resume from
		}
		out[p.name] = p
	}
	if err := rows.Err(); err != nil {
		detach()
		return nil, fmt.Errorf("previous DB: sources: %w", err)
	}
	b.hasPrev = true
	return out, nil
}

// storeSource stores one source's run (see job), which fetches and parses
// in its own goroutine. It returns whether the previous records of the
// source must be copied forward. An error aborts the update.
func (b *builder) storeSource(ctx context.Context, j *job, prev *prevSource) (*SourceReport, bool, error) {
	u := j.u
	start := b.opts.Now()
	j.start = start
	sr := &SourceReport{Name: u.Name()}
	b.sources = append(b.sources, sr)
	b.progress(j, sr, false)
	keep := func(cause error) (*SourceReport, bool, error) {
		sr.Err = cause.Error()
		if prev == nil {
			sr.Outcome = Failed
			sr.Duration = b.opts.Now().Sub(start)
			b.progress(j, sr, true)
			return sr, false, nil
		}
		*sr = *prev.report()
		sr.Outcome, sr.Err = Kept, cause.Error()
		sr.Duration = b.opts.Now().Sub(start)
		b.progress(j, sr, true)
		return sr, true, nil
	}
	// Sources are stored one after the other, so the source's advisories
	// are the rids from first on.
	first := b.nextRID
	b.cur = sr
	err := b.drain(ctx, j, sr)
	if err == nil {
		// Buffered exploit-context rows report repeated CVEs into sr.
		err = b.flush(ctx)
	}
	b.cur = nil
	if err != nil {
		return nil, false, fmt.Errorf("vulndb: update %s: store: %w", u.Name(), err)
	}
	<-j.done
	if ctx.Err() != nil {
		return nil, false, fmt.Errorf("vulndb: update %s: %w", u.Name(), context.Cause(ctx))
	}
	if j.fetchErr != nil {
		if b.opts.MissingIsAbsent && prev == nil && errors.Is(j.fetchErr, fs.ErrNotExist) {
			b.sources = slices.DeleteFunc(b.sources, func(x *SourceReport) bool { return x == sr }) // not a source of this DB
			sr.Outcome, sr.Err = Absent, j.fetchErr.Error()
			sr.Duration = b.opts.Now().Sub(start)
			b.progress(j, sr, true)
			return sr, false, nil
		}
		return keep(fmt.Errorf("fetch: %w", j.fetchErr))
	}
	snap := j.snap
	if snap.Unchanged {
		if prev == nil {
			return keep(errors.New("fetch reported unchanged but there are no previous records"))
		}
		*sr = *prev.report()
		sr.Outcome = Unchanged
		sr.CheckedAt = b.opts.Now().UTC()
		sr.Duration = b.opts.Now().Sub(start)
		if snap.State != nil {
			prev.state = snap.State
		}
		b.progress(j, sr, true)
		return sr, true, nil
	}
	if snap.FS == nil {
		return keep(errors.New("fetch returned no files"))
	}
	if j.parseErr != nil {
		if err := b.deleteFrom(ctx, u.Name(), first); err != nil {
			return nil, false, err
		}
		b.nextRID = first
		return keep(fmt.Errorf("parse: %w", j.parseErr))
	}
	stats := j.stats
	sr.Outcome = Updated
	sr.Malformed = append(slices.Clone(stats.Malformed), sr.Malformed...)
	sr.Withdrawn += stats.Withdrawn
	sr.Skipped = stats.Skipped
	sr.Newest = stats.Newest.UTC()
	sr.Parts = stats.Parts
	sr.Namespaces = sortedSet(j.namespaces)
	if len(j.supersededWith) > 0 {
		sr.SupersededBy, sr.supersededWith = j.supersededBy, j.supersededWith
		sr.Superseded = sortedSet(j.superseded)
	}
	now := b.opts.Now().UTC()
	sr.FetchedAt, sr.CheckedAt = now, now
	sr.Duration = b.opts.Now().Sub(start)
	if err := b.flush(ctx); err != nil {
		return nil, false, fmt.Errorf("vulndb: update %s: store: %w", u.Name(), err)
	}
	if sr.Enrichment, err = b.enrichmentCount(ctx, u.Name()); err != nil {
		return nil, false, fmt.Errorf("vulndb: update %s: %w", u.Name(), err)
	}
	if err := b.storeVersion(ctx, u.Name(), stats.Version); err != nil {
		return nil, false, err
	}
	b.stateOf[u.Name()] = snap.State
	b.progress(j, sr, true)
	return sr, false, nil
}

// prepared is one advisory ready to store: the pure part of storing it
// (validation and encoding) is done in the source's parse goroutine, so
// that the single writer only runs SQL.
type prepared struct {
	id string
	// withdrawn and rejected records are counted, not stored (rejected ids
	// are remembered).
	withdrawn, rejected bool
	// enrichment is a record without affected packages (vals only).
	enrichment bool
	vals       []any
	pairs      string
	digest     []byte
	affs       []preparedAffected
	aliases    []string
	// malformed are the problems found in this record (stored in order).
	malformed []feed.Malformed
	// exploit is an exploit-context record (kev, epss; see exploit.go).
	exploit *preparedExploit
	// cpe are an enrichment record's CPE range rows (cpe.go).
	cpe [][]any
}

type preparedAffected struct {
	ns, pkg string
	vals    []any
	// digest is the row's digest in its pair's hash (rowDigest).
	digest [16]byte
}

// prepare validates and encodes one advisory of source. It reads a only
// while it runs (a parser may reuse a after emit returns).
func prepare(source string, a *advisory.Advisory) *prepared {
	p := &prepared{}
	bad := func(id, msg string) *prepared {
		p.malformed = append(p.malformed, feed.Malformed{ID: id, Err: "vulndb: " + msg})
		return p
	}
	if a == nil {
		return bad("", "nil advisory")
	}
	if strings.TrimSpace(a.ID) == "" {
		return bad("", "advisory without an id")
	}
	p.id = a.ID
	// Neither a withdrawn record nor a record of a rejected CVE id is a
	// finding: neither is stored. A rejection is remembered by id and
	// applied to every source's records at the end of the build.
	if !a.Withdrawn.IsZero() || (a.Rejected && !strings.HasPrefix(a.ID, "CVE-")) {
		p.withdrawn = true
		return p
	}
	if a.Rejected {
		p.rejected = true
		return p
	}
	if a.Exploit != nil {
		return prepareExploit(source, a, p)
	}
	rec := *a
	rec.Source = source // the DB is keyed by the updater's name
	vals, err := encodeAdvisory(&rec)
	if err != nil {
		return bad(a.ID, "encode: "+err.Error())
	}
	p.vals = vals
	if len(a.Affected) == 0 {
		p.enrichment = true
		p.cpe = cpeRows(source, a, p)
		return p
	}
	p.affs = make([]preparedAffected, 0, len(a.Affected))
	p.digest = digest(vals...)
	var pairs [][2]string
	// The pairs seen, once a record has more than a few: a list search per
	// entry would be quadratic in a record's entries.
	var seen map[[2]string]bool
	for i := range a.Affected {
		f := &a.Affected[i]
		if err := checkAffected(f); err != nil {
			bad(a.ID, fmt.Sprintf("affected[%d]: %v", i, err))
			continue
		}
		av, err := encodeAffected(f)
		if err != nil {
			bad(a.ID, fmt.Sprintf("affected[%d]: encode: %v", i, err))
			continue
		}
		p.affs = append(p.affs, preparedAffected{ns: f.Namespace, pkg: f.Package, vals: av, digest: rowDigest(av, p.digest)})
		pr := [2]string{f.Namespace, f.Package}
		switch {
		case seen != nil:
			if !seen[pr] {
				seen[pr] = true
				pairs = append(pairs, pr)
			}
		case !slices.Contains(pairs, pr):
			pairs = append(pairs, pr)
			if len(pairs) > 16 {
				seen = make(map[[2]string]bool, len(a.Affected))
				for _, q := range pairs {
					seen[q] = true
				}
			}
		}
	}
	if len(p.affs) == 0 {
		p.digest = nil
		return p // every entry was malformed and reported
	}
	pj, _ := json.Marshal(pairs)
	p.pairs = string(pj)
	p.aliases = slices.Clone(a.Aliases)
	return p
}

// store writes one prepared advisory of the source being parsed. Records
// the DB cannot use are reported as malformed; only storage errors are
// returned (and remembered as fatal, since they abort the update). Rows
// are buffered and written in batches, so a storage error names the table
// and the batch, not the record.
func (b *builder) store(ctx context.Context, source string, p *prepared) error {
	if b.fatal != nil {
		return b.fatal
	}
	fail := func(err error) error {
		b.fatal = err
		return err
	}
	if b.cur != nil {
		b.cur.Malformed = append(b.cur.Malformed, p.malformed...)
	}
	switch {
	case p.withdrawn:
		b.cur.Withdrawn++
		return nil
	case p.rejected:
		if err := b.insRejected.add(ctx, p.id, source); err != nil {
			return fail(err)
		}
		b.cur.Rejected++
		return fail0(b.tick(ctx, 1), fail)
	case p.exploit != nil:
		return b.storeExploit(ctx, p, fail)
	case p.vals == nil:
		return nil // malformed, reported above
	case p.enrichment:
		if err := b.insCVSS.add(ctx, p.vals...); err != nil {
			return fail(err)
		}
		for _, row := range p.cpe {
			if err := b.insCPE.add(ctx, row...); err != nil {
				return fail(err)
			}
		}
		return fail0(b.tick(ctx, 1+len(p.cpe)), fail)
	case len(p.affs) == 0:
		return nil // every entry was malformed and reported
	}
	rid := b.nextRID
	b.nextRID++
	row := make([]any, 0, 16)
	row = append(append(append(row, rid), p.vals...), p.pairs, p.digest)
	if err := b.insAdv.add(ctx, row...); err != nil {
		return fail(err)
	}
	for i, f := range p.affs {
		row = append(append(row[:0], f.ns, f.pkg, rid, int64(i)), f.vals...)
		if err := b.insAff.add(ctx, append(row, f.digest[:])...); err != nil {
			return fail(err)
		}
	}
	for _, al := range p.aliases {
		if al == "" || al == p.id {
			continue
		}
		if err := b.insAlias.add(ctx, al, rid); err != nil {
			return fail(err)
		}
	}
	b.cur.Advisories++
	b.cur.Affected += len(p.affs)
	return fail0(b.tick(ctx, 1+len(p.affs)+len(p.aliases)), fail)
}

func fail0(err error, fail func(error) error) error {
	if err != nil {
		return fail(err)
	}
	return nil
}

var validStatus = map[advisory.Status]bool{
	advisory.StatusFixed: true, advisory.StatusAffected: true,
	advisory.StatusWillNotFix: true, advisory.StatusNotAffected: true,
}

var validKind = map[advisory.PackageKind]bool{
	advisory.KindSource: true, advisory.KindBinary: true, advisory.KindLanguage: true,
}

func checkAffected(f *advisory.Affected) error {
	switch {
	case strings.TrimSpace(f.Namespace) == "":
		return errors.New("empty namespace")
	case strings.TrimSpace(f.Package) == "":
		return errors.New("empty package name")
	case !validStatus[f.Status]:
		return fmt.Errorf("unknown status %q", f.Status)
	case f.Kind != "" && !validKind[f.Kind]:
		return fmt.Errorf("unknown package kind %q", f.Kind)
	case !f.FixChannel.Valid():
		return fmt.Errorf("unknown fix channel %q", f.FixChannel)
	case f.FixChannel != advisory.ChannelStandard && f.Status != advisory.StatusFixed:
		return fmt.Errorf("fix channel %q on a record with status %q", f.FixChannel, f.Status)
	}
	return nil
}

// deleteFrom removes what a failed Parse of source stored (advisories from
// rid first on, which are all this source's, and its enrichment records).
func (b *builder) deleteFrom(ctx context.Context, source string, first int64) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	for _, q := range append([]string{
		`DELETE FROM affected WHERE advisory >= ?1`,
		`DELETE FROM aliases WHERE advisory >= ?1`,
		`DELETE FROM advisories WHERE rid >= ?1`,
		`DELETE FROM cvss WHERE source = ?2`,
		`DELETE FROM rejected WHERE source = ?2`,
		cpeDeleteQuery,
	}, exploitDeleteQueries()...) {
		if _, err := b.conn.ExecContext(ctx, q, first, source); err != nil {
			return fmt.Errorf("vulndb: update %s: discard partial records: %w", source, err)
		}
	}
	return nil
}

// copyForward copies the previous records of the named sources. Advisory
// rowids are shifted by one offset so they stay unique and keep their order.
func (b *builder) copyForward(ctx context.Context, names []string, prev map[string]*prevSource) error {
	if len(names) == 0 || !b.hasPrev {
		return nil
	}
	if err := b.commit(ctx); err != nil {
		return err
	}
	if err := b.begin(ctx); err != nil {
		return err
	}
	if _, err := b.conn.ExecContext(ctx, `CREATE TEMP TABLE copysrc(name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("vulndb: copy forward: %w", err)
	}
	for _, n := range names {
		if _, err := b.conn.ExecContext(ctx, `INSERT INTO copysrc VALUES(?)`, n); err != nil {
			return fmt.Errorf("vulndb: copy forward: %w", err)
		}
	}
	var off int64
	if err := b.conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(rid), 0) FROM advisories`).Scan(&off); err != nil {
		return fmt.Errorf("vulndb: copy forward: %w", err)
	}
	qs := []string{
		`INSERT INTO advisories SELECT rid + ?1, ` + advCols + `, pairs, digest FROM prev.advisories
			WHERE source IN (SELECT name FROM copysrc) ORDER BY rid`,
		`INSERT INTO affected SELECT namespace, package, advisory + ?1, seq, ` + affCols + `, digest FROM prev.affected
			WHERE advisory IN (SELECT rid FROM prev.advisories WHERE source IN (SELECT name FROM copysrc))`,
		`INSERT INTO aliases SELECT alias, advisory + ?1 FROM prev.aliases
			WHERE advisory IN (SELECT rid FROM prev.advisories WHERE source IN (SELECT name FROM copysrc))`,
		`INSERT INTO cvss SELECT * FROM prev.cvss WHERE source IN (SELECT name FROM copysrc)`,
		`INSERT INTO rejected SELECT * FROM prev.rejected WHERE source IN (SELECT name FROM copysrc)`,
		cpeCopyQuery,
	}
	qs = append(append(qs, exploitCopyQueries()...), `DROP TABLE temp.copysrc`)
	for _, q := range qs {
		if _, err := b.conn.ExecContext(ctx, q, off); err != nil {
			return fmt.Errorf("vulndb: copy forward %v: %w", names, err)
		}
	}
	for _, n := range names {
		if p := prev[n]; p != nil {
			b.stateOf[n] = p.state
			b.prevMalformed[n] = p.malformedCount
		}
	}
	return nil
}

// cloneable says whether the new DB's records would be exactly the
// previous DB's: nothing was stored by this build and every source with
// previous records is copied forward (none is dropped).
func (b *builder) cloneable(ctx context.Context, names []string, prev map[string]*prevSource) (bool, error) {
	if b.opts.noClone || !b.hasPrev || len(names) == 0 || len(names) != len(prev) {
		return false, nil
	}
	for _, n := range names {
		if prev[n] == nil {
			return false, nil
		}
	}
	var rows int
	if err := b.conn.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM advisories) + (SELECT COUNT(*) FROM cvss) + (SELECT COUNT(*) FROM rejected) + (SELECT COUNT(*) FROM cpe_ranges) + `+exploitRowsSQL).Scan(&rows); err != nil {
		return false, fmt.Errorf("vulndb: copy forward: %w", err)
	}
	return rows == 0, nil
}

// cloneFrom replaces the file being built by a copy of the previous DB
// (prevPath), when every source is copied forward unchanged: copying the
// file is much cheaper than copying its rows and rebuilding its indexes and
// pair hashes, and gives the same records with the same rowids. finish then
// rewrites the sources, meta and changes tables.
func (b *builder) cloneFrom(ctx context.Context, prevPath, tmp string, names []string, prev map[string]*prevSource) error {
	fail := func(err error) error { return fmt.Errorf("vulndb: copy forward (file copy): %w", err) }
	if err := b.commit(ctx); err != nil {
		return err
	}
	if _, err := b.conn.ExecContext(ctx, `DETACH DATABASE prev`); err != nil {
		return fail(err)
	}
	if err := b.close(); err != nil {
		return fail(err)
	}
	if err := cloneFile(prevPath, tmp); err != nil {
		return fail(err)
	}
	if err := b.open(ctx, tmp); err != nil {
		return err
	}
	if _, err := b.attachPrev(ctx, prevPath); err != nil {
		return fail(err)
	}
	b.cloned = true
	b.opts.hook("cloned")
	for _, q := range []string{`DELETE FROM sources`, `DELETE FROM meta`, `DELETE FROM changes`} {
		if _, err := b.conn.ExecContext(ctx, q); err != nil {
			return fail(err)
		}
	}
	for _, n := range names {
		b.stateOf[n] = prev[n].state
		b.prevMalformed[n] = prev[n].malformedCount
	}
	return nil
}

// cloneFile copies src over dst (the kernel copies on Linux).
func cloneFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// finish writes indexes, per-pair hashes, the change set against the
// previous DB, the sources and meta tables. It returns the number of changed
// pairs, or -1 without a comparable previous DB.
func (b *builder) finish(ctx context.Context, buildID string, builtAt time.Time, comparable bool) (int, error) {
	if err := b.flush(ctx); err != nil {
		return 0, err
	}
	exec := func(stage, q string, args ...any) error {
		if _, err := b.conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("vulndb: build: %s: %w", stage, err)
		}
		return nil
	}
	if !b.cloned {
		if err := exec("indexes", indexSQL); err != nil {
			return 0, err
		}
	}
	if err := b.applyRejections(ctx); err != nil {
		return 0, err
	}
	if !b.cloned {
		t0 := b.opts.Now()
		if err := b.writePairs(ctx); err != nil {
			return 0, err
		}
		b.opts.Logger.Info("pair hashes written", "duration", b.opts.Now().Sub(t0))
	}
	changed := -1
	if comparable && b.hasPrev {
		if err := exec("changes", `INSERT INTO changes
			SELECT n.namespace, n.package FROM pairs n
				WHERE NOT EXISTS (SELECT 1 FROM prev.pairs p WHERE p.namespace = n.namespace AND p.package = n.package AND p.hash = n.hash)
			UNION
			SELECT p.namespace, p.package FROM prev.pairs p
				WHERE NOT EXISTS (SELECT 1 FROM pairs n WHERE n.namespace = p.namespace AND n.package = p.package)`); err != nil {
			return 0, err
		}
		if err := b.conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM changes`).Scan(&changed); err != nil {
			return 0, fmt.Errorf("vulndb: build: changes: %w", err)
		}
	}
	if err := b.fillVersions(ctx); err != nil {
		return 0, err
	}
	for _, s := range b.sources {
		// Failed sources get a row too, so that `db status` shows them;
		// the next update does not treat it as previous data.
		mal := s.Malformed
		count := len(mal)
		if s.Outcome != Updated {
			count = max(count, b.prevMalformed[s.Name])
		}
		if len(mal) > maxStoredMalformed {
			mal = mal[:maxStoredMalformed]
		}
		mj, err := jsonList(mal)
		if err != nil {
			return 0, fmt.Errorf("vulndb: build: sources: %w", err)
		}
		state := b.stateOf[s.Name]
		sj := ""
		if state != nil {
			bs, err := json.Marshal(state)
			if err != nil {
				return 0, fmt.Errorf("vulndb: build: sources: %w", err)
			}
			sj = string(bs)
		}
		pj, err := encodeParts(s.Parts)
		if err != nil {
			return 0, fmt.Errorf("vulndb: build: sources: %w", err)
		}
		cj, err := encodeCoverage(s)
		if err != nil {
			return 0, fmt.Errorf("vulndb: build: sources: %w", err)
		}
		if err := exec("sources", `INSERT INTO sources VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			s.Name, string(s.Outcome), s.Err, s.Advisories, s.Affected, s.Enrichment, count, mj,
			s.Rejected, s.Withdrawn, fmtTime(s.Newest), fmtTime(s.FetchedAt), fmtTime(s.CheckedAt), sj, pj, cj); err != nil {
			return 0, err
		}
	}
	meta := [][2]string{
		{"schema_version", fmt.Sprint(SchemaVersion)},
		{"build_id", buildID},
		{"built_at", fmtTime(builtAt)},
		{"changes_complete", fmt.Sprint(changed >= 0)},
	}
	for _, kv := range meta {
		if err := exec("meta", `INSERT INTO meta VALUES(?, ?)`, kv[0], kv[1]); err != nil {
			return 0, err
		}
	}
	if b.hasPrev {
		var prevID string
		_ = b.conn.QueryRowContext(ctx, `SELECT value FROM prev.meta WHERE key = 'build_id'`).Scan(&prevID)
		if err := exec("meta", `INSERT INTO meta VALUES('previous_build', ?)`, prevID); err != nil {
			return 0, err
		}
	}
	if err := b.commit(ctx); err != nil {
		return 0, err
	}
	if b.hasPrev {
		if err := exec("detach", `DETACH DATABASE prev`); err != nil {
			return 0, err
		}
	}
	return changed, nil
}
