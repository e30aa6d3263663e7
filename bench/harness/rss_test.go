package main

import (
	"os"
	"testing"
	"time"
)

func TestStatusField(t *testing.T) {
	status := "Name:\tstowaway\nVmHWM:\t  614400 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n"
	for _, tc := range []struct {
		name    string
		want    float64
		wantErr bool
	}{
		{"VmHWM:", 600, false},
		{"VmRSS:", 100, false},
		{"RssFile:", 0, true},
		{"Name:", 0, true}, // not a number
	} {
		got, err := statusField(status, tc.name)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("statusField(%s) = %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestSampleRSS: the sampler reads this process's VmRSS, and takes no
// samples while paused (but the one it may take before pause).
func TestSampleRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: ", err)
	}
	s := sampleRSS(os.Getpid())
	s.pause()
	time.Sleep(4 * rssInterval)
	if got := s.stop(); len(got) > 1 {
		t.Errorf("%d samples while paused", len(got))
	}
	s = sampleRSS(os.Getpid())
	time.Sleep(4 * rssInterval)
	got := s.stop()
	if len(got) == 0 || got[0] <= 0 {
		t.Errorf("samples %v: want positive MiB", got)
	}
}
