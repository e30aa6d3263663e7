package events

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrCircuitOpen is returned, without calling the wrapped sink, while a
// Breaker is open.
var ErrCircuitOpen = errors.New("events: circuit open")

// Retry retries a sink's retryable failures with exponential backoff and
// full jitter: before attempt n+1 it sleeps a random duration in
// [0, min(Max, Base*2^(n-1))). Permanent errors are returned at once.
type Retry struct {
	Sink Sink
	// Attempts is the total number of tries (default 3).
	Attempts int
	// Base (default 100ms) and Max (default 10s) shape the backoff.
	Base, Max time.Duration
	// Breaker, when set, short-circuits calls while the endpoint is failing.
	Breaker *Breaker
	// Sleep defaults to a context-aware timer; Rand (in [0,1)) to math/rand.
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

// Write delivers ev through r.Sink.
func (r *Retry) Write(ctx context.Context, ev Event) error {
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	var err error
	for n := 1; n <= attempts; n++ {
		if n > 1 {
			if serr := r.sleep(ctx, r.Backoff(n-1)); serr != nil {
				return fmt.Errorf("retry: event %s: %w (last error: %w)", ev.ID, serr, err)
			}
		}
		if r.Breaker != nil {
			if berr := r.Breaker.Allow(); berr != nil {
				return fmt.Errorf("retry: event %s: %w", ev.ID, berr)
			}
		}
		err = r.Sink.Write(ctx, ev)
		if r.Breaker != nil {
			// A permanent failure means the endpoint answered: it is up.
			r.Breaker.Record(err == nil || IsPermanent(err))
		}
		if err == nil || IsPermanent(err) {
			return err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("retry: event %s: giving up: %w", ev.ID, err)
}

// Backoff returns the jittered delay after the n-th failed attempt (n ≥ 1).
func (r *Retry) Backoff(n int) time.Duration {
	base, maxD := r.Base, r.Max
	if base <= 0 {
		base = 100 * time.Millisecond
	}
	if maxD <= 0 {
		maxD = 10 * time.Second
	}
	return jitter(capped(base, maxD, n), r.Rand)
}

func capped(base, maxD time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	return min(d, maxD)
}

func jitter(d time.Duration, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	return time.Duration(rnd() * float64(d))
}

func (r *Retry) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Breaker is a simple circuit breaker: after Threshold consecutive failures
// it opens for Cooldown; then one trial call is let through (half-open),
// whose success closes it and whose failure opens it again.
type Breaker struct {
	Threshold int           // default 5
	Cooldown  time.Duration // default 30s
	Now       func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	trial     bool
}

// Allow returns ErrCircuitOpen while the breaker is open.
func (b *Breaker) Allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return nil
	}
	if b.now().Before(b.openUntil) || b.trial {
		return ErrCircuitOpen
	}
	b.trial = true
	return nil
}

// Record reports the outcome of a call that Allow let through.
func (b *Breaker) Record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trial = false
	if ok {
		b.failures = 0
		b.openUntil = time.Time{}
		return
	}
	b.failures++
	threshold := b.Threshold
	if threshold <= 0 {
		threshold = 5
	}
	if b.failures >= threshold || !b.openUntil.IsZero() {
		cool := b.Cooldown
		if cool <= 0 {
			cool = 30 * time.Second
		}
		b.openUntil = b.now().Add(cool)
	}
}

func (b *Breaker) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}
