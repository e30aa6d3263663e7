package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCan(t *testing.T) {
	a, err := New([]User{{Name: "u", Password: "p", Grants: []Grant{
		{Repository: "team/*", Actions: []string{"push"}},
		{Repository: "exact", Actions: []string{"pull"}},
	}}, {Name: "root", Password: "r", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}}, nil, []byte("k"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	get := func(user, pass string) *Principal {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		p, err := a.Registry(r)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	u, root := get("u", "p"), get("root", "r")
	tests := []struct {
		p    *Principal
		repo string
		act  Action
		want bool
	}{
		{u, "team/app", Pull, true}, // push implies pull
		{u, "team/app", Push, true},
		{u, "team/a/b", Push, true}, // '*' spans '/'
		{u, "team/app", Admin, false},
		{u, "teamx", Pull, false},
		{u, "exact", Pull, true},
		{u, "exact/sub", Pull, false}, // no '*': whole-name match
		{u, "exact", Push, false},
		{u, "", Pull, false}, // registry-wide needs a "*" grant
		{root, "", Admin, true},
		{root, "anything", Admin, true},
		{nil, "team/app", Pull, false},
	}
	for _, tt := range tests {
		if got := tt.p.Can(tt.repo, tt.act); got != tt.want {
			t.Errorf("%v.Can(%q, %s) = %v, want %v", tt.p, tt.repo, tt.act, got, tt.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name  string
		users []User
		keys  []AccessKey
	}{
		{"reserved AWS user", []User{{Name: "AWS", Password: "x"}}, nil},
		{"unknown action", []User{{Name: "u", Grants: []Grant{{Repository: "*", Actions: []string{"delete"}}}}}, nil},
		{"empty pattern", []User{{Name: "u", Grants: []Grant{{Actions: []string{"pull"}}}}}, nil},
		{"empty key secret", nil, []AccessKey{{ID: "a"}}},
	} {
		if _, err := New(tt.users, tt.keys, []byte("k"), time.Now); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := New(nil, []AccessKey{{ID: "AKID", Secret: "s", Grants: []Grant{{Repository: "app", Actions: []string{"pull"}}}}}, []byte("key-1"), clock)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(nil, []AccessKey{{ID: "AKID", Secret: "s"}}, []byte("key-2"), clock)
	tok := a.Token("AKID", now.Add(time.Hour))
	req := func(authz string) *http.Request {
		r, _ := http.NewRequest("GET", "/v2/", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return r
	}
	p, err := a.Registry(req("Basic " + tok))
	if err != nil || !p.Can("app", Pull) || p.Can("app", Push) {
		t.Fatalf("token principal = %v, %v", p, err)
	}
	if _, err := other.Registry(req("Basic " + tok)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("token signed with another secret accepted: %v", err)
	}
	tampered := []byte(tok)
	tampered[10] ^= 1
	for _, authz := range []string{"", "Basic " + string(tampered), "Basic !!!", "Bearer nope", "Negotiate x"} {
		if _, err := a.Registry(req(authz)); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authorization %q: err = %v, want ErrUnauthenticated", authz, err)
		}
	}
	now = now.Add(2 * time.Hour)
	_, err = a.Registry(req("Basic " + tok))
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Error("error echoes the token")
	}
}

func TestDisabledWhenNothingConfigured(t *testing.T) {
	a, err := New(nil, nil, []byte("k"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/v2/", nil)
	p, err := a.Registry(r)
	if a.Enabled() || err != nil || !p.Can("", Admin) {
		t.Errorf("disabled auth: enabled=%v p=%v err=%v", a.Enabled(), p, err)
	}
}
