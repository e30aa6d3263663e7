package server

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// countingScanner counts scans per digest across replicas.
type countingScanner struct {
	layerScanner
	mu    sync.Mutex
	count map[string]int
}

func (c *countingScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*ScanResult, error) {
	c.mu.Lock()
	c.count[digest]++
	c.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	return c.layerScanner.Scan(ctx, img, digest, enhanced)
}

func serve(t *testing.T, cfg Config, sc Scanner) (*testServer, func()) {
	t.Helper()
	s, err := New(context.Background(), cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(stop)
	return &testServer{Server: s, url: "http://" + ln.Addr().String(), host: ln.Addr().String()}, stop
}

// TestReplicasSharePostgres runs two servers on one PostgreSQL database and
// one blob directory: pushes to either are visible on both, and every scan
// runs exactly once.
func TestReplicasSharePostgres(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	dir := t.TempDir()
	sc := &countingScanner{count: map[string]int{}}
	cfg := func(id string) Config {
		return Config{DataDir: dir, DatabaseURL: dbURL, InstanceID: id, Workers: 2,
			Users:      []User{{Name: "ci", Password: "ci-pass", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
			AccessKeys: []AccessKey{{ID: testKeyID, Secret: testSecret, Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}}}
	}
	a, _ := serve(t, cfg("a"), sc)
	b, _ := serve(t, cfg("b"), sc)
	if code, body := a.call(t, "PutRegistryScanningConfiguration", map[string]any{"scanType": "BASIC", "rules": []any{
		map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}}}}}, nil); code != 200 {
		t.Fatalf("configure: %s", body)
	}
	var digests []string
	for i := range 8 {
		target := a
		if i%2 == 1 {
			target = b
		}
		img := target.push(t, "app:v"+string(rune('0'+i)), 1, ciAuth)
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	// Pull through the other replica.
	ref, _ := name.ParseReference(b.host+"/app:v0", name.Insecure)
	if _, err := remote.Image(ref, remote.WithAuth(ciAuth)); err != nil {
		t.Fatalf("pull from the other replica: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, d := range digests {
		for {
			sc, err := a.store.GetScan(context.Background(), "app", d)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Status == "COMPLETE" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scan of %s still %s", d, sc.Status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, d := range digests {
		if sc.count[d] != 1 {
			t.Errorf("%s scanned %d times, want once", d, sc.count[d])
		}
	}
}

// stuckScanner blocks until its context ends, like a scan that outlives the
// shutdown budget.
type stuckScanner struct{ started chan struct{} }

func (s *stuckScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*ScanResult, error) {
	close(s.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestShutdownRequeuesInFlightScan stops a server mid-scan and checks the
// scan is handed back and finished by the next server on the same data dir.
func TestShutdownRequeuesInFlightScan(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, ShutdownTimeout: 600 * time.Millisecond,
		Users: []User{{Name: "ci", Password: "ci-pass", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}}}
	stuck := &stuckScanner{started: make(chan struct{})}
	first, stop := serve(t, cfg, stuck)
	if err := first.store.CreateRepository(context.Background(), store.Repository{Name: "app", ScanOnPush: true, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	img := first.push(t, "app:v1", 2, ciAuth)
	d, _ := img.Digest()
	select {
	case <-stuck.started:
	case <-time.After(10 * time.Second):
		t.Fatal("scan on push never started")
	}
	start := time.Now()
	stop()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %s with a 600ms budget", took)
	}

	second, _ := serve(t, cfg, &layerScanner{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc, err := second.store.GetScan(context.Background(), "app", d.String())
		if err != nil {
			t.Fatal(err)
		}
		if sc.Status == "COMPLETE" {
			break
		}
		if sc.Status != "IN_PROGRESS" || time.Now().After(deadline) {
			t.Fatalf("scan after restart: %s %s", sc.Status, sc.Description)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
