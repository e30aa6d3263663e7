package store

import (
	"context"
	"database/sql"
)

// Tx is a store transaction handed to feature code that must write in the
// same transaction as a store operation (JobOutcome.InTx): an event enqueued
// in the outbox, an inventory saved with its scan. Queries use '?'
// placeholders in both dialects; Tx rewrites them for PostgreSQL.
type Tx struct {
	tx *sql.Tx
	s  *SQL
}

// TxFunc is work run inside a store transaction.
type TxFunc func(ctx context.Context, tx *Tx) error

// ExecContext runs a statement in the transaction.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.s.q(query), args...)
}

// QueryContext runs a query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.s.q(query), args...)
}

// QueryRowContext runs a one-row query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.s.q(query), args...)
}

// Dialect is "sqlite" or "postgres".
func (t *Tx) Dialect() string { return t.s.d.name }

// InTx runs fn in one transaction of the store (IMMEDIATE under SQLite).
func (s *SQL) InTx(ctx context.Context, fn TxFunc) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return fn(ctx, &Tx{tx: tx, s: s}) })
}

// DB is the underlying handle, for feature code with tables of its own
// (the events outbox). Under SQLite it has a single connection: never use
// it while holding a Tx.
func (s *SQL) DB() *sql.DB { return s.db }

// Dialect is "sqlite" or "postgres".
func (s *SQL) Dialect() string { return s.d.name }

// Rebind rewrites '?' placeholders for the store's dialect.
func (s *SQL) Rebind(query string) string { return s.q(query) }
