package registry

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// flakyDriver fails or answers Stat as told and counts the calls.
type flakyDriver struct {
	storagedriver.StorageDriver
	fail  atomic.Bool
	stats atomic.Int64
}

func (d *flakyDriver) Stat(ctx context.Context, path string) (storagedriver.FileInfo, error) {
	d.stats.Add(1)
	if d.fail.Load() {
		return nil, errors.New("connection refused")
	}
	return d.StorageDriver.Stat(ctx, path)
}

func TestCheckStorage(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).UnixNano())
	f := newFixtureWith(t, nil, t.TempDir(), func(o *Options) {
		o.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	d := &flakyDriver{StorageDriver: f.reg.driver}
	f.reg.driver = d
	ctx := context.Background()
	advance := func(dt time.Duration) { now.Add(int64(dt)) }

	steps := []struct {
		name      string
		fail      bool
		advance   time.Duration
		wantErr   bool
		wantStats int64
	}{
		// An empty registry root ("not found") is an answer.
		{"storage answers", false, 0, false, 1},
		{"cached: no second probe", false, time.Second, false, 1},
		{"storage fails, cached ok still served", true, time.Second, false, 1},
		{"cache expired: the failure shows", true, 5 * time.Second, true, 2},
		{"failure cached too", false, time.Second, true, 2},
		{"recovered after the cache", false, 5 * time.Second, false, 3},
	}
	for _, s := range steps {
		d.fail.Store(s.fail)
		advance(s.advance)
		err := f.reg.CheckStorage(ctx)
		if (err != nil) != s.wantErr {
			t.Errorf("%s: CheckStorage = %v, want error %v", s.name, err, s.wantErr)
		}
		if got := d.stats.Load(); got != s.wantStats {
			t.Errorf("%s: %d storage probes, want %d", s.name, got, s.wantStats)
		}
	}

	// Many callers at once share one probe.
	advance(10 * time.Second)
	before := d.stats.Load()
	done := make(chan error, 50)
	for range 50 {
		go func() { done <- f.reg.CheckStorage(ctx) }()
	}
	for range 50 {
		if err := <-done; err != nil {
			t.Errorf("concurrent CheckStorage: %v", err)
		}
	}
	if got := d.stats.Load() - before; got != 1 {
		t.Errorf("50 concurrent checks made %d probes, want 1", got)
	}
}

// A caller whose own context is already done gets an error, and the next
// caller probes again rather than reading that result.
func TestCheckStorageCallerCancelled(t *testing.T) {
	f := newFixtureWith(t, nil, t.TempDir(), nil)
	d := &flakyDriver{StorageDriver: f.reg.driver}
	f.reg.driver = d
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = f.reg.CheckStorage(ctx) // the filesystem driver may ignore ctx
	if err := f.reg.CheckStorage(context.Background()); err != nil {
		t.Fatalf("CheckStorage after a cancelled caller: %v", err)
	}
	if got := d.stats.Load(); got != 2 {
		t.Errorf("%d probes, want 2 (a cancelled caller's result is not cached)", got)
	}
}
