package registry

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The readiness probe of the blob storage (serve's /readyz). /readyz is
// unauthenticated, so the answer is cached: however often it is asked, the
// storage sees at most one Stat per readyCacheFor, each bounded by
// readyTimeout.
const (
	readyTimeout  = 2 * time.Second
	readyCacheFor = 5 * time.Second
)

// readyState is the cached result of the last storage probe.
type readyState struct {
	mu  sync.Mutex
	at  time.Time
	err error
	ok  bool // a probe has run
}

// CheckStorage reports whether the blob storage answers: a Stat of the
// registry's root, where "not found" (an empty bucket or directory) is an
// answer. Callers at the same moment share one probe; its result is reused
// for 5 seconds.
func (r *Registry) CheckStorage(ctx context.Context) error {
	r.ready.mu.Lock()
	defer r.ready.mu.Unlock()
	now := r.opts.Now()
	if r.ready.ok && now.Sub(r.ready.at) >= 0 && now.Sub(r.ready.at) < readyCacheFor {
		return r.ready.err
	}
	pctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	_, err := r.driver.Stat(pctx, "/docker/registry/v2")
	if err != nil && !isPathNotFound(err) {
		err = fmt.Errorf("registry: storage probe: %w", err)
	} else {
		err = nil
	}
	if ctx.Err() == nil {
		// A probe cut short by the caller's own deadline says nothing
		// about the storage: not cached.
		r.ready.at, r.ready.err, r.ready.ok = now, err, true
	}
	return err
}
