package store

import (
	"context"
	"fmt"
	"time"
)

// Leases make one replica at a time run a singleton job (the rescan pass,
// the lifecycle pass) over a shared database: one row per job name in
// leases(name, holder, until), taken with one conditional upsert.

// leaseSchema is migration 3's table.
func (s *SQL) leaseSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS leases (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			until BIGINT NOT NULL)`,
		// The per-feature tables it replaces held only leases, which
		// expire within minutes: they are not carried over.
		`DROP TABLE IF EXISTS lifecycle_leases`,
		`DROP TABLE IF EXISTS rescan_leases`,
	}
}

// AcquireLease takes the named lease for holder until now+ttl, or renews it
// if holder has it. It fails (false) while another holder's lease runs.
func (s *SQL) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.until < ? OR leases.holder = excluded.holder`),
		name, holder, ms(now.Add(ttl)), ms(now))
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %q: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease ends holder's lease, if it still holds it.
func (s *SQL) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM leases WHERE name = ? AND holder = ?`), name, holder); err != nil {
		return fmt.Errorf("store: release lease %q: %w", name, err)
	}
	return nil
}
