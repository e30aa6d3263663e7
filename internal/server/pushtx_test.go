package server

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/replication"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// TestPushWritesInOneTransaction, on SQLite and PostgreSQL: a push to a
// scan-on-push repository that replication rules name records the image,
// its replication outbox row and its scan job together; when the outbox
// write fails, the push answers 500 and none of them is recorded.
func TestPushWritesInOneTransaction(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		for _, tt := range []struct {
			name        string
			breakOutbox bool
		}{
			{"push", false},
			{"failing outbox write", true},
		} {
			t.Run(db+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				dbURL := ""
				if db == "postgres" {
					dbURL = storetest.PostgresURL(t)
				}
				du, _ := url.Parse("http://127.0.0.1:1")
				s, err := New(ctx, Config{
					DataDir: t.TempDir(), DatabaseURL: dbURL, RegistryID: "123456789012", Region: "us-east-1",
					Replication: ReplicationConfig{Destinations: []ReplicationDestination{{Region: "us-west-2", RegistryID: "210987654321", URL: du}}},
				}, inspectorScanner{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				if err := s.store.CreateRepository(ctx, store.Repository{Name: "prod/app", CreatedAt: time.Now(), ScanOnPush: true}); err != nil {
					t.Fatal(err)
				}
				dst := replication.Destination{Region: "us-west-2", RegistryID: "210987654321"}
				if err := s.replicator.PutConfiguration(ctx, replication.Config{Rules: []replication.Rule{{Destinations: []replication.Destination{dst}}}}); err != nil {
					t.Fatal(err)
				}
				if tt.breakOutbox {
					if _, err := s.store.DB().ExecContext(ctx, `DROP TABLE `+replication.Table); err != nil {
						t.Fatal(err)
					}
				}
				srv := httptest.NewServer(s.Handler())
				t.Cleanup(srv.Close)
				img, err := random.Image(256, 1)
				if err != nil {
					t.Fatal(err)
				}
				dgst, _ := img.Digest()
				ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/prod/app:v1")
				if err != nil {
					t.Fatal(err)
				}
				err = remote.Write(ref, img, remote.WithRetryStatusCodes(), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
				if (err != nil) != tt.breakOutbox || (err != nil && !strings.Contains(err.Error(), "500")) {
					t.Fatalf("push: %v, want failure (a 500) %v", err, tt.breakOutbox)
				}
				got := map[string]bool{}
				if _, err := s.store.GetImage(ctx, "prod/app", dgst.String()); err == nil {
					got["image"] = true
				}
				if sc, err := s.store.GetScan(ctx, "prod/app", dgst.String()); err == nil && sc.Status == "IN_PROGRESS" {
					got["scan"] = true
				}
				if n, err := s.store.QueueDepth(ctx); err != nil {
					t.Fatal(err)
				} else if n == 1 {
					got["job"] = true
				}
				if !tt.breakOutbox {
					sts, err := s.replicator.Statuses(ctx, "prod/app", dgst.String())
					if err != nil {
						t.Fatal(err)
					}
					got["outbox"] = len(sts) == 1
				}
				want := map[string]bool{}
				if !tt.breakOutbox {
					want = map[string]bool{"image": true, "scan": true, "job": true, "outbox": true}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("recorded after the push (-want +got):\n%s", diff)
				}
			})
		}
	}
}
