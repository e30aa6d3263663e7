package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Server settings: the registry scanning configuration and server secrets.

const scanningConfigKey = "registry-scanning-configuration"

func (s *SQL) GetScanningConfig(ctx context.Context) (json.RawMessage, error) {
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), scanningConfigKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: get scanning configuration: %w", err)
	}
	return json.RawMessage(v), nil
}

func (s *SQL) PutScanningConfig(ctx context.Context, cfg json.RawMessage) error {
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
		scanningConfigKey, string(cfg)); err != nil {
		return fmt.Errorf("store: put scanning configuration: %w", err)
	}
	return nil
}

// Secret returns the named server secret, creating it from gen when
// absent, so that replicas sharing a database share it.
func (s *SQL) Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	key := "secret:" + name
	var v string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), key).Scan(&v)
	if err == nil {
		return []byte(v), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: read secret: %w", err)
	}
	fresh, err := gen()
	if err != nil {
		return nil, fmt.Errorf("store: generate secret: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), key, string(fresh)); err != nil {
		return nil, fmt.Errorf("store: write secret: %w", err)
	}
	// Read back: another replica may have won the race.
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM settings WHERE name = ?`), key).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: read secret: %w", err)
	}
	return []byte(v), nil
}
