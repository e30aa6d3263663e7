package auth

import (
	"container/list"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Failed authentications are throttled per (user, source address) with
// exponential backoff: after ThrottleOptions.Free failures in a row, each
// further attempt is refused without looking at the credentials until a
// delay has passed (Base, doubling with every failure after that, at most
// Max). A success resets the key. While a key is blocked even the right
// password is refused (ErrThrottled), so guessing gets no faster by
// interleaving it; once the delay has passed the right password works.
//
// Memory is bounded: at most ThrottleOptions.Keys keys are remembered (the
// least recently failed is forgotten first), and user names that are not
// configured count under one key per address, so cycling through made-up
// names from one address shares one backoff.

// ErrThrottled is returned while a (user, address) key is blocked.
var ErrThrottled = errors.New("too many failed authentication attempts")

// Failure is an authentication failure: who the caller claimed to be,
// from where, and whether the attempt was refused by the throttle.
type Failure struct {
	// User is the claimed user name or access key id (clipped, "" when
	// none was given).
	User string
	Addr string
	// RetryAfter is how long the key stays blocked (0 when it is not).
	RetryAfter time.Duration
	// Refused counts the attempts refused in the current block, this one
	// included (0 when this attempt was checked). Callers log a refusal
	// when Refused is a power of two, so a flood costs log2(n) lines.
	Refused int
	// Err is ErrThrottled, or the failed check (wrapping
	// ErrUnauthenticated).
	Err error
}

func (f *Failure) Error() string {
	if f.RetryAfter > 0 && errors.Is(f.Err, ErrThrottled) {
		return fmt.Sprintf("%v: retry after %s", f.Err, f.RetryAfter.Round(time.Second))
	}
	return f.Err.Error()
}

func (f *Failure) Unwrap() error { return f.Err }

// Logged reports whether this failure should be logged and audited: every
// checked failure, and refusals by the throttle at 1, 2, 4, 8... per block.
func (f *Failure) Logged() bool {
	return f.Refused == 0 || f.Refused&(f.Refused-1) == 0
}

// ThrottleOptions configure the throttle; zero values get the defaults.
type ThrottleOptions struct {
	// Free is the number of failures in a row before backoff (default 5).
	Free int
	// Base is the first delay (default 1s); Max the longest (default 5m).
	Base, Max time.Duration
	// Keys bounds the remembered (user, address) keys (default 10000).
	Keys int
}

type throttleKey struct{ user, addr string }

type throttleEntry struct {
	key     throttleKey
	fails   int
	until   time.Time
	refused int
	elem    *list.Element
}

// throttle is the failure table.
type throttle struct {
	o   ThrottleOptions
	now func() time.Time

	mu      sync.Mutex
	entries map[throttleKey]*throttleEntry
	lru     *list.List // front: most recent failure
}

func newThrottle(o ThrottleOptions, now func() time.Time) *throttle {
	if o.Free <= 0 {
		o.Free = 5
	}
	if o.Base <= 0 {
		o.Base = time.Second
	}
	if o.Max <= 0 {
		o.Max = 5 * time.Minute
	}
	if o.Keys <= 0 {
		o.Keys = 10000
	}
	return &throttle{o: o, now: now, entries: map[throttleKey]*throttleEntry{}, lru: list.New()}
}

// blocked returns how long k stays blocked and counts the refusal.
func (t *throttle) blocked(k throttleKey) (time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[k]
	if e == nil {
		return 0, 0
	}
	left := e.until.Sub(t.now())
	if left <= 0 {
		e.refused = 0
		return 0, 0
	}
	e.refused++
	return left, e.refused
}

// fail counts a failure of k and returns the block it starts (0 while
// under Free).
func (t *throttle) fail(k throttleKey) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[k]
	if e == nil {
		for len(t.entries) >= t.o.Keys {
			old := t.lru.Back()
			delete(t.entries, old.Value.(*throttleEntry).key)
			t.lru.Remove(old)
		}
		e = &throttleEntry{key: k}
		e.elem = t.lru.PushFront(e)
		t.entries[k] = e
	} else {
		t.lru.MoveToFront(e.elem)
	}
	e.fails++
	e.refused = 0
	if e.fails < t.o.Free {
		return 0
	}
	d := t.o.Base
	for i := t.o.Free; i < e.fails && d < t.o.Max; i++ {
		d *= 2
	}
	d = min(d, t.o.Max)
	e.until = t.now().Add(d)
	return d
}

func (t *throttle) succeed(k throttleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.entries[k]; e != nil {
		delete(t.entries, k)
		t.lru.Remove(e.elem)
	}
}

// SetThrottle replaces the throttle's options (and forgets its state).
func (a *Authenticator) SetThrottle(o ThrottleOptions) {
	a.throttle = newThrottle(o, a.now)
}

// Guard runs verify, the credential check of a caller that presented
// credentials claiming user from addr, under the throttle: while the key
// is blocked verify is not run and the result is a *Failure wrapping
// ErrThrottled; a failed verify is a *Failure wrapping its error (and
// counts); a success resets the key. Without authentication configured it
// only runs verify.
func (a *Authenticator) Guard(user, addr string, verify func() (*Principal, error)) (*Principal, error) {
	if !a.enabled {
		return verify()
	}
	shown := clipUser(user)
	k := throttleKey{user: user, addr: addr}
	if !a.known(user) {
		k.user = "" // one key per address for names nobody configured
	}
	if left, n := a.throttle.blocked(k); left > 0 {
		return nil, &Failure{User: shown, Addr: addr, RetryAfter: left, Refused: n, Err: ErrThrottled}
	}
	p, err := verify()
	if err != nil {
		d := a.throttle.fail(k)
		return nil, &Failure{User: shown, Addr: addr, RetryAfter: d, Err: err}
	}
	a.throttle.succeed(k)
	return p, nil
}

// known says whether user names a configured user or access key (or is
// "AWS", the user of ECR authorization tokens).
func (a *Authenticator) known(user string) bool {
	if user == "AWS" {
		return true
	}
	st := a.state.Load()
	if _, ok := st.users[user]; ok {
		return true
	}
	_, ok := st.keys[user]
	return ok
}

// clipUser bounds a claimed user name for logs and audit records.
func clipUser(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// Registry authenticates a registry request from its Authorization header
// (Basic user:password, Basic AWS:<ECR token>, or Bearer <static token>),
// throttled per (user, source address) (see Guard). A request without an
// Authorization header is ErrUnauthenticated and does not count: clients
// ask without credentials first.
func (a *Authenticator) Registry(r *http.Request) (*Principal, error) {
	if !a.enabled {
		return anonymousAdmin, nil
	}
	if r.Header.Get("Authorization") == "" {
		return nil, ErrUnauthenticated
	}
	user, _, _ := r.BasicAuth()
	return a.Guard(user, SourceAddr(r), func() (*Principal, error) { return a.registry(r) })
}

// SourceAddr is the IP of the request's peer (RemoteAddr without the
// port): the throttle's address. A forwarded-for header is not trusted.
func SourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return strings.TrimSpace(r.RemoteAddr)
	}
	return host
}
