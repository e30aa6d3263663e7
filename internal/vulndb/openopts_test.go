package vulndb

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// TestOpenNoMmap: a handle opened with NoMmap maps nothing of the file
// (every connection's mmap_size is 0, where Open's is not) and reads the same
// records.
func TestOpenNoMmap(t *testing.T) {
	dir := t.TempDir()
	mustUpdate(t, dir, &fakeUpdater{name: "alpine", version: "1", advs: []*advisory.Advisory{
		osAdv("ALPINE-1", "alpine:3.19", "musl", "1.2.4-r3"),
		osAdv("ALPINE-2", "alpine:3.19", "musl", "1.2.4-r5"),
	}})
	ctx := context.Background()
	mapped := mustOpen(t, dir)
	plain, err := OpenWith(ctx, dir, OpenOptions{NoMmap: true})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, c := range []struct {
		name   string
		db     *DB
		mapped bool
	}{{"Open", mapped, true}, {"OpenWith NoMmap", plain, false}} {
		// Every pooled connection: hold them all at once.
		n := c.db.db.Stats().OpenConnections
		conns := make([]interface{ Close() error }, 0, n)
		for range n {
			conn, err := c.db.db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
			var got int64
			if err := conn.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&got); err != nil {
				t.Fatal(err)
			}
			// Open asks for 16 GiB; SQLite caps it (2 GiB in this build).
			if (got > 0) != c.mapped {
				t.Errorf("%s: mmap_size = %d, want mapped %v", c.name, got, c.mapped)
			}
		}
		for _, conn := range conns {
			conn.Close()
		}
	}
	a, err := mapped.Lookup(ctx, "alpine:3.19", "musl")
	if err != nil {
		t.Fatal(err)
	}
	b, err := plain.Lookup(ctx, "alpine:3.19", "musl")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 {
		t.Fatalf("Lookup: %d records, want 2", len(a))
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("NoMmap reads other records (-Open +NoMmap):\n%s", diff)
	}
}
