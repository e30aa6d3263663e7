package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// The registry's replication configuration (PutReplicationConfiguration),
// kept as the JSON document internal/server/replication validated, in the
// settings table: replicas sharing a database share it.

const replicationConfigKey = "registry-replication-configuration"

// GetReplicationConfig returns the stored replication configuration, nil
// when none was ever put.
func (s *SQL) GetReplicationConfig(ctx context.Context) (json.RawMessage, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), replicationConfigKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: get replication configuration: %w", err)
	}
	return json.RawMessage(v), nil
}

// PutReplicationConfig replaces the replication configuration.
func (s *SQL) PutReplicationConfig(ctx context.Context, cfg json.RawMessage) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		replicationConfigKey, string(cfg)); err != nil {
		return fmt.Errorf("store: put replication configuration: %w", err)
	}
	return nil
}
