package replication

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// crashAfterCommit is a store whose PutImage commits, then fails: the
// process "dies" right after the push's transaction, so nothing the
// registry would do after it (OnPush) runs.
type crashAfterCommit struct{ *store.SQL }

var errCrash = errors.New("simulated crash after commit")

func (c crashAfterCommit) PutImage(ctx context.Context, img store.Image, tag string, inTx ...store.PushFunc) (bool, error) {
	if _, err := c.SQL.PutImage(ctx, img, tag, inTx...); err != nil {
		return false, err
	}
	return false, errCrash
}

// TestPushEnqueuesInTransaction, on SQLite and PostgreSQL, pushes over
// HTTP through a registry whose PreparePush is the replicator's: the
// outbox row is written in the push's transaction, so it is there even
// when the process dies right after the commit, and a failing outbox
// write fails the push (500) with nothing recorded.
func TestPushEnqueuesInTransaction(t *testing.T) {
	for _, db := range testStores {
		for _, tt := range []struct {
			name string
			// breakOutbox makes the outbox write fail.
			breakOutbox bool
			crash       bool
			// want: the image is recorded, and its statuses.
			wantImage  bool
			wantStatus []string
		}{
			{name: "crash right after the commit", crash: true, wantImage: true, wantStatus: []string{"us-west-2/210987654321 IN_PROGRESS"}},
			{name: "failing outbox write", breakOutbox: true},
			{name: "push", wantImage: true, wantStatus: []string{"us-west-2/210987654321 IN_PROGRESS"}},
		} {
			t.Run(db.name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				st := db.open(t)
				open, err := auth.New(nil, nil, []byte("k"), time.Now)
				if err != nil {
					t.Fatal(err)
				}
				var rs registry.Store = st
				if tt.crash {
					rs = crashAfterCommit{st}
				}
				var r *Replicator
				onPush := 0
				reg, err := registry.New(ctx, registry.Options{
					Dir: t.TempDir(), Store: rs, Auth: open,
					PreparePush: func(ctx context.Context, img store.Image) (store.PushFunc, error) {
						enqueue, err := r.Prepare(ctx, img.Repository, img.Digest)
						if err != nil || enqueue == nil {
							return nil, err
						}
						return func(ctx context.Context, tx *store.Tx, _ bool) error { return enqueue(ctx, tx) }, nil
					},
					OnPush: func(context.Context, store.Image, bool) { onPush++ },
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = reg.Shutdown() })
				u, _ := url.Parse("http://127.0.0.1:1")
				r, err = New(ctx, Options{
					DB: st.DB(), Dialect: st.Dialect(), Store: st, Source: reg, Self: self,
					Destinations: []auth.Destination{{Region: dr.Region, RegistryID: dr.RegistryID, URL: u}},
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := r.PutConfiguration(ctx, Config{Rules: []Rule{{Destinations: []Destination{dr}}}}); err != nil {
					t.Fatal(err)
				}
				if tt.breakOutbox {
					if _, err := st.DB().ExecContext(ctx, `DROP TABLE `+Table); err != nil {
						t.Fatal(err)
					}
				}
				srv := httptest.NewServer(reg)
				t.Cleanup(srv.Close)
				img, err := random.Image(256, 1)
				if err != nil {
					t.Fatal(err)
				}
				dgst, err := img.Digest()
				if err != nil {
					t.Fatal(err)
				}
				ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/prod/app:v1")
				if err != nil {
					t.Fatal(err)
				}
				err = remote.Write(ref, img, remote.WithRetryStatusCodes(), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
				if wantOK := !tt.crash && !tt.breakOutbox; (err == nil) != wantOK {
					t.Fatalf("push: %v, want success %v", err, wantOK)
				}
				if tt.breakOutbox && !strings.Contains(err.Error(), "500") {
					t.Errorf("push with a failing outbox: %v, want a 500", err)
				}
				_, err = st.GetImage(ctx, "prod/app", dgst.String())
				if gotImage := err == nil; gotImage != tt.wantImage {
					t.Errorf("image recorded = %v (%v), want %v", gotImage, err, tt.wantImage)
				}
				if _, err := st.ResolveTag(ctx, "prod/app", "v1"); (err == nil) != tt.wantImage {
					t.Errorf("tag recorded: %v, want %v", err == nil, tt.wantImage)
				}
				if tt.breakOutbox {
					return
				}
				// A restarted server reads the queue afresh.
				r2, err := New(ctx, Options{DB: st.DB(), Dialect: st.Dialect(), Store: st, Source: reg, Self: self,
					Destinations: []auth.Destination{{Region: dr.Region, RegistryID: dr.RegistryID, URL: u}}})
				if err != nil {
					t.Fatal(err)
				}
				sts, err := r2.Statuses(ctx, "prod/app", dgst.String())
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, s := range sts {
					got = append(got, s.Destination.Key()+" "+s.Status)
				}
				if diff := cmp.Diff(tt.wantStatus, got); diff != "" {
					t.Errorf("statuses (-want +got):\n%s", diff)
				}
				if wantOnPush := map[bool]int{true: 0, false: 1}[tt.crash]; onPush != wantOnPush {
					t.Errorf("OnPush ran %d times, want %d", onPush, wantOnPush)
				}
			})
		}
	}
}
