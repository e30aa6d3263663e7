package policyeval

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

const (
	alice = "arn:aws:iam::123456789012:user/alice"
	bob   = "arn:aws:iam::123456789012:user/bob"

	denyAliceDeletes = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"` + alice + `"},"Action":"ecr:BatchDeleteImage"}]}`
	allowBobPush     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bob + `"},"Action":["ecr:PutImage","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload"]}]}`
	registryReadAll  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":["ecr:BatchGetImage","ecr:DescribeRegistry","ecr:CreateRepository"],"Resource":"*"}]}`
	registryDenyBob  = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"` + bob + `"},"Action":"ecr:*","Resource":"arn:aws:ecr:us-east-1:123456789012:repository/team/*"}]}`
)

// fakeSource is an in-memory Source that counts reads.
type fakeSource struct {
	mu       sync.Mutex
	repos    map[string]string
	registry string
	scope    string
	reads    int
	fail     error
}

func (f *fakeSource) GetRepositoryPolicy(_ context.Context, repo string) (store.PolicyText, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail != nil {
		return store.PolicyText{}, f.fail
	}
	t, ok := f.repos[repo]
	if !ok {
		return store.PolicyText{}, fmt.Errorf("no policy: %w", store.ErrNotFound)
	}
	return store.PolicyText{Repository: repo, Text: t}, nil
}

func (f *fakeSource) GetRegistryPolicy(context.Context) (store.PolicyText, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.fail != nil {
		return store.PolicyText{}, f.fail
	}
	if f.registry == "" {
		return store.PolicyText{}, fmt.Errorf("no policy: %w", store.ErrNotFound)
	}
	return store.PolicyText{Text: f.registry}, nil
}

func (f *fakeSource) GetAccountSetting(context.Context, string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scope, nil
}

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newEval(src Source, c *clock) *Evaluator {
	return New(Options{Source: src, Account: "123456789012", Region: "us-east-1", Now: c.now})
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name     string
		repos    map[string]string
		registry string
		scope    string
		req      iampolicy.Request
		want     iampolicy.Effect
	}{
		{"no policies", nil, "", "", iampolicy.Request{Principal: alice, Action: "ecr:PutImage", Repository: "team/app"}, iampolicy.NoMatch},
		{"repository deny", map[string]string{"team/app": denyAliceDeletes}, "", "",
			iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: "team/app"}, iampolicy.Deny},
		{"another repository's policy does not apply", map[string]string{"team/app": denyAliceDeletes}, "", "",
			iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: "team/other"}, iampolicy.NoMatch},
		{"repository allow", map[string]string{"team/app": allowBobPush}, "", "",
			iampolicy.Request{Principal: bob, Action: "ecr:PutImage", Repository: "team/app"}, iampolicy.Allow},
		{"registry allow applies to every repository", nil, registryReadAll, "",
			iampolicy.Request{Principal: bob, Action: "ecr:BatchGetImage", Repository: "any/repo"}, iampolicy.Allow},
		{"registry allow of a registry-wide action", nil, registryReadAll, "",
			iampolicy.Request{Principal: bob, Action: "ecr:DescribeRegistry"}, iampolicy.Allow},
		{"registry deny beats repository allow", map[string]string{"team/app": allowBobPush}, registryDenyBob, "",
			iampolicy.Request{Principal: bob, Action: "ecr:PutImage", Repository: "team/app"}, iampolicy.Deny},
		{"repository deny beats registry allow", map[string]string{"team/app": denyAliceDeletes}, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ecr:*"}}`, "",
			iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: "team/app"}, iampolicy.Deny},
		{"registry-wide requests ignore repository policies", map[string]string{"team/app": denyAliceDeletes}, "", "",
			iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage"}, iampolicy.NoMatch},
		{"scope V1 limits the registry policy to replication actions", nil, registryReadAll, "V1",
			iampolicy.Request{Principal: bob, Action: "ecr:BatchGetImage", Repository: "team/app"}, iampolicy.NoMatch},
		{"scope V1 keeps CreateRepository", nil, registryReadAll, "V1",
			iampolicy.Request{Principal: bob, Action: "ecr:CreateRepository", Repository: "team/new"}, iampolicy.Allow},
		{"scope V2 is every action", nil, registryReadAll, "V2",
			iampolicy.Request{Principal: bob, Action: "ecr:BatchGetImage", Repository: "team/app", SourceIP: netip.MustParseAddr("10.0.0.1")}, iampolicy.Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{repos: tt.repos, registry: tt.registry, scope: tt.scope}
			got, err := newEval(src, &clock{t: time.Unix(0, 0)}).Evaluate(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCacheTTL: within the TTL the store is read once; a change in the
// store is seen once the TTL has passed, or at once after Invalidate.
func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	src := &fakeSource{repos: map[string]string{}}
	c := &clock{t: time.Unix(1000, 0)}
	e := newEval(src, c)
	req := iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: "team/app"}
	for range 100 {
		if got, err := e.Evaluate(ctx, req); err != nil || got != iampolicy.NoMatch {
			t.Fatalf("Evaluate = %v, %v", got, err)
		}
	}
	if src.reads != 2 { // the registry policy and the repository's
		t.Errorf("100 requests read the store %d times, want 2", src.reads)
	}
	// Another replica writes a policy.
	src.set(func(f *fakeSource) { f.repos["team/app"] = denyAliceDeletes })
	c.add(DefaultTTL - time.Millisecond)
	if got, _ := e.Evaluate(ctx, req); got != iampolicy.NoMatch {
		t.Errorf("within the TTL: %v, want the cached NoMatch", got)
	}
	c.add(time.Millisecond)
	if got, _ := e.Evaluate(ctx, req); got != iampolicy.Deny {
		t.Errorf("after the TTL: %v, want Deny", got)
	}
	// This replica deletes it and invalidates.
	src.set(func(f *fakeSource) { delete(f.repos, "team/app") })
	e.Invalidate("team/app")
	if got, _ := e.Evaluate(ctx, req); got != iampolicy.NoMatch {
		t.Errorf("after Invalidate: %v, want NoMatch", got)
	}
	src.set(func(f *fakeSource) { f.registry = registryDenyBob })
	e.Invalidate("")
	if got, _ := e.Evaluate(ctx, iampolicy.Request{Principal: bob, Action: "ecr:PutImage", Repository: "team/app"}); got != iampolicy.Deny {
		t.Errorf("after Invalidate of the registry policy: %v, want Deny", got)
	}
}

// TestCacheBounded: requests naming many repositories do not grow the
// cache past MaxEntries.
func TestCacheBounded(t *testing.T) {
	src := &fakeSource{}
	e := New(Options{Source: src, MaxEntries: 50, Now: (&clock{t: time.Unix(0, 0)}).now})
	for i := range 1000 {
		if _, err := e.Evaluate(context.Background(), iampolicy.Request{Principal: alice, Action: "ecr:PutImage", Repository: fmt.Sprintf("r/%d", i)}); err != nil {
			t.Fatal(err)
		}
		if n := len(e.repos); n > 50 {
			t.Fatalf("cache holds %d entries", n)
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	req := iampolicy.Request{Principal: alice, Action: "ecr:PutImage", Repository: "team/app"}
	src := &fakeSource{fail: errors.New("connection refused")}
	if _, err := newEval(src, &clock{}).Evaluate(ctx, req); err == nil || !strings.Contains(err.Error(), "policyeval: read the registry policy: connection refused") {
		t.Errorf("store failure: %v", err)
	}
	src = &fakeSource{repos: map[string]string{"team/app": `{"Statement":[]}`}}
	if _, err := newEval(src, &clock{}).Evaluate(ctx, req); err == nil || !strings.Contains(err.Error(), `stored the policy of team/app does not parse`) {
		t.Errorf("unparseable stored policy: %v", err)
	}
}

// TestReplicasShareTheStore: two evaluators (two replicas) over one SQLite
// database; a policy written through the store is used by both within the
// TTL.
func TestReplicasShareTheStore(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "stowaway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateRepository(ctx, store.Repository{Name: "team/app", CreatedAt: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1000, 0)}
	a, b := newEval(s, c), newEval(s, c)
	req := iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: "team/app"}
	for _, e := range []*Evaluator{a, b} {
		if got, err := e.Evaluate(ctx, req); err != nil || got != iampolicy.NoMatch {
			t.Fatalf("before: %v, %v", got, err)
		}
	}
	if err := s.PutRepositoryPolicy(ctx, "team/app", denyAliceDeletes, c.now()); err != nil {
		t.Fatal(err)
	}
	a.Invalidate("team/app") // the replica that served SetRepositoryPolicy
	if got, _ := a.Evaluate(ctx, req); got != iampolicy.Deny {
		t.Errorf("writing replica: %v, want Deny at once", got)
	}
	c.add(DefaultTTL)
	if got, _ := b.Evaluate(ctx, req); got != iampolicy.Deny {
		t.Errorf("other replica after the TTL: %v, want Deny", got)
	}
}

// TestConcurrent: requests and invalidations from many goroutines (run
// under -race).
func TestConcurrent(t *testing.T) {
	src := &fakeSource{repos: map[string]string{"team/app": denyAliceDeletes}, registry: registryReadAll}
	e := New(Options{Source: src, TTL: time.Nanosecond, MaxEntries: 4})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				repo := fmt.Sprintf("team/%d", j%6)
				if j%3 == 0 {
					repo = "team/app"
				}
				got, err := e.Evaluate(context.Background(), iampolicy.Request{Principal: alice, Action: "ecr:BatchDeleteImage", Repository: repo})
				if err != nil || (repo == "team/app" && got != iampolicy.Deny) {
					t.Errorf("%s: %v, %v", repo, got, err)
					return
				}
				if i%4 == 0 {
					e.Invalidate(repo)
				}
			}
		}()
	}
	wg.Wait()
}
