// Package vulndb is Stowaway's embedded vulnerability DB: a SQLite file
// (modernc.org/sqlite, pure Go) built from the feed updaters, looked up by
// (namespace, package), swapped in atomically, and moved between machines
// as an OCI artifact.
//
// # On-disk layout
//
// A DB directory (DefaultDir: $STOWAWAY_DB_DIR, else
// $XDG_CACHE_HOME/stowaway/db or ~/.cache/stowaway/db) holds:
//
//	CURRENT                  one line: the file name of the current DB
//	db-<UTC time>.sqlite     published DB files, never modified once renamed
//	db-<UTC time>.sqlite.tmp a build or pull in progress (or left by a crash)
//	LOCK                     flock(2) taken by writers (Update, Pull)
//	cache/<updater>/         files an incremental updater (feed.Cacher)
//	                         keeps between runs (an archive and the
//	                         documents changed since it)
//
// Tables of one DB file (schema version SchemaVersion):
//
//	meta(key, value)                 schema_version, build_id, built_at,
//	                                 previous_build, changes_complete
//	sources(name, outcome, error, advisories, affected, enrichment,
//	        malformed, malformed_json, rejected, withdrawn, newest,
//	        fetched_at, checked_at, state_json, parts_json, coverage_json)
//	                                 one row per source; state_json is the
//	                                 feed.State for the next conditional fetch;
//	                                 parts_json the records per part of the
//	                                 source (feed.Stats.Parts), "" if none;
//	                                 coverage_json its namespaces and what
//	                                 superseded it (see Superseded sources)
//	advisories(rid, id, source, summary, description, vendor_severity,
//	        severity, cvss, refs, aliases, published, modified, withdrawn,
//	        pairs, digest)           one row per advisory that names packages
//	affected(namespace, package, advisory, seq, kind, module, status,
//	        severity, vendor_advisory, ranges, versions, arches,
//	        fix_channel, go_imports, digest)
//	                                 fix_channel: "" (standard archive),
//	                                 esm-infra, esm-apps or
//	                                 esm-infra-legacy; go_imports: an
//	                                 osv:Go row's vulnerable packages and
//	                                 symbols (JSON), "" otherwise; digest: the row's
//	                                 part of its pair's hash (its columns
//	                                 and its advisory's digest)
//	                                 WITHOUT ROWID, primary key (namespace,
//	                                 package, advisory, seq): the rows of one
//	                                 pair are contiguous, so Lookup is one
//	                                 B-tree seek plus a short scan
//	aliases(alias, advisory)         alias -> advisory rid
//	cvss(id, source, ...)            advisories without affected packages
//	                                 (NVD): CVSS and description by CVE id
//	rejected(id, source)             CVE ids that a source marks rejected
//	pairs(namespace, package, records, hash)
//	                                 a hash of each pair's records
//	changes(namespace, package)      pairs that differ from previous_build
//	kev(cve, source, date_added, due_date, ransomware, vendor_project,
//	        product, name, required_action)
//	                                 CISA KEV entries (the kev source)
//	epss(cve, source, score, percentile)
//	                                 FIRST EPSS scores (the epss source)
//	cpe_ranges(cpe, cve, source, modified, seq, version, start,
//	        start_excl, end_, end_incl)
//	                                 NVD's vulnerable cpeMatch ranges of the
//	                                 classified products' CPEs (cpe.go),
//	                                 read by Lookup in namespace nvd:cpe
//	source_versions(source, version) a source's data-set version
//	                                 (feed.Stats.Version: KEV
//	                                 catalogVersion, EPSS model and date)
//
// Lists (CVSS, references, ranges ...) are JSON text; times are fixed-width
// UTC text. Secondary indexes advisories(id) and advisories(source) are
// built after the bulk load.
//
// # Build and atomic swap
//
// Update, under LOCK:
//
//  1. creates db-<time>.sqlite.tmp with bulk-load pragmas (journal_mode=OFF,
//     synchronous=OFF, locking_mode=EXCLUSIVE, page_size=8192, a 32 MiB
//     cache) and attaches the current DB read-only;
//  2. fetches each updater with the state stored in the current DB and
//     parses it, several sources at a time (UpdateOptions.Parallel) each in
//     its own goroutine, which also validates and encodes the records;
//     one writer (Update's goroutine, the only user of the connection)
//     stores them in updater order through multi-row INSERTs (256 rows a
//     statement), committing every BatchSize rows. The affected and alias
//     rows of a transaction are written in primary-key order (buffered in
//     a pointer-free arena until the commit: inserting a B-tree's keys in
//     order is about half the work of inserting them where one record's
//     rows fall); KEV and EPSS rows go 256 a statement too, through
//     INSERT OR IGNORE ... RETURNING, whose missing rows are the repeated
//     CVEs reported as malformed. The parser's goroutine
//     also computes each affected row's digest, stored with the row. A
//     parser runs at most a few batches of 256 records ahead of the writer
//     (memory stays bounded: nothing is collected), and each source's rows
//     stay contiguous, so the file is
//     the same as a sequential build's. Progress reports each source's
//     start, its records and bytes read about once a second, and its end;
//  3. copies forward the previous rows of sources whose fetch said
//     Unchanged or whose fetch or parse failed (a failed parse first deletes
//     its partial rows), so a failing download never loses data. When
//     every source is copied forward and none is dropped (a no-change
//     update), the previous file itself is copied instead of its rows: the
//     records, rowids, indexes and pair hashes are then already right, and
//     only sources, meta and the (empty) change set are rewritten;
//  4. builds the indexes, applies the rejections (rewriting the row
//     digests of records that lose an alias), writes the pairs hashes
//     (one walk of affected in key order, reading the key and the row
//     digests only), the change set, sources and meta;
//  5. closes the file, fsyncs it, renames it to db-<time>.sqlite, fsyncs
//     the directory, writes CURRENT.tmp, fsyncs it, renames it over CURRENT
//     and fsyncs the directory again;
//  6. removes DB files other than the new and the previous one, and stale
//     .tmp files.
//
// A crash anywhere before the CURRENT rename leaves CURRENT naming the old
// file, which no writer ever modifies; leftovers are removed by the next
// Update or Pull. Open follows CURRENT, opens the file read-only, immutable
// (no locking) and memory-mapped, and keeps its connections for its whole life, so a reader that
// opened the old DB finishes on it even after it is unlinked (on Linux an
// open file outlives its name). Readers never take a lock.
//
// # Withdrawn records and rejected CVE ids
//
// A record that its own source withdrew (Advisory.Withdrawn; parsers may
// also drop such records themselves and count them in feed.Stats.Withdrawn)
// is never stored: it cannot be a finding. It withdraws that record only: a
// withdrawn GHSA does not reject the CVE it aliases.
//
// A CVE id that the CVE program rejected yields no finding from any source.
// A record says so with Advisory.Rejected: NVD's, the Ubuntu CVE tracker's
// and Ubuntu OVAL's copy of the CVE text is the rejection notice ("Rejected
// reason: ..." or "** REJECT ** DO NOT USE THIS CANDIDATE NUMBER ..."), and
// Red Hat writes "[REJECTED CVE] ...". Such
// a record is not stored either; its id goes into the rejected table. At
// the end of the build (after every source was parsed or copied forward,
// before the pair hashes), every source's records of a rejected id are
// deleted, and records that list it as an alias lose that alias but stay
// (a CVE rejected as a duplicate leaves the DSA, ALAS or GHSA that named it
// standing for a real fix, reported under its own id or its other CVEs).
// So the rule holds at
// build time, for every reader (scan, rescans, the server, Advisory and
// ByAlias), whatever the order of the updaters, at a cost bounded by the
// rejected ids (index seeks only). Sources without a rejection marker
// (Alpine secdb, Amazon ALAS, Debian's OSV records, Oracle ELSA) are covered
// by the others' marks. The per-source counts are in SourceReport.Rejected and
// .Withdrawn, `db update` and `db status`. A known limit: when a rejection
// is lifted, records of another source that was copied forward unchanged
// come back only when that source is fetched anew.
//
// # Superseded sources
//
// UpdateOptions.Supersedes names, per source, a better source that
// replaces it release by release (from the distribution descriptors:
// Ubuntu's tracker supersedes its OVAL files). The superseded source's job
// waits for the better source's parse to end (the better source comes
// first among the updaters, and the writer consumes jobs in order, so this
// cannot deadlock) and takes its namespaces: those of its records parsed in
// this update, or, when it was not parsed (unchanged, failed, kept), the
// ones stored with it (sources.coverage_json). The superseded source is
// then read without those namespaces: an updater that implements
// SkipNamespaces leaves their files unread, and any other's records in
// them are dropped as they are emitted (a record left with no affected
// entry is not stored; rejected and withdrawn records are kept whole).
// coverage_json also stores the better source's namespaces the
// superseded one was read against: when they differ in a later update, the
// superseded source is fetched and parsed in full even if its own files
// are unchanged, so its stored records always match the better source's
// current coverage. SourceReport.Superseded (and `db status`) lists the
// namespaces left out.
//
// # OCI artifact
//
// Push stores the current DB file as an OCI image manifest with
// artifactType and config mediaType "application/vnd.stowaway.db.v1" (the
// config blob is a small JSON summary, so registries without artifactType
// still see the type) and one layer of mediaType
// "application/vnd.stowaway.db.layer.v1.sqlite+zstd" (the file compressed
// with zstd). Manifest annotations carry the schema version, build id, build
// time and the uncompressed SHA-256. Pull checks the manifest's type and
// schema version before downloading, verifies the layer's digest and the
// uncompressed digest while streaming it into a .tmp file in the DB
// directory, opens it to check the schema again, and publishes it exactly
// like Update.
package vulndb
