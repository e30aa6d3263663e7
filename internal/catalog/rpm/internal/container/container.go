// Package container walks the Berkeley DB ("Packages") and NDB
// ("Packages.db") rpm database containers and checks header blobs, with
// every offset, length and chain checked, handing out the package header
// blobs one at a time. It is pure (no files, no go-rpmdb header decoding,
// no SQLite), so that it can be fuzzed quickly; package rpm decodes the
// headers.
//
// Damage costs the records it touches: a damaged page, entry, chain, slot
// or blob is skipped with a warning and the walk goes on. Work is linear in
// the file: every BDB page belongs to at most one overflow chain, and the
// NDB blobs handed out add up to at most the file size.
package container

// MaxHeaderSize bounds one package header. rpm's own limit is 256 MiB; real
// headers are at most a few MiB.
const MaxHeaderSize = 64 << 20
