package rescan

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// PullStore records pulls (*store.SQL).
type PullStore interface {
	RecordPull(ctx context.Context, repo, digest string, now time.Time, throttle time.Duration) (bool, error)
}

// PullRecorder records image pulls for scan eligibility, at most one write
// per image per Throttle: an in-memory filter in front of the store's own
// conditional write (which covers replicas).
type PullRecorder struct {
	Store    PullStore
	Throttle time.Duration
	Now      func() time.Time
	Logger   *slog.Logger

	mu   sync.Mutex
	last map[[2]string]time.Time
}

// maxRemembered bounds the in-memory filter; past it the filter restarts.
const maxRemembered = 100_000

// Pulled is a registry OnPull hook.
func (p *PullRecorder) Pulled(ctx context.Context, repo, digest string) {
	now := p.Now()
	k := [2]string{repo, digest}
	p.mu.Lock()
	if p.last == nil || len(p.last) >= maxRemembered {
		p.last = map[[2]string]time.Time{}
	}
	if t, ok := p.last[k]; ok && now.Sub(t) < p.Throttle {
		p.mu.Unlock()
		return
	}
	p.last[k] = now
	p.mu.Unlock()
	if _, err := p.Store.RecordPull(ctx, repo, digest, now, p.Throttle); err != nil && p.Logger != nil {
		p.Logger.Warn("rescan: record pull", "repository", repo, "digest", digest, "err", err)
	}
}
