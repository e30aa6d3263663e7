package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

var errNotImage = errors.New("not an image")

type fakeImages struct{}

func (fakeImages) Image(_ context.Context, repo, digest string) (v1.Image, error) {
	if repo == "index" {
		return nil, fmt.Errorf("open %s: %w", digest, errNotImage)
	}
	return random.Image(64, 2)
}

// countingScanner returns one finding per layer and counts scans per digest.
type countingScanner struct {
	mu    sync.Mutex
	count map[string]int
	delay time.Duration
	fail  int // fail this many first calls
	calls int
}

func (s *countingScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*scanning.Result, error) {
	s.mu.Lock()
	s.calls++
	call := s.calls
	if s.count == nil {
		s.count = map[string]int{}
	}
	s.count[digest]++
	s.mu.Unlock()
	if call <= s.fail {
		return nil, fmt.Errorf("transient failure %d", call)
	}
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	res := &scanning.Result{SeverityCounts: map[severity.Severity]int{}}
	for i := range ls {
		res.Findings = append(res.Findings, scanning.Finding{Name: fmt.Sprintf("CVE-2024-%04d", i), Severity: "HIGH"})
		res.SeverityCounts["HIGH"]++
	}
	return res, nil
}

func sqliteStore(t *testing.T) *store.SQL {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func runPool(t *testing.T, o Options) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	p := New(o)
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func waitScans(t *testing.T, s *store.SQL, repo string, digests []string, timeout time.Duration) map[string]store.Scan {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := map[string]store.Scan{}
		pending := 0
		for _, d := range digests {
			sc, err := s.GetScan(context.Background(), repo, d)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Status == "IN_PROGRESS" {
				pending++
			}
			out[d] = sc
		}
		if pending == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d scans still IN_PROGRESS after %s", pending, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func enqueue(t *testing.T, s *store.SQL, repo string, n int) []string {
	var ds []string
	for i := range n {
		d := fmt.Sprintf("sha256:%064d", i)
		if err := s.StartScan(context.Background(), repo, d, false, time.Now(), time.Hour); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

func TestScanResultStored(t *testing.T) {
	s := sqliteStore(t)
	ds := enqueue(t, s, "app", 3)
	ds = append(ds, enqueue(t, s, "index", 1)...)
	sc := &countingScanner{}
	stop := runPool(t, Options{Queue: s, Images: fakeImages{}, Scanner: sc, ErrNotImage: errNotImage, PollInterval: 20 * time.Millisecond})
	defer stop()
	got := waitScans(t, s, "app", ds[:3], 10*time.Second)
	for d, scan := range got {
		if scan.Status != "COMPLETE" {
			t.Errorf("%s: status %s (%s)", d, scan.Status, scan.Description)
			continue
		}
		var res scanning.Result
		if err := json.Unmarshal(scan.Result, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 2 || res.SeverityCounts["HIGH"] != 2 || res.CompletedAt.IsZero() {
			t.Errorf("%s: result %+v", d, res)
		}
	}
	idx := waitScans(t, s, "index", ds[3:], 10*time.Second)
	if st := idx[ds[3]].Status; st != "UNSUPPORTED_IMAGE" {
		t.Errorf("index scan status = %s, want UNSUPPORTED_IMAGE", st)
	}
}

func TestRetriesThenFails(t *testing.T) {
	s := sqliteStore(t)
	ds := enqueue(t, s, "app", 2)
	// First job: fails twice then succeeds. With MaxAttempts 2, the job that
	// fails twice ends FAILED; order of claims decides which, so count.
	sc := &countingScanner{fail: 3}
	var mu sync.Mutex
	observed := map[string]int{}
	stop := runPool(t, Options{Queue: s, Images: fakeImages{}, Scanner: sc, Workers: 1, MaxAttempts: 2,
		RetryBackoff: time.Millisecond, PollInterval: 10 * time.Millisecond,
		Observe: func(st string, _ time.Duration) { mu.Lock(); observed[st]++; mu.Unlock() }})
	defer stop()
	got := waitScans(t, s, "app", ds, 10*time.Second)
	statuses := map[string]int{}
	for _, sc := range got {
		statuses[sc.Status]++
		if sc.Status == "FAILED" && sc.Description == "" {
			t.Error("FAILED scan without a description")
		}
	}
	// 3 failures over 2 jobs with 2 attempts each: one job fails twice
	// (FAILED), the other fails once then completes.
	if diff := cmp.Diff(map[string]int{"FAILED": 1, "COMPLETE": 1}, statuses); diff != "" {
		t.Errorf("final statuses (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[string]int{"RETRY": 2, "FAILED": 1, "COMPLETE": 1}, observed); diff != "" {
		t.Errorf("observed outcomes (-want +got):\n%s", diff)
	}
}

func TestTwoInstancesRunEachJobOnce(t *testing.T) {
	u := storetest.PostgresURL(t)
	open := func() *store.SQL {
		s, err := store.OpenPostgres(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ds := enqueue(t, a, "app", 30)
	sc := &countingScanner{delay: 5 * time.Millisecond}
	opts := func(s *store.SQL, id string) Options {
		return Options{Queue: s, Images: fakeImages{}, Scanner: sc, WorkerID: id, Workers: 3, PollInterval: 10 * time.Millisecond}
	}
	stopA := runPool(t, opts(a, "a"))
	stopB := runPool(t, opts(b, "b"))
	got := waitScans(t, a, "app", ds, 30*time.Second)
	stopA()
	stopB()
	for d, scan := range got {
		if scan.Status != "COMPLETE" {
			t.Errorf("%s: %s", d, scan.Status)
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, d := range ds {
		if sc.count[d] != 1 {
			t.Errorf("job %s scanned %d times, want exactly once", d, sc.count[d])
		}
	}
}

// dyingQueue simulates a process that died: once dead, every call fails,
// so no heartbeat, completion or requeue reaches the database.
type dyingQueue struct {
	Queue
	dead atomic.Bool
}

var errDead = errors.New("process is dead")

func (q *dyingQueue) ClaimJob(ctx context.Context, w string, now time.Time, l time.Duration, m int) (*store.Job, error) {
	if q.dead.Load() {
		return nil, errDead
	}
	return q.Queue.ClaimJob(ctx, w, now, l, m)
}

func (q *dyingQueue) ExtendLease(ctx context.Context, j *store.Job, until time.Time) error {
	if q.dead.Load() {
		return errDead
	}
	return q.Queue.ExtendLease(ctx, j, until)
}

func (q *dyingQueue) CompleteJob(ctx context.Context, j *store.Job, out store.JobOutcome, now time.Time) error {
	if q.dead.Load() {
		return errDead
	}
	return q.Queue.CompleteJob(ctx, j, out, now)
}

func (q *dyingQueue) RetryJob(ctx context.Context, j *store.Job, at time.Time, r string) error {
	if q.dead.Load() {
		return errDead
	}
	return q.Queue.RetryJob(ctx, j, at, r)
}

// blockingScanner blocks until released, signalling when it started.
type blockingScanner struct {
	started chan string
	release chan struct{}
}

func (s *blockingScanner) Scan(ctx context.Context, img v1.Image, digest string, _ bool) (*scanning.Result, error) {
	s.started <- digest
	<-s.release
	return &scanning.Result{Description: "from the dead worker"}, nil
}

func testAbandoned(t *testing.T, s1, s2 *store.SQL) {
	ds := enqueue(t, s1, "app", 1)
	dead := &dyingQueue{Queue: s1}
	blocker := &blockingScanner{started: make(chan string, 1), release: make(chan struct{})}
	lease := 300 * time.Millisecond
	stop1 := runPool(t, Options{Queue: dead, Images: fakeImages{}, Scanner: blocker, WorkerID: "one", Workers: 1,
		Lease: lease, PollInterval: 10 * time.Millisecond, ShutdownGrace: time.Millisecond})
	<-blocker.started
	dead.dead.Store(true) // the process dies mid-scan
	if sc, _ := s1.GetScan(context.Background(), "app", ds[0]); sc.Status != "IN_PROGRESS" {
		t.Fatalf("status while the dead worker holds it = %s", sc.Status)
	}
	sc := &countingScanner{}
	stop2 := runPool(t, Options{Queue: s2, Images: fakeImages{}, Scanner: sc, WorkerID: "two", Workers: 1,
		Lease: lease, PollInterval: 20 * time.Millisecond})
	got := waitScans(t, s2, "app", ds, 10*time.Second)
	stop2()
	close(blocker.release) // the zombie finishes; its writes are lost
	stop1()
	if got[ds[0]].Status != "COMPLETE" {
		t.Fatalf("status after takeover = %s (%s)", got[ds[0]].Status, got[ds[0]].Description)
	}
	var res scanning.Result
	if err := json.Unmarshal(got[ds[0]].Result, &res); err != nil {
		t.Fatal(err)
	}
	if res.Description == "from the dead worker" || len(res.Findings) != 2 {
		t.Errorf("result is not the restarted instance's: %+v", res)
	}
	if sc.count[ds[0]] != 1 {
		t.Errorf("restarted instance scanned %d times", sc.count[ds[0]])
	}
}

func TestAbandonedJobCompletedByRestartedInstanceSQLite(t *testing.T) {
	s := sqliteStore(t)
	testAbandoned(t, s, s)
}

func TestAbandonedJobCompletedByRestartedInstancePostgres(t *testing.T) {
	u := storetest.PostgresURL(t)
	var ss []*store.SQL
	for range 2 {
		s, err := store.OpenPostgres(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ss = append(ss, s)
	}
	testAbandoned(t, ss[0], ss[1])
}
