package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scripted fails with the given errors in order, then succeeds.
type scripted struct {
	errs  []error
	calls int
}

func (s *scripted) Write(context.Context, Event) error {
	s.calls++
	if s.calls <= len(s.errs) {
		return s.errs[s.calls-1]
	}
	return nil
}

func TestRetry(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		errs      []error
		attempts  int
		wantCalls int
		wantErr   bool
		wantSleep []time.Duration
	}{
		{"first try", nil, 4, 1, false, nil},
		{"two failures", []error{boom, boom}, 4, 3, false, []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}},
		{"exhausted", []error{boom, boom, boom, boom, boom}, 4, 4, true, []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 150 * time.Millisecond}},
		{"permanent stops", []error{boom, Permanent(boom)}, 4, 2, true, []time.Duration{50 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{errs: tc.errs}
			var slept []time.Duration
			r := &Retry{
				Sink: s, Attempts: tc.attempts, Base: 100 * time.Millisecond, Max: 300 * time.Millisecond,
				Rand:  func() float64 { return 0.5 },
				Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
			}
			err := r.Write(context.Background(), Event{ID: "e1"})
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if s.calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", s.calls, tc.wantCalls)
			}
			if diff := cmp.Diff(tc.wantSleep, slept); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryBackoffBounds(t *testing.T) {
	r := &Retry{Base: time.Second, Max: 8 * time.Second, Rand: func() float64 { return 0.999999 }}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		got := r.Backoff(i + 1)
		if got > w || got < w*99/100 {
			t.Errorf("Backoff(%d) = %v, want just under %v", i+1, got, w)
		}
	}
	r.Rand = func() float64 { return 0 }
	if got := r.Backoff(3); got != 0 {
		t.Errorf("Backoff with zero jitter = %v, want 0", got)
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scripted{errs: []error{errors.New("down"), errors.New("down")}}
	r := &Retry{Sink: s, Attempts: 5, Sleep: func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}}
	err := r.Write(ctx, Event{ID: "e1"})
	if !errors.Is(err, context.Canceled) || s.calls != 1 {
		t.Errorf("err = %v after %d calls, want Canceled after 1", err, s.calls)
	}
}

func TestBreaker(t *testing.T) {
	now := time.Unix(0, 0)
	b := &Breaker{Threshold: 2, Cooldown: time.Minute, Now: func() time.Time { return now }}
	step := func(name string, wantAllow bool, outcome *bool) {
		t.Helper()
		err := b.Allow()
		if (err == nil) != wantAllow {
			t.Fatalf("%s: Allow = %v, want allowed %v", name, err, wantAllow)
		}
		if err == nil && outcome != nil {
			b.Record(*outcome)
		}
	}
	fail, ok := false, true
	step("closed 1", true, &fail)
	step("closed 2", true, &fail) // opens
	step("open", false, nil)
	now = now.Add(59 * time.Second)
	step("still open", false, nil)
	now = now.Add(2 * time.Second)
	step("half-open trial", true, nil) // trial in flight
	step("second caller during trial", false, nil)
	b.Record(false) // trial fails: open again
	step("reopened", false, nil)
	now = now.Add(61 * time.Second)
	step("trial 2", true, &ok) // closes
	step("closed again", true, &fail)
	step("one failure is below threshold", true, &ok)
}

func TestRetryWithBreaker(t *testing.T) {
	down := &scripted{errs: []error{errors.New("1"), errors.New("2"), errors.New("3"), errors.New("4")}}
	b := &Breaker{Threshold: 2, Cooldown: time.Hour}
	r := &Retry{Sink: down, Attempts: 4, Breaker: b, Sleep: func(context.Context, time.Duration) error { return nil }}
	err := r.Write(context.Background(), Event{ID: "e1"})
	if !errors.Is(err, ErrCircuitOpen) {
		t.Errorf("err = %v, want ErrCircuitOpen", err)
	}
	if down.calls != 2 {
		t.Errorf("sink called %d times, want 2 (breaker opens after 2 failures)", down.calls)
	}
	// A permanent (4xx) failure means the endpoint is up: it does not open the breaker.
	b2 := &Breaker{Threshold: 1, Cooldown: time.Hour}
	r2 := &Retry{Sink: &scripted{errs: []error{Permanent(errors.New("400"))}}, Breaker: b2}
	_ = r2.Write(context.Background(), Event{ID: "e2"})
	if err := b2.Allow(); err != nil {
		t.Errorf("breaker opened on a permanent failure: %v", err)
	}
}
