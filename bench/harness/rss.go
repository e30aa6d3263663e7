package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rssInterval is how often the server section samples each registry's
// resident set size.
const rssInterval = 100 * time.Millisecond

// rssSampler reads a process's VmRSS every rssInterval while active, until
// stopped: the steady state of a registry over a round is the median of
// these samples, its peak the kernel's VmHWM (which also counts the spikes
// between two samples). The server section pauses it while the harness
// runs the CLI scan of an image and fetches profiles, so that the samples
// are the pushes and their scans only.
type rssSampler struct {
	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	paused   atomic.Bool
	samples  []float64 // MiB
}

// pause stops taking samples until resume.
func (s *rssSampler) pause() { s.paused.Store(true) }

// resume takes samples again.
func (s *rssSampler) resume() { s.paused.Store(false) }

// sampleRSS starts sampling pid.
func sampleRSS(pid int) *rssSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &rssSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(rssInterval)
		defer t.Stop()
		for {
			if s.paused.Load() {
				// not sampled
			} else if mib, err := vmRSS(pid); err == nil {
				s.samples = append(s.samples, mib)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the samples (MiB).
func (s *rssSampler) stop() []float64 {
	s.stopOnce.Do(func() { s.cancel(); <-s.done })
	return s.samples
}

// vmRSS is a process's current resident set size in MiB (Linux).
func vmRSS(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return statusField(string(b), "VmRSS:")
}

// statusField is a "NAME:   N kB" line of /proc/PID/status in MiB.
func statusField(status, name string) (float64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("%s %q: %w", name, v, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s line", name)
}

// saveProfile fetches one profile from a `serve --pprof-addr` listener
// (e.g. "heap", which holds inuse and alloc figures) into path.
func saveProfile(ctx context.Context, addr, name, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+name, nil)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s", name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profile %s: %w", name, err)
	}
	if _, err := io.Copy(f, io.LimitReader(resp.Body, 256<<20)); err != nil {
		f.Close()
		return fmt.Errorf("profile %s: %w", name, err)
	}
	return f.Close()
}
