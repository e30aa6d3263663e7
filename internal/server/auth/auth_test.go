package auth

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAuthorizeGrants(t *testing.T) {
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
		p      *Principal
		action string
		repo   string
		want   bool
	}{
		{u, "ecr:BatchGetImage", "team/app", true}, // push implies pull
		{u, "ecr:PutImage", "team/app", true},
		{u, "ecr:PutImage", "team/a/b", true}, // '*' spans '/'
		{u, "ecr:BatchDeleteImage", "team/app", false},
		{u, "ecr:PutLifecyclePolicy", "team/app", false},
		{u, "ecr:BatchGetImage", "teamx", false},
		{u, "ecr:BatchGetImage", "exact", true},
		{u, "ecr:BatchGetImage", "exact/sub", false}, // no '*': whole-name match
		{u, "ecr:PutImage", "exact", false},
		{u, "ecr:GetRegistryScanningConfiguration", "", false}, // registry-wide needs a "*" grant
		{u, "ecr:GetAuthorizationToken", "", true},             // any grant may log in
		{u, "ecr:NoSuchOperation", "team/app", false},          // unknown actions need admin
		{root, "ecr:PutRegistryScanningConfiguration", "", true},
		{root, "ecr:DeleteRepository", "anything", true},
		{nil, "ecr:BatchGetImage", "team/app", false},
	}
	for _, tt := range tests {
		if got := can(tt.p, tt.action, tt.repo); got != tt.want {
			t.Errorf("%v: %s on %q = %v, want %v", tt.p, tt.action, tt.repo, got, tt.want)
		}
	}
}

// can asks a policy-less Authorizer.
func can(p *Principal, action, repo string) bool {
	return (*Authorizer)(nil).Authorize(context.Background(), p, action, repo, netip.Addr{}).Allowed
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
	if err != nil || !can(p, "ecr:BatchGetImage", "app") || can(p, "ecr:PutImage", "app") {
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
	if a.Enabled() || err != nil || !can(p, "ecr:PutRegistryPolicy", "") {
		t.Errorf("disabled auth: enabled=%v p=%v err=%v", a.Enabled(), p, err)
	}
}
