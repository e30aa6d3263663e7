package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// contentError stands in for the indexer's errors about image content (a
// forged diffID, a corrupt layer): retrying cannot fix them.
type contentError struct{ layer int }

func (e contentError) Error() string   { return fmt.Sprintf("layer %d: diffID mismatch", e.layer) }
func (e contentError) Permanent() bool { return true }

// transientWrapper declares the error it wraps transient again.
type transientWrapper struct{ err error }

func (e transientWrapper) Error() string   { return "retry me: " + e.err.Error() }
func (e transientWrapper) Unwrap() error   { return e.err }
func (e transientWrapper) Permanent() bool { return false }

// scriptedScanner answers each call (1-based) with script.
type scriptedScanner struct {
	mu     sync.Mutex
	calls  int
	script func(ctx context.Context, call int) (*scanning.Result, error)
}

func (s *scriptedScanner) Scan(ctx context.Context, _ v1.Image, _ string, _ bool) (*scanning.Result, error) {
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.mu.Unlock()
	return s.script(ctx, call)
}

func (s *scriptedScanner) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func ok() (*scanning.Result, error) { return &scanning.Result{}, nil }

// TestFailureKinds checks which failures are retried, on SQLite and
// PostgreSQL: a permanent error and the scan deadline end the job FAILED on
// its first attempt, a transient error is retried with backoff.
func TestFailureKinds(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name   string
		script func(ctx context.Context, call int) (*scanning.Result, error)
		// Want: the final status, the substring of its description, the
		// scanner calls, the attempt that wrote the outcome and the
		// outcomes Observe saw.
		status, desc string
		calls        int
		attempt      int
		observed     map[string]int
	}{
		{
			name: "permanent error",
			script: func(context.Context, int) (*scanning.Result, error) {
				return nil, fmt.Errorf("index: %w", contentError{layer: 2})
			},
			status: "FAILED", desc: "scan: index: layer 2: diffID mismatch", calls: 1, attempt: 1,
			observed: map[string]int{"FAILED": 1},
		},
		{
			name: "transient error",
			script: func(_ context.Context, call int) (*scanning.Result, error) {
				if call == 1 {
					return nil, errors.New("read blob: connection reset")
				}
				return ok()
			},
			status: "COMPLETE", calls: 2, attempt: 2,
			observed: map[string]int{"RETRY": 1, "COMPLETE": 1},
		},
		{
			name: "transient until the last attempt",
			script: func(context.Context, int) (*scanning.Result, error) {
				return nil, errors.New("storage: i/o error")
			},
			status: "FAILED", desc: "scan: storage: i/o error", calls: 3, attempt: 3,
			observed: map[string]int{"RETRY": 2, "FAILED": 1},
		},
		{
			name: "a wrapper declares a permanent error transient",
			script: func(_ context.Context, call int) (*scanning.Result, error) {
				if call == 1 {
					return nil, transientWrapper{contentError{layer: 0}}
				}
				return ok()
			},
			status: "COMPLETE", calls: 2, attempt: 2,
			observed: map[string]int{"RETRY": 1, "COMPLETE": 1},
		},
		{
			name: "scan deadline",
			script: func(ctx context.Context, _ int) (*scanning.Result, error) {
				<-ctx.Done()
				return nil, fmt.Errorf("squash: layer 0: %w", ctx.Err())
			},
			status: "FAILED", desc: "scan timed out after 300ms (--scan-timeout)", calls: 1, attempt: 1,
			observed: map[string]int{"FAILED": 1},
		},
		{
			name: "scan deadline, scanner ignores its context",
			script: func(context.Context, int) (*scanning.Result, error) {
				time.Sleep(2 * timeout)
				return nil, errors.New("cataloger: gave up")
			},
			status: "FAILED", desc: "scan timed out after 300ms (--scan-timeout)", calls: 1, attempt: 1,
			observed: map[string]int{"FAILED": 1},
		},
		{
			name: "a result that arrives after the deadline is kept",
			script: func(context.Context, int) (*scanning.Result, error) {
				time.Sleep(2 * timeout)
				return ok()
			},
			status: "COMPLETE", calls: 1, attempt: 1,
			observed: map[string]int{"COMPLETE": 1},
		},
	}
	stores := []struct {
		name string
		open func(t *testing.T) *store.SQL
	}{
		{"sqlite", sqliteStore},
		{"postgres", func(t *testing.T) *store.SQL { return storetest.Postgres(t) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := st.open(t)
					ds := enqueue(t, s, "app", 1)
					sc := &scriptedScanner{script: tt.script}
					var mu sync.Mutex
					observed := map[string]int{}
					attempt := 0
					stop := runPool(t, Options{
						Queue: s, Images: fakeImages{}, Scanner: sc, Workers: 1,
						MaxAttempts: 3, RetryBackoff: time.Millisecond, PollInterval: 10 * time.Millisecond,
						ScanTimeout: timeout,
						Observe:     func(st string, _ time.Duration) { mu.Lock(); observed[st]++; mu.Unlock() },
						Prepare: []PrepareFunc{func(_ context.Context, j *store.Job, _ *scanning.Result, _ *store.JobOutcome) error {
							mu.Lock()
							attempt = j.Attempt
							mu.Unlock()
							return nil
						}},
					})
					got := waitScans(t, s, "app", ds, 20*time.Second)[ds[0]]
					stop()
					if got.Status != tt.status || !strings.Contains(got.Description, tt.desc) {
						t.Errorf("scan %s (%q), want %s with a description containing %q", got.Status, got.Description, tt.status, tt.desc)
					}
					if tt.desc == "" && got.Description != "" {
						t.Errorf("description %q, want none", got.Description)
					}
					if n := sc.Calls(); n != tt.calls {
						t.Errorf("scanner called %d times, want %d", n, tt.calls)
					}
					mu.Lock()
					defer mu.Unlock()
					if attempt != tt.attempt {
						t.Errorf("outcome written by attempt %d, want %d", attempt, tt.attempt)
					}
					if diff := cmp.Diff(tt.observed, observed); diff != "" {
						t.Errorf("observed outcomes (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

func TestIsPermanent(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"permanent", contentError{}, true},
		{"wrapped permanent", fmt.Errorf("scan: %w", contentError{}), true},
		{"joined", errors.Join(errors.New("x"), contentError{}), true},
		{"transient wrapper", transientWrapper{contentError{}}, false},
		{"timeout", &TimeoutError{Timeout: time.Second}, true},
		{"deadline exceeded alone", context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("%s: IsPermanent(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
