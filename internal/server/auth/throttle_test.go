package auth

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func throttled(t *testing.T) (*Authenticator, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	a, err := New([]User{{Name: "alice", Password: "right", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}}, nil, []byte("k"), c.now)
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func login(a *Authenticator, user, pass, addr string) (*Principal, error) {
	r, _ := http.NewRequest("GET", "/v2/", nil)
	r.RemoteAddr = addr + ":40000"
	r.SetBasicAuth(user, pass)
	return a.Registry(r)
}

// TestThrottle300WrongPasswords: 300 wrong passwords from one address are
// checked 5 times and then refused by the throttle; the right password is
// refused while blocked and works once the backoff has passed; another
// address is not affected.
func TestThrottle300WrongPasswords(t *testing.T) {
	a, c := throttled(t)
	checked, refused, logged := 0, 0, 0
	for range 300 {
		_, err := login(a, "alice", "wrong", "192.0.2.1")
		var f *Failure
		if !errors.As(err, &f) {
			t.Fatalf("error %v, want a *Failure", err)
		}
		if f.User != "alice" || f.Addr != "192.0.2.1" {
			t.Errorf("failure names %q from %q", f.User, f.Addr)
		}
		switch {
		case errors.Is(err, ErrThrottled):
			refused++
			if f.RetryAfter != time.Second {
				t.Errorf("retry after %s, want 1s", f.RetryAfter)
			}
		case errors.Is(err, ErrUnauthenticated):
			checked++
		default:
			t.Fatalf("error %v", err)
		}
		if f.Logged() {
			logged++
		}
	}
	if checked != 5 || refused != 295 {
		t.Errorf("checked %d, refused %d; want 5 and 295", checked, refused)
	}
	// 5 checked failures, then refusals 1, 2, 4, ..., 256.
	if logged != 5+9 {
		t.Errorf("logged %d failures, want 14", logged)
	}
	if _, err := login(a, "alice", "right", "192.0.2.1"); !errors.Is(err, ErrThrottled) {
		t.Errorf("right password while blocked: %v, want ErrThrottled", err)
	}
	if p, err := login(a, "alice", "right", "198.51.100.9"); err != nil || p.Name != "alice" {
		t.Errorf("right password from another address: %v", err)
	}
	c.t = c.t.Add(time.Second)
	if p, err := login(a, "alice", "right", "192.0.2.1"); err != nil || p.Name != "alice" {
		t.Fatalf("right password after the backoff: %v", err)
	}
	// The success reset the key: 4 more failures are checked, not refused.
	for i := range 4 {
		if _, err := login(a, "alice", "wrong", "192.0.2.1"); errors.Is(err, ErrThrottled) {
			t.Fatalf("failure %d after a success was throttled", i+1)
		}
	}
}

// TestThrottleBackoffDoubles: each failure past the free ones doubles the
// delay, up to the maximum.
func TestThrottleBackoffDoubles(t *testing.T) {
	a, c := throttled(t)
	var got []time.Duration
	for range 15 {
		_, err := login(a, "alice", "wrong", "192.0.2.1")
		var f *Failure
		errors.As(err, &f)
		if errors.Is(err, ErrThrottled) {
			t.Fatal("refused: the clock moved past every block")
		}
		got = append(got, f.RetryAfter)
		c.t = c.t.Add(f.RetryAfter)
	}
	s := time.Second
	want := []time.Duration{0, 0, 0, 0, s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s, 128 * s, 256 * s, 5 * time.Minute, 5 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
}

// TestThrottleUnknownUsersShareAKey: made-up user names from one address
// count together.
func TestThrottleUnknownUsersShareAKey(t *testing.T) {
	a, _ := throttled(t)
	for i := range 5 {
		if _, err := login(a, fmt.Sprintf("nobody%d", i), "x", "192.0.2.1"); errors.Is(err, ErrThrottled) {
			t.Fatalf("attempt %d throttled", i)
		}
	}
	if _, err := login(a, "someone-else", "x", "192.0.2.1"); !errors.Is(err, ErrThrottled) {
		t.Errorf("sixth made-up name: %v, want ErrThrottled", err)
	}
	// alice from that address is a different key.
	if _, err := login(a, "alice", "right", "192.0.2.1"); err != nil {
		t.Errorf("alice: %v", err)
	}
}

// TestThrottleBoundedMemory: the table never holds more than Keys keys.
func TestThrottleBoundedMemory(t *testing.T) {
	a, _ := throttled(t)
	a.SetThrottle(ThrottleOptions{Keys: 100})
	for i := range 1000 {
		_, _ = login(a, "alice", "wrong", fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := len(a.throttle.entries); n != 100 || a.throttle.lru.Len() != 100 {
		t.Errorf("%d entries (%d in the LRU), want 100", n, a.throttle.lru.Len())
	}
}

// TestNoCredentialsDoNotCount: requests without an Authorization header
// (a client's first probe) are not failures.
func TestNoCredentialsDoNotCount(t *testing.T) {
	a, _ := throttled(t)
	for range 50 {
		r, _ := http.NewRequest("GET", "/v2/", nil)
		r.RemoteAddr = "192.0.2.1:1"
		if _, err := a.Registry(r); !errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrThrottled) {
			t.Fatalf("no credentials: %v", err)
		}
	}
	if _, err := login(a, "alice", "right", "192.0.2.1"); err != nil {
		t.Errorf("alice after 50 anonymous probes: %v", err)
	}
}
