package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// testPutImageInTx: PutImage's inTx run in its transaction with created,
// their writes commit with the image, and an error from one (a failed
// write in the transaction included) records nothing: no image, no tag,
// no scan job, none of the earlier functions' rows.
func testPutImageInTx(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	must(t, s.CreateRepository(ctx, store.Repository{Name: "app", CreatedAt: t0}))
	mark := func(ctx context.Context, tx *store.Tx, created bool) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, "pushtx-mark", "set")
		return err
	}
	scan := func(ctx context.Context, tx *store.Tx, created bool) error {
		if !created {
			return nil
		}
		return tx.StartScan(ctx, "app", "sha256:"+hex64('a'), false, t0, 0)
	}
	boom := errors.New("boom")
	failing := func(context.Context, *store.Tx, bool) error { return boom }
	badSQL := func(ctx context.Context, tx *store.Tx, _ bool) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO no_such_table (x) VALUES (?)`, 1)
		return err
	}
	for _, tt := range []struct {
		name string
		fns  []store.PushFunc
		// wantErr is nil when the push commits.
		wantErr error
	}{
		{"commits with its writes", []store.PushFunc{mark, scan}, nil},
		{"an error rolls back", []store.PushFunc{mark, scan, failing}, boom},
		{"a failed statement rolls back", []store.PushFunc{mark, scan, badSQL}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dgst := "sha256:" + hex64('a')
			t.Cleanup(func() {
				_ = s.DeleteImage(ctx, "app", dgst)
				_, _ = s.DB().ExecContext(ctx, s.Rebind(`DELETE FROM settings WHERE name = ?`), "pushtx-mark")
				_, _ = s.DB().ExecContext(ctx, `DELETE FROM jobs`)
			})
			var sawCreated []bool
			seen := func(_ context.Context, _ *store.Tx, created bool) error {
				sawCreated = append(sawCreated, created)
				return nil
			}
			fns := append([]store.PushFunc{seen}, tt.fns...)
			created, err := s.PutImage(ctx, store.Image{Repository: "app", Digest: dgst, MediaType: "m", PushedAt: t0}, "v1", fns...)
			commit := tt.name == "commits with its writes"
			if commit != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("PutImage = %v, %v; want commit %v (error %v)", created, err, commit, tt.wantErr)
			}
			if diff := cmp.Diff([]bool{true}, sawCreated); diff != "" {
				t.Errorf("created seen in the transaction (-want +got):\n%s", diff)
			}
			got := map[string]bool{}
			if _, err := s.GetImage(ctx, "app", dgst); err == nil {
				got["image"] = true
			}
			if d, err := s.ResolveTag(ctx, "app", "v1"); err == nil && d == dgst {
				got["tag"] = true
			}
			var v string
			if err := s.DB().QueryRowContext(ctx, s.Rebind(`SELECT value FROM settings WHERE name = ?`), "pushtx-mark").Scan(&v); err == nil && v == "set" {
				got["mark"] = true
			}
			n, err := s.QueueDepth(ctx)
			must(t, err)
			if n == 1 {
				got["job"] = true
			}
			want := map[string]bool{}
			if commit {
				want = map[string]bool{"image": true, "tag": true, "mark": true, "job": true}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rows after PutImage (-want +got):\n%s", diff)
			}
			if !commit {
				return
			}
			// Again: not created, and the functions still run.
			sawCreated = nil
			created, err = s.PutImage(ctx, store.Image{Repository: "app", Digest: dgst, MediaType: "m", PushedAt: t0}, "v1", seen)
			must(t, err)
			if created || !cmp.Equal([]bool{false}, sawCreated) {
				t.Errorf("second PutImage: created %v, seen %v; want false, [false]", created, sawCreated)
			}
		})
	}
}
