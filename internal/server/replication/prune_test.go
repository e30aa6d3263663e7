package replication

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// TestQueueStatusesAndPrune, on SQLite and PostgreSQL: pushes are
// enqueued once per image and destination its rules name (a re-push adds
// no row), statuses follow the rows, and Prune drops the finished rows of
// deleted images only.
func TestQueueStatusesAndPrune(t *testing.T) {
	for _, db := range testStores {
		t.Run(db.name, func(t *testing.T) { testQueue(t, db.open(t)) })
	}
}

// testStores are the stores the outbox tests run on: SQLite in a
// temporary file and PostgreSQL in a fresh schema.
var testStores = []struct {
	name string
	open func(t *testing.T) *store.SQL
}{
	{"sqlite", func(t *testing.T) *store.SQL {
		st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", storetest.Postgres},
}

func testQueue(t *testing.T, st *store.SQL) {
	ctx := context.Background()
	open, err := auth.New(nil, nil, []byte("k"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(ctx, registry.Options{Dir: t.TempDir(), Store: st, Auth: open})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Shutdown() })
	u, _ := url.Parse("http://127.0.0.1:1") // nothing listens: every delivery fails
	r, err := New(ctx, Options{
		DB: st.DB(), Dialect: st.Dialect(), Store: st, Source: reg, Self: self,
		Destinations: []auth.Destination{{Region: dr.Region, RegistryID: dr.RegistryID, URL: u}},
		MaxAttempts:  1, // the first failure gives a row up
	})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.PutConfiguration(ctx, Config{Rules: []Rule{{Destinations: []Destination{dr}, RepositoryFilters: []Filter{{Filter: "prod", FilterType: FilterPrefixMatch}}}}}))
	img := func(repo, dgst string) {
		t.Helper()
		_, err := st.PutImage(ctx, store.Image{Repository: repo, Digest: dgst, MediaType: "application/vnd.oci.image.manifest.v1+json", PushedAt: time.Now()}, "")
		must(err)
		must(r.Push(ctx, repo, dgst))
	}
	d1, d2, d3 := "sha256:"+rep("1"), "sha256:"+rep("2"), "sha256:"+rep("3")
	must(st.CreateRepository(ctx, store.Repository{Name: "prod/app", CreatedAt: time.Now()}))
	must(st.CreateRepository(ctx, store.Repository{Name: "dev/app", CreatedAt: time.Now()}))
	img("prod/app", d1)
	img("prod/app", d2)
	img("prod/app", d2) // pushed again: the same row
	img("dev/app", d3)  // no rule
	statuses := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, k := range []struct{ repo, dgst string }{{"prod/app", d1}, {"prod/app", d2}, {"dev/app", d3}} {
			sts, err := r.Statuses(ctx, k.repo, k.dgst)
			must(err)
			for _, s := range sts {
				out[k.repo+"@"+k.dgst] = s.Destination.Key() + " " + s.Status
			}
		}
		return out
	}
	want := map[string]string{"prod/app@" + d1: "us-west-2/210987654321 IN_PROGRESS", "prod/app@" + d2: "us-west-2/210987654321 IN_PROGRESS"}
	if diff := cmp.Diff(want, statuses()); diff != "" {
		t.Fatalf("statuses after the pushes (-want +got):\n%s", diff)
	}
	n, err := r.DispatchOnce(ctx)
	must(err)
	if n != 2 {
		t.Fatalf("DispatchOnce claimed %d rows, want 2", n)
	}
	for k := range want {
		want[k] = "us-west-2/210987654321 FAILED"
	}
	if diff := cmp.Diff(want, statuses()); diff != "" {
		t.Fatalf("statuses after the failed deliveries (-want +got):\n%s", diff)
	}
	// Nothing is pruned while the images exist; deleting one prunes its row.
	pruned, err := r.Prune(ctx)
	must(err)
	if pruned != 0 {
		t.Fatalf("Prune with every image stored deleted %d rows", pruned)
	}
	must(st.DeleteImage(ctx, "prod/app", d1))
	pruned, err = r.Prune(ctx)
	must(err)
	if pruned != 1 {
		t.Fatalf("Prune after deleting one image deleted %d rows, want 1", pruned)
	}
	delete(want, "prod/app@"+d1)
	if diff := cmp.Diff(want, statuses()); diff != "" {
		t.Fatalf("statuses after Prune (-want +got):\n%s", diff)
	}
	// A re-push of a given-up image re-arms its row.
	img("prod/app", d2)
	want["prod/app@"+d2] = "us-west-2/210987654321 IN_PROGRESS"
	if diff := cmp.Diff(want, statuses()); diff != "" {
		t.Fatalf("statuses after a re-push (-want +got):\n%s", diff)
	}
}

func rep(c string) string {
	s := ""
	for range 64 {
		s += c
	}
	return s
}
