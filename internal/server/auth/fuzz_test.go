package auth

import (
	"encoding/base64"
	"github.com/stowaway-scanner/stowaway/internal/wildcard"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

func fuzzAuthenticator(tb testing.TB) (*Authenticator, string) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	a, err := New([]User{{Name: "u", Password: "p", Tokens: []string{"static-token"}, Grants: []Grant{{Repository: "team/*", Actions: []string{"push"}}}}},
		[]AccessKey{{ID: "AKID", Secret: "s", Grants: []Grant{{Repository: "*", Actions: []string{"pull"}}}}},
		[]byte("signing-secret"), func() time.Time { return now })
	if err != nil {
		tb.Fatal(err)
	}
	return a, a.Token("AKID", now.Add(time.Hour))
}

// FuzzRegistryAuthorization: any Authorization header is refused unless it
// carries the configured password, the static token, or a token the
// Authenticator minted.
func FuzzRegistryAuthorization(f *testing.F) {
	a, tok := fuzzAuthenticator(f)
	pass, _ := base64.StdEncoding.DecodeString(tok)
	minted := strings.TrimPrefix(string(pass), "AWS:")
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	f.Add(basic("u", "p"))
	f.Add(basic("u", "x"))
	f.Add(basic("AWS", minted))
	f.Add("Basic " + tok)
	f.Add("Bearer static-token")
	f.Add("Bearer ")
	f.Add("Digest x")
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest(http.MethodGet, "/v2/", nil)
		r.Header.Set("Authorization", h)
		p, err := a.Registry(r)
		if err != nil {
			if p != nil {
				t.Fatal("a principal with an error")
			}
			return
		}
		user, pw, isBasic := r.BasicAuth()
		switch {
		case isBasic && user == "u" && pw == "p":
		case isBasic && user == "AWS" && pw == minted:
		case strings.EqualFold(strings.SplitN(h, " ", 2)[0], "bearer") && strings.TrimSpace(strings.SplitN(h, " ", 2)[1]) == "static-token":
		default:
			t.Fatalf("header %q accepted as %q", h, p.Name)
		}
	})
}

// FuzzVerifyToken: only a token the Authenticator minted verifies.
func FuzzVerifyToken(f *testing.F) {
	a, tok := fuzzAuthenticator(f)
	raw, _ := base64.StdEncoding.DecodeString(tok)
	minted := strings.TrimPrefix(string(raw), "AWS:")
	f.Add(minted)
	f.Add(minted + "x")
	f.Add(".")
	f.Add("AAAAAAAAAAA.")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := a.VerifyToken(s)
		if err == nil && (s != minted || p == nil) {
			t.Fatalf("token %q accepted", s)
		}
	})
}

// FuzzMatchPattern compares the repository pattern matcher with a glob
// oracle ('*' is any run of bytes).
func FuzzMatchPattern(f *testing.F) {
	for _, s := range [][2]string{{"team/*", "team/app"}, {"*", ""}, {"a*b*c", "aXbYc"}, {"a*", "b"}, {"**a", "aaa"}, {"exact", "exac"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 256 {
			return
		}
		if got, want := wildcard.Match(pattern, name), testutil.GlobMatch(pattern, name); got != want {
			t.Fatalf("matchPattern(%q, %q) = %v, want %v", pattern, name, got, want)
		}
	})
}

// FuzzParseAction: only the three names parse, case-insensitively, and
// String gives the name back.
func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"pull", "PUSH", "admin", "", "pul"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAction(s)
		if err != nil {
			return
		}
		if a.String() != strings.ToLower(s) {
			t.Fatalf("ParseAction(%q) = %v", s, a)
		}
	})
}
