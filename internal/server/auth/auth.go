// Package auth authenticates registry and API callers and checks
// per-repository permissions.
//
// Principals are configured users (password, optional static bearer tokens)
// and AWS-style access keys (used by SigV4 on the ECR API). Each carries a
// list of grants {repository pattern, actions}. The actions are pull, push
// and admin; admin implies push and pull, push implies pull. A pattern is
// matched against the whole repository name and '*' matches any run of
// characters including '/', so "team/*" covers "team/a/b" but "team" alone
// covers only "team". Registry-wide operations (catalog, registry scanning
// configuration) need a grant whose pattern is exactly "*".
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
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"net/http"
	"strings"
	"time"
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
	Repository string   `json:"repository"`
	Actions    []string `json:"actions"`
}

// User is a registry user.
type User struct {
	Name     string
	Password string
	// Tokens are static bearer tokens that authenticate as this user.
	Tokens []string
	Grants []Grant
}

// AccessKey is an AWS-style key pair for SigV4.
type AccessKey struct {
	ID     string
	Secret string
	Grants []Grant
}

// Principal is an authenticated caller.
type Principal struct {
	Name   string
	grants []grant
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
	users   map[string]User
	tokens  map[[32]byte]string // sha256(token) -> user
	keys    map[string]AccessKey
	secret  []byte
	enabled bool
	now     func() time.Time
	// throttle backs off failed authentications (throttle.go).
	throttle *throttle
}

// New builds an Authenticator. secret signs ECR authorization tokens. When
// no users and no keys are configured, authentication is disabled and every
// caller is an anonymous admin (a development setup; the server logs it).
func New(users []User, keys []AccessKey, secret []byte, now func() time.Time) (*Authenticator, error) {
	a := &Authenticator{users: map[string]User{}, tokens: map[[32]byte]string{}, keys: map[string]AccessKey{}, secret: secret, now: now}
	for _, u := range users {
		if u.Name == "" || u.Name == "AWS" {
			return nil, fmt.Errorf("auth: user name %q is reserved or empty", u.Name)
		}
		if _, err := compile(u.Grants); err != nil {
			return nil, fmt.Errorf("auth: user %q: %w", u.Name, err)
		}
		a.users[u.Name] = u
		for _, t := range u.Tokens {
			a.tokens[sha256.Sum256([]byte(t))] = u.Name
		}
	}
	for _, k := range keys {
		if k.ID == "" || k.Secret == "" {
			return nil, errors.New("auth: access key with an empty id or secret")
		}
		if _, err := compile(k.Grants); err != nil {
			return nil, fmt.Errorf("auth: access key %q: %w", k.ID, err)
		}
		a.keys[k.ID] = k
	}
	a.enabled = len(users)+len(keys) > 0
	a.throttle = newThrottle(ThrottleOptions{}, now)
	return a, nil
}

// Enabled reports whether credentials are required.
func (a *Authenticator) Enabled() bool { return a.enabled }

func compile(gs []Grant) ([]grant, error) {
	var out []grant
	for _, g := range gs {
		if g.Repository == "" {
			return nil, errors.New("grant with an empty repository pattern")
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

func principal(name string, gs []Grant) *Principal {
	g, _ := compile(gs) // validated in New
	return &Principal{Name: name, grants: g}
}

// Can reports whether p may perform act on repo. repo "" means every
// repository (registry-wide) and needs a "*" grant.
func (p *Principal) Can(repo string, act Action) bool {
	if p == nil {
		return false
	}
	for _, g := range p.grants {
		if g.max < act {
			continue
		}
		if repo == "" {
			if g.pattern == "*" {
				return true
			}
			continue
		}
		if wildcard.Match(g.pattern, repo) {
			return true
		}
	}
	return false
}

func equalSecret(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// registry checks a registry request's credentials (Registry throttles
// it).
func (a *Authenticator) registry(r *http.Request) (*Principal, error) {
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
			return a.VerifyToken(pass)
		}
		u, ok := a.users[user]
		if !ok || !equalSecret(u.Password, pass) || u.Password == "" {
			return nil, fmt.Errorf("bad user name or password: %w", ErrUnauthenticated)
		}
		return principal(u.Name, u.Grants), nil
	case "bearer":
		name, ok := a.tokens[sha256.Sum256([]byte(strings.TrimSpace(cred)))]
		if !ok {
			return nil, fmt.Errorf("unknown bearer token: %w", ErrUnauthenticated)
		}
		u := a.users[name]
		return principal(u.Name, u.Grants), nil
	}
	return nil, fmt.Errorf("unsupported authorization scheme: %w", ErrUnauthenticated)
}

// AccessKeySecret returns the secret of an access key, for SigV4.
func (a *Authenticator) AccessKeySecret(id string) (string, bool) {
	k, ok := a.keys[id]
	return k.Secret, ok
}

// AccessKeyPrincipal returns the principal of an access key.
func (a *Authenticator) AccessKeyPrincipal(id string) *Principal {
	if !a.enabled {
		return anonymousAdmin
	}
	k, ok := a.keys[id]
	if !ok {
		return nil
	}
	return principal("key:"+k.ID, k.Grants)
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
// returns the principal of the access key that requested it.
func (a *Authenticator) VerifyToken(tok string) (*Principal, error) {
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
	p := a.AccessKeyPrincipal(string(raw[8:]))
	if p == nil {
		return nil, fmt.Errorf("authorization token for a removed access key: %w", ErrUnauthenticated)
	}
	return p, nil
}
