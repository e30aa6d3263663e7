package jobs

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// TestHooks checks that Prepare hooks write in the completing transaction,
// that a failing hook rolls the whole completion back and is retried, and
// that After hooks see only committed outcomes.
func TestHooks(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE hook_log (digest TEXT NOT NULL, status TEXT NOT NULL)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ds := enqueue(t, s, "app", 2)

	var mu sync.Mutex
	failOnce := map[string]bool{ds[1]: true}
	var after []string
	prep := func(ctx context.Context, j *store.Job, res *scanning.Result, out *store.JobOutcome) error {
		out.InTx = append(out.InTx, func(ctx context.Context, tx *store.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hook_log (digest, status) VALUES (?, ?)`, j.Digest, out.Status); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if failOnce[j.Digest] {
				failOnce[j.Digest] = false
				return errors.New("hook failure")
			}
			return nil
		})
		return nil
	}
	aft := func(ctx context.Context, j *store.Job, res *scanning.Result, out store.JobOutcome) {
		mu.Lock()
		defer mu.Unlock()
		after = append(after, j.Digest+" "+out.Status)
	}
	stop := runPool(t, Options{
		Queue: s, Images: fakeImages{}, Scanner: &countingScanner{}, ErrNotImage: errNotImage,
		PollInterval: 20 * time.Millisecond, RetryBackoff: 10 * time.Millisecond,
		Prepare: []PrepareFunc{prep}, After: []AfterFunc{aft},
	})
	defer stop()
	got := waitScans(t, s, "app", ds, 10*time.Second)
	for d, sc := range got {
		if sc.Status != "COMPLETE" {
			t.Errorf("%s: %s (%s)", d, sc.Status, sc.Description)
		}
	}
	// The failed hook's insert was rolled back: one row per digest.
	rows, err := s.DB().QueryContext(ctx, `SELECT digest FROM hook_log ORDER BY digest`)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		logged = append(logged, d)
	}
	rows.Close()
	if diff := cmp.Diff(ds, logged); diff != "" {
		t.Errorf("rows written by the hook (-want +got):\n%s", diff)
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	if len(after) != 2 {
		t.Errorf("After hooks ran for %v, want once per committed outcome", after)
	}
}
