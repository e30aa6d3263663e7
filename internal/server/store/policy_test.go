package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

func TestPoliciesSQLite(t *testing.T) {
	storetest.RunPolicies(t, func(t *testing.T) *store.SQL {
		s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "stowaway.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestPoliciesPostgres(t *testing.T) {
	storetest.RunPolicies(t, storetest.Postgres)
}

// TestUpgradedDatabaseTakesPolicies: a database written before schema
// version 5 gets the policy tables on upgrade; its repositories take
// policies, and deleting one deletes its policy.
func TestUpgradedDatabaseTakesPolicies(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := b.open(ctx, b.fixture(t))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.PutRepositoryPolicy(ctx, "team/app", "p", fixtureT0); err != nil {
				t.Fatal(err)
			}
			if err := s.PutRegistryPolicy(ctx, "r", fixtureT0); err != nil {
				t.Fatal(err)
			}
			if p, err := s.GetRepositoryPolicy(ctx, "team/app"); err != nil || p.Text != "p" {
				t.Fatalf("policy after upgrade: %+v, %v", p, err)
			}
			if err := s.DeleteRepository(ctx, "team/app"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetRepositoryPolicy(ctx, "team/app"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("policy of a deleted repository: %v", err)
			}
		})
	}
}
