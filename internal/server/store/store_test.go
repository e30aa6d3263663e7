package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.SQL {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db", "stowaway.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.SQL {
		return storetest.Postgres(t)
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	if _, err := store.Open(context.Background(), t.TempDir(), "mysql://x"); err == nil {
		t.Fatal("Open(mysql://) succeeded")
	}
}

func TestOpenDefaultIsSQLiteInDataDir(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, "stowaway.db")); err != nil {
		t.Fatalf("no database file in the data dir: %v", err)
	}
}

func TestReplicationSQLite(t *testing.T) {
	storetest.RunReplication(t, func(t *testing.T) *store.SQL {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db", "stowaway.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReplicationPostgres(t *testing.T) {
	storetest.RunReplication(t, func(t *testing.T) *store.SQL {
		return storetest.Postgres(t)
	})
}
