package match

import (
	"context"
	"slices"
	"sync"
)

// prefetchWorkers is how many lookups run at once before a match. The DB
// answers concurrent readers, and the lookups (reads and decoding) are most
// of a match's cost.
const prefetchWorkers = 2

// prefetched serves Candidates from lookups made before matching, and
// falls through to the store for anything else (and for any lookup that
// failed, so errors are met, and reported, where they were before).
type prefetched struct {
	Store
	cands map[Key][]Candidate
}

func (p *prefetched) Candidates(ctx context.Context, namespace, pkg string) ([]Candidate, error) {
	if c, ok := p.cands[Key{Namespace: namespace, Package: pkg}]; ok {
		return slices.Clone(c), nil
	}
	return p.Store.Candidates(ctx, namespace, pkg)
}

// Judges implements Judge through the wrapped store, so that wrapping does
// not hide the capability.
func (p *prefetched) Judges(ctx context.Context, source, id, namespace string) (bool, error) {
	return judges(ctx, p.Store, source, id, namespace)
}

// prefetch looks up keys prefetchWorkers at a time.
func prefetch(ctx context.Context, store Store, keys []Key) Store {
	if len(keys) < 2*prefetchWorkers {
		return store
	}
	p := &prefetched{Store: store, cands: make(map[Key][]Candidate, len(keys))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan Key)
	for range prefetchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				c, err := store.Candidates(ctx, k.Namespace, k.Package)
				if err != nil {
					continue
				}
				mu.Lock()
				p.cands[k] = c
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			break
		}
		next <- k
	}
	close(next)
	wg.Wait()
	return p
}
