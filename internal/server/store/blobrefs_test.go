package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

func TestBlobRefsSQLite(t *testing.T) {
	storetest.RunBlobRefs(t, func(t *testing.T) *store.SQL {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "stowaway.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestBlobRefsPostgres(t *testing.T) {
	storetest.RunBlobRefs(t, storetest.Postgres)
}
