// Package auth authenticates registry and API callers and authorizes what
// they do.
//
// Principals are configured users (a password or a bcrypt hash, optional
// static bearer tokens) and AWS-style access keys (used by SigV4 on the ECR
// API); a key names the user it acts as, or carries grants of its own. Each
// user carries a list of grants {repository pattern, levels}. The levels are
// pull, push and admin; admin implies push and pull, push implies pull. A
// pattern is matched against the whole repository name and '*' matches any
// run of characters including '/', so "team/*" covers "team/a/b" but "team"
// alone covers only "team".
//
// Authorization is by IAM action ("ecr:PutImage", actions.go): Authorizer
// answers one question, may this principal perform this action on this
// repository, from the grants and the repository and registry policies (a
// PolicyEvaluator): an explicit Deny wins, else an Allow from either allows,
// else the answer is no. Registry-wide actions (repository "") need a grant
// whose pattern is exactly "*". docs/auth.md lists the action of every
// registry route and ECR operation and the actions of each level.
//
// The principals can be replaced while serving (Replace, for the reloaded
// --auth-config file): a request keeps the principal it authenticated as.
// A bcrypt verification costs tens of milliseconds by design, so successful
// ones are cached for a minute (keyed by user, hash and the SHA-256 of the
// password; bounded); failures are never cached.
//
// ECR authorization tokens (GetAuthorizationToken) are stateless: the
// principal name and expiry signed with HMAC-SHA256 under a server secret
// shared through the store, so every replica accepts them. They are presented
// as Basic auth with user "AWS".
//
// Secrets are compared in constant time and never logged; the only error
// strings returned name the failure, not the credential. Failed
// authentications are throttled per (user, address) with exponential
// backoff (throttle.go, Guard).
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/stowaway-scanner/stowaway/internal/wildcard"
)

// Action is a permission level.
type Action int

// Actions, in increasing power.
const (
	Pull Action = iota + 1
	Push
	Admin
)

func (a Action) String() string {
	switch a {
	case Pull:
		return "pull"
	case Push:
		return "push"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// ParseAction parses "pull", "push" or "admin".
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "pull":
		return Pull, nil
	case "push":
		return Push, nil
	case "admin":
		return Admin, nil
	}
	return 0, fmt.Errorf("auth: unknown permission %q (want pull, push or admin)", s)
}

// Grant gives Actions on repositories matching Repository.
type Grant struct {
	Repository string   `json:"repository" yaml:"repository"`
	Actions    []string `json:"actions" yaml:"actions"`
}

// User is a registry user.
type User struct {
	Name string
	// Password is the password in clear (the --user shortcut); PasswordHash
	// a bcrypt hash ($2a$, $2b$ or $2y$, as htpasswd -B writes it). One of
	// them is set.
	Password     string
	PasswordHash string
	// Tokens are static bearer tokens that authenticate as this user.
	Tokens []string
	Grants []Grant
}

// AccessKey is an AWS-style key pair for SigV4.
type AccessKey struct {
	ID     string
	Secret string
	// User, when set, is the user the key acts as: its grants are the
	// user's and its ARN is the user's. Grants must then be empty.
	User   string
	Grants []Grant
}

// Principal is an authenticated caller.
type Principal struct {
	// Name names the caller in logs and records (the user name, or
	// "key:ID" for a key of no user).
	Name string
	// User is the IAM user name of the caller's ARN: the user, the key's
	// user, or the key id of a key of no user; "" for anonymous.
	User   string
	grants []grant
}

// ARN is the caller's IAM ARN in account, "arn:aws:iam::<account>:user/<name>";
// "" for anonymous callers.
func (p *Principal) ARN(account string) string {
	if p == nil || p.User == "" {
		return ""
	}
	return "arn:aws:iam::" + account + ":user/" + p.User
}

type grant struct {
	pattern string
	max     Action
}

// Errors for callers to map to 401 and 403.
var (
	ErrUnauthenticated = errors.New("authentication required")
	ErrDenied          = errors.New("access denied")
)

// Authenticator holds the configured principals.
type Authenticator struct {
	state   atomic.Pointer[state]
	secret  []byte
	enabled bool
	now     func() time.Time
	cache   *verifyCache
	// bcryptSlots bounds concurrent bcrypt verifications.
	bcryptSlots chan struct{}
	// throttle backs off failed authentications (throttle.go).
	throttle *throttle
}

// state is one configuration of principals, swapped whole by Replace.
type state struct {
	users  map[string]User
	tokens map[[32]byte]string // sha256(token) -> user
	keys   map[string]AccessKey
}

// New builds an Authenticator. secret signs ECR authorization tokens. When
// no users and no keys are configured, authentication is disabled and every
// caller is an anonymous admin (a development setup; the server logs it).
func New(users []User, keys []AccessKey, secret []byte, now func() time.Time) (*Authenticator, error) {
	return newAuthenticator(users, keys, secret, now, len(users)+len(keys) > 0)
}

// NewRequired is New with authentication required even when no principal
// is configured (an --auth-config file that names none yet: every request
// is refused until a reload adds one).
func NewRequired(users []User, keys []AccessKey, secret []byte, now func() time.Time) (*Authenticator, error) {
	return newAuthenticator(users, keys, secret, now, true)
}

func newAuthenticator(users []User, keys []AccessKey, secret []byte, now func() time.Time, enabled bool) (*Authenticator, error) {
	if now == nil {
		now = time.Now
	}
	a := &Authenticator{secret: secret, now: now, enabled: enabled, cache: newVerifyCache(verifyCacheSize, verifyCacheTTL), bcryptSlots: make(chan struct{}, bcryptConcurrency)}
	st, err := compileState(users, keys)
	if err != nil {
		return nil, err
	}
	a.state.Store(st)
	a.throttle = newThrottle(ThrottleOptions{}, now)
	return a, nil
}

// Replace swaps in a new set of principals at once; on an error the old set
// stays. Requests already authenticated keep their principal. With
// authentication disabled (New with no principals) it is refused: turning
// authentication on needs a restart, so no caller is an admin by surprise.
func (a *Authenticator) Replace(users []User, keys []AccessKey) error {
	if !a.enabled {
		return errors.New("auth: authentication is off (no principals at start); restart to turn it on")
	}
	st, err := compileState(users, keys)
	if err != nil {
		return err
	}
	a.state.Store(st)
	return nil
}

func compileState(users []User, keys []AccessKey) (*state, error) {
	st := &state{users: map[string]User{}, tokens: map[[32]byte]string{}, keys: map[string]AccessKey{}}
	for _, u := range users {
		if u.Name == "" || u.Name == "AWS" {
			return nil, fmt.Errorf("auth: user name %q is reserved or empty", u.Name)
		}
		if _, dup := st.users[u.Name]; dup {
			return nil, fmt.Errorf("auth: user %q is configured twice", u.Name)
		}
		if (u.Password == "") == (u.PasswordHash == "") {
			return nil, fmt.Errorf("auth: user %q: want exactly one of a password and a password hash", u.Name)
		}
		if u.PasswordHash != "" {
			if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
				return nil, fmt.Errorf("auth: user %q: password hash is not a bcrypt hash: %w", u.Name, err)
			}
		}
		if _, err := compile(u.Grants); err != nil {
			return nil, fmt.Errorf("auth: user %q: %w", u.Name, err)
		}
		st.users[u.Name] = u
		for _, t := range u.Tokens {
			st.tokens[sha256.Sum256([]byte(t))] = u.Name
		}
	}
	for _, k := range keys {
		if k.ID == "" || k.Secret == "" {
			return nil, errors.New("auth: access key with an empty id or secret")
		}
		if _, dup := st.keys[k.ID]; dup {
			return nil, fmt.Errorf("auth: access key %q is configured twice", k.ID)
		}
		if k.User != "" {
			if _, ok := st.users[k.User]; !ok {
				return nil, fmt.Errorf("auth: access key %q: no user %q", k.ID, k.User)
			}
			if len(k.Grants) > 0 {
				return nil, fmt.Errorf("auth: access key %q: acts as user %q, so it has no grants of its own", k.ID, k.User)
			}
		}
		if _, err := compile(k.Grants); err != nil {
			return nil, fmt.Errorf("auth: access key %q: %w", k.ID, err)
		}
		st.keys[k.ID] = k
	}
	return st, nil
}

// Enabled reports whether credentials are required.
func (a *Authenticator) Enabled() bool { return a.enabled }

func compile(gs []Grant) ([]grant, error) {
	var out []grant
	for _, g := range gs {
		if g.Repository == "" {
			return nil, errors.New("grant with an empty repository pattern")
		}
		if len(g.Actions) == 0 {
			return nil, fmt.Errorf("grant on %q with no actions", g.Repository)
		}
		var max Action
		for _, s := range g.Actions {
			act, err := ParseAction(s)
			if err != nil {
				return nil, err
			}
			max = maxAction(max, act)
		}
		out = append(out, grant{pattern: g.Repository, max: max})
	}
	return out, nil
}

func maxAction(a, b Action) Action {
	if a > b {
		return a
	}
	return b
}

var anonymousAdmin = &Principal{Name: "anonymous", grants: []grant{{pattern: "*", max: Admin}}}

func principal(name, user string, gs []Grant) *Principal {
	g, _ := compile(gs) // validated in compileState
	return &Principal{Name: name, User: user, grants: g}
}

// granted reports whether p's grants include level on repo: the grant that
// does, or "" and false. repo "" means registry-wide and needs a "*" grant;
// anyRepo accepts a grant on any pattern (GetAuthorizationToken).
func (p *Principal) granted(repo string, level Action, anyRepo bool) (string, bool) {
	if p == nil {
		return "", false
	}
	for _, g := range p.grants {
		if g.max < level {
			continue
		}
		switch {
		case anyRepo, repo == "" && g.pattern == "*", repo != "" && wildcard.Match(g.pattern, repo):
			return fmt.Sprintf("%s on %q", g.max, g.pattern), true
		}
	}
	return "", false
}

func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// checkPassword verifies pass for u: a constant-time comparison for a
// clear password, bcrypt (through the cache of successes) for a hash.
func (a *Authenticator) checkPassword(u User, pass string) bool {
	if u.Password != "" {
		return equalSecret(u.Password, pass)
	}
	if u.PasswordHash == "" {
		return false
	}
	key := verifyKey(u.Name, u.PasswordHash, pass)
	if a.cache.hit(key, a.now()) {
		return true
	}
	// At most a few verifications run at once: each costs tens of
	// milliseconds of CPU whatever the password, so a flood of wrong
	// passwords waits here instead of taking every core.
	a.bcryptSlots <- struct{}{}
	err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pass))
	<-a.bcryptSlots
	if err != nil {
		return false
	}
	a.cache.add(key, a.now())
	return true
}

// registry checks a registry request's credentials (Registry throttles
// it).
func (a *Authenticator) registry(r *http.Request) (*Principal, error) {
	st := a.state.Load()
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, ErrUnauthenticated
	}
	scheme, cred, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		user, pass, ok := r.BasicAuth()
		if !ok {
			return nil, fmt.Errorf("malformed basic credentials: %w", ErrUnauthenticated)
		}
		if user == "AWS" {
			return a.verifyToken(st, pass)
		}
		u, ok := st.users[user]
		if !ok || !a.checkPassword(u, pass) {
			return nil, fmt.Errorf("bad user name or password: %w", ErrUnauthenticated)
		}
		return principal(u.Name, u.Name, u.Grants), nil
	case "bearer":
		name, ok := st.tokens[sha256.Sum256([]byte(strings.TrimSpace(cred)))]
		if !ok {
			return nil, fmt.Errorf("unknown bearer token: %w", ErrUnauthenticated)
		}
		u := st.users[name]
		return principal(u.Name, u.Name, u.Grants), nil
	}
	return nil, fmt.Errorf("unsupported authorization scheme: %w", ErrUnauthenticated)
}

// AccessKeySecret returns the secret of an access key, for SigV4.
func (a *Authenticator) AccessKeySecret(id string) (string, bool) {
	k, ok := a.state.Load().keys[id]
	return k.Secret, ok
}

// AccessKeyPrincipal returns the principal of an access key: its user's
// when it names one.
func (a *Authenticator) AccessKeyPrincipal(id string) *Principal {
	if !a.enabled {
		return anonymousAdmin
	}
	return keyPrincipal(a.state.Load(), id)
}

func keyPrincipal(st *state, id string) *Principal {
	k, ok := st.keys[id]
	if !ok {
		return nil
	}
	if k.User != "" {
		u := st.users[k.User]
		return principal(u.Name, u.Name, u.Grants)
	}
	return principal("key:"+k.ID, k.ID, k.Grants)
}

// Token returns an ECR authorization token for the access key id, valid
// until expiry: base64("AWS:" + payload "." + mac).
func (a *Authenticator) Token(keyID string, expiry time.Time) string {
	var exp [8]byte
	binary.BigEndian.PutUint64(exp[:], uint64(expiry.Unix()))
	payload := base64.RawURLEncoding.EncodeToString(append(exp[:], keyID...))
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(payload))
	sig := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	return base64.StdEncoding.EncodeToString([]byte("AWS:" + payload + "." + sig))
}

// VerifyToken checks the password half of an ECR authorization token and
// returns the principal of the access key that requested it, with the
// key's current grants.
func (a *Authenticator) VerifyToken(tok string) (*Principal, error) {
	return a.verifyToken(a.state.Load(), tok)
}

func (a *Authenticator) verifyToken(st *state, tok string) (*Principal, error) {
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return nil, fmt.Errorf("malformed authorization token: %w", ErrUnauthenticated)
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(payload))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return nil, fmt.Errorf("bad authorization token signature: %w", ErrUnauthenticated)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || len(raw) < 9 {
		return nil, fmt.Errorf("malformed authorization token: %w", ErrUnauthenticated)
	}
	if a.now().Unix() > int64(binary.BigEndian.Uint64(raw[:8])) {
		return nil, fmt.Errorf("authorization token expired: %w", ErrUnauthenticated)
	}
	if !a.enabled {
		return anonymousAdmin, nil
	}
	p := keyPrincipal(st, string(raw[8:]))
	if p == nil {
		return nil, fmt.Errorf("authorization token for a removed access key: %w", ErrUnauthenticated)
	}
	return p, nil
}

// The cache of successful bcrypt verifications.
const (
	verifyCacheSize = 4096
	verifyCacheTTL  = time.Minute
	// bcryptConcurrency bounds the bcrypt verifications running at once.
	bcryptConcurrency = 4
)

// verifyKey identifies one successful verification: a changed hash (a
// reload) or another password never hits it.
func verifyKey(user, hash, pass string) [32]byte {
	ph := sha256.Sum256([]byte(pass))
	h := sha256.New()
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	h.Write([]byte{0})
	h.Write(ph[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verifyCache remembers successful verifications for ttl, at most max of
// them: when full, expired entries go, and if none has expired the oldest
// half goes.
type verifyCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	entries map[[32]byte]time.Time // key -> when verified
}

func newVerifyCache(max int, ttl time.Duration) *verifyCache {
	return &verifyCache{max: max, ttl: ttl, entries: map[[32]byte]time.Time{}}
}

func (c *verifyCache) hit(k [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.entries[k]
	if !ok {
		return false
	}
	if now.Sub(at) >= c.ttl || now.Before(at) {
		delete(c.entries, k)
		return false
	}
	return true
}

func (c *verifyCache) add(k [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, at := range c.entries {
			if now.Sub(at) >= c.ttl {
				delete(c.entries, key)
			}
		}
	}
	if len(c.entries) >= c.max {
		cut := now.Add(-c.ttl / 2)
		for key, at := range c.entries {
			if at.Before(cut) || len(c.entries) >= c.max {
				delete(c.entries, key)
			}
		}
	}
	c.entries[k] = now
}
