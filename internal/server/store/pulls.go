package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Image pulls (scan eligibility). The schema is a contract other features
// read (lifecycle sinceImagePulled):
//
//	image_pulls(repo, digest, last_pulled_at)
//	    the last manifest GET of the image, by digest or tag.

func (s *SQL) pullsSchema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS image_pulls (
			repo TEXT NOT NULL,
			digest TEXT NOT NULL,
			last_pulled_at BIGINT NOT NULL,
			PRIMARY KEY (repo, digest))`,
	}
}

// RecordPull records a pull of an image at now. The row is only rewritten
// when the stored pull is older than now-throttle, so a busy image costs one
// write per throttle period; wrote reports a write.
func (s *SQL) RecordPull(ctx context.Context, repo, digest string, now time.Time, throttle time.Duration) (wrote bool, err error) {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO image_pulls (repo, digest, last_pulled_at) VALUES (?, ?, ?)
		ON CONFLICT (repo, digest) DO UPDATE SET last_pulled_at = excluded.last_pulled_at
		WHERE image_pulls.last_pulled_at <= ?`),
		repo, digest, ms(now), ms(now.Add(-throttle)))
	if err != nil {
		return false, fmt.Errorf("store: record pull: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record pull: %w", err)
	}
	return n == 1, nil
}

// LastPull returns when the image was last pulled (zero when never).
func (s *SQL) LastPull(ctx context.Context, repo, digest string) (time.Time, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT last_pulled_at FROM image_pulls WHERE repo = ? AND digest = ?`), repo, digest).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: last pull: %w", err)
	}
	return fromMS(v), nil
}
