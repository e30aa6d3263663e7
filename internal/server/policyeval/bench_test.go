package policyeval

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// BenchmarkEvaluate: one request against a repository policy and the
// registry policy stored in SQLite, from the cache (cached) and with every
// request reading the store (uncached, TTL 1 ns).
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "stowaway.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateRepository(ctx, store.Repository{Name: "team/app", CreatedAt: time.Unix(0, 0)}); err != nil {
		b.Fatal(err)
	}
	if err := s.PutRepositoryPolicy(ctx, "team/app", allowBobPush, time.Unix(0, 0)); err != nil {
		b.Fatal(err)
	}
	if err := s.PutRegistryPolicy(ctx, registryDenyBob, time.Unix(0, 0)); err != nil {
		b.Fatal(err)
	}
	req := iampolicy.Request{Principal: alice, Action: "ecr:PutImage", Repository: "team/app"}
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", 0}, {"uncached", time.Nanosecond}} {
		b.Run(bc.name, func(b *testing.B) {
			e := New(Options{Source: s, TTL: bc.ttl})
			for b.Loop() {
				if _, err := e.Evaluate(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
