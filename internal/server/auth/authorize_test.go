package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
)

// fakePolicies answers from a table keyed by principal ARN and action, and
// records the requests.
type fakePolicies struct {
	mu      sync.Mutex
	effects map[[2]string]iampolicy.Effect
	err     error
	seen    []iampolicy.Request
}

func (f *fakePolicies) Evaluate(_ context.Context, req iampolicy.Request) (iampolicy.Effect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, req)
	if f.err != nil {
		return iampolicy.NoMatch, f.err
	}
	return f.effects[[2]string{req.Principal, req.Action}], nil
}

func basicPrincipal(t *testing.T, a *Authenticator, user, pass string) *Principal {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "/v2/", nil)
	r.SetBasicAuth(user, pass)
	p, err := a.Registry(r)
	if err != nil {
		return nil
	}
	return p
}

func TestAuthorizePolicies(t *testing.T) {
	a, err := New([]User{
		{Name: "alice", Password: "a", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{Name: "bob", Password: "b", Grants: []Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
	}, []AccessKey{{ID: "AKIDBOB", Secret: "s", User: "bob"}, {ID: "AKIDBARE", Secret: "s", Grants: []Grant{{Repository: "x", Actions: []string{"pull"}}}}}, []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	const acct = "123456789012"
	aliceARN, bobARN := "arn:aws:iam::"+acct+":user/alice", "arn:aws:iam::"+acct+":user/bob"
	pol := &fakePolicies{effects: map[[2]string]iampolicy.Effect{
		{aliceARN, "ecr:BatchDeleteImage"}: iampolicy.Deny,  // Deny overrides admin
		{bobARN, "ecr:PutImage"}:           iampolicy.Allow, // Allow gives bob a push he lacks
		{bobARN, "ecr:BatchGetImage"}:      iampolicy.Deny,
	}}
	z := NewAuthorizer(acct, pol)
	alice, bob := basicPrincipal(t, a, "alice", "a"), basicPrincipal(t, a, "bob", "b")
	bobKey, bare := a.AccessKeyPrincipal("AKIDBOB"), a.AccessKeyPrincipal("AKIDBARE")
	src := netip.MustParseAddr("192.0.2.7")
	for _, tt := range []struct {
		who    string
		p      *Principal
		action string
		repo   string
		allow  bool
		reason string
	}{
		{"alice", alice, "ecr:BatchDeleteImage", "team/app", false, "explicit Deny"},
		{"alice", alice, "ecr:PutImage", "team/app", true, `grant admin on "*"`},
		{"bob", bob, "ecr:PutImage", "team/app", true, "policy Allow"},
		{"bob", bob, "ecr:PutImage", "elsewhere", true, "policy Allow"},
		{"bob key", bobKey, "ecr:PutImage", "team/app", true, "policy Allow"},
		{"bob", bob, "ecr:BatchGetImage", "team/app", false, "explicit Deny"}, // Deny beats his own grant
		{"bob", bob, "ecr:ListImages", "team/app", true, `grant pull on "team/*"`},
		{"bob", bob, "ecr:BatchDeleteImage", "team/app", false, "ecr:BatchDeleteImage needs admin"},
		{"bare key", bare, "ecr:ListImages", "x", true, `grant pull on "x"`},
		{"nobody", nil, "ecr:ListImages", "x", false, "not authenticated"},
	} {
		d := z.Authorize(context.Background(), tt.p, tt.action, tt.repo, src)
		if d.Allowed != tt.allow || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s %s on %q = %v (%s), want %v (%s)", tt.who, tt.action, tt.repo, d.Allowed, d.Reason, tt.allow, tt.reason)
		}
	}
	want := iampolicy.Request{Principal: bobARN, Action: "ecr:PutImage", Repository: "team/app", SourceIP: src}
	if diff := cmp.Diff(want, pol.seen[2], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got := pol.seen[8].Principal; got != "arn:aws:iam::"+acct+":user/AKIDBARE" {
		t.Errorf("a key of no user has ARN %q", got)
	}
	// An evaluator error denies, even an admin, and says why.
	pol.err = errors.New("policy store down")
	d := z.Authorize(context.Background(), alice, "ecr:ListImages", "team/app", src)
	if d.Allowed || !strings.Contains(d.Reason, "policy store down") {
		t.Errorf("evaluator error: %+v", d)
	}
}

func TestLevels(t *testing.T) {
	for action, want := range map[string]Action{
		"ecr:BatchGetImage": Pull, "ecr:GetDownloadUrlForLayer": Pull, "ecr:BatchCheckLayerAvailability": Pull,
		"ecr:DescribeImages": Pull, "ecr:ListImages": Pull, "ecr:DescribeRepositories": Pull,
		"ecr:DescribeImageScanFindings": Pull, "ecr:GetLifecyclePolicy": Pull, "ecr:GetAuthorizationToken": Pull,
		"ecr:PutImage": Push, "ecr:InitiateLayerUpload": Push, "ecr:UploadLayerPart": Push,
		"ecr:CompleteLayerUpload": Push, "ecr:StartImageScan": Push,
		"ecr:BatchDeleteImage": Admin, "ecr:CreateRepository": Admin, "ecr:DeleteRepository": Admin,
		"ecr:PutImageScanningConfiguration": Admin, "ecr:PutLifecyclePolicy": Admin, "ecr:SetRepositoryPolicy": Admin,
		"ecr:PutRegistryPolicy": Admin, "ecr:PutRegistryScanningConfiguration": Admin, "ecr:TagResource": Admin,
		"ecr:UntagResource": Admin, "ecr:DeleteLifecyclePolicy": Admin, "ecr:PutImageTagMutability": Admin,
		"s3:GetObject": Admin, "GetObject": Admin, "": Admin,
	} {
		if got := Level(action); got != want {
			t.Errorf("Level(%q) = %s, want %s", action, got, want)
		}
	}
}

func TestReplace(t *testing.T) {
	a, err := NewRequired(nil, nil, []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := basicPrincipal(t, a, "bob", "b"); p != nil {
		t.Fatal("an empty configuration authenticated bob")
	}
	pull := []User{{Name: "bob", Password: "b", Grants: []Grant{{Repository: "team/*", Actions: []string{"pull"}}}}}
	if err := a.Replace(pull, []AccessKey{{ID: "K", Secret: "s", User: "bob"}}); err != nil {
		t.Fatal(err)
	}
	before := basicPrincipal(t, a, "bob", "b")
	tok := a.Token("K", time.Now().Add(time.Hour))
	push := []User{{Name: "bob", Password: "b", Grants: []Grant{{Repository: "team/*", Actions: []string{"push"}}}}}
	if err := a.Replace(push, []AccessKey{{ID: "K", Secret: "s", User: "bob"}}); err != nil {
		t.Fatal(err)
	}
	after := basicPrincipal(t, a, "bob", "b")
	if !can(after, "ecr:PutImage", "team/app") {
		t.Error("the new grants do not apply")
	}
	if can(before, "ecr:PutImage", "team/app") {
		t.Error("a principal authenticated before the swap changed")
	}
	raw, _ := a.VerifyToken(strings.TrimPrefix(mustDecode(t, tok), "AWS:"))
	if !can(raw, "ecr:PutImage", "team/app") {
		t.Error("an ECR token does not carry its key's new grants")
	}
	// A bad set keeps the old one.
	if err := a.Replace([]User{{Name: "AWS", Password: "x"}}, nil); err == nil {
		t.Fatal("reserved name accepted")
	}
	if p := basicPrincipal(t, a, "bob", "b"); !can(p, "ecr:PutImage", "team/app") {
		t.Error("a refused Replace changed the configuration")
	}
	// Removing a key ends its tokens.
	if err := a.Replace(push, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.VerifyToken(strings.TrimPrefix(mustDecode(t, tok), "AWS:")); err == nil {
		t.Error("a removed key's token still verifies")
	}
	off, _ := New(nil, nil, []byte("k"), nil)
	if err := off.Replace(push, nil); err == nil {
		t.Error("Replace turned authentication on in a server started without it")
	}
}

func TestBcryptCache(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := New([]User{{Name: "u", PasswordHash: string(hash)}}, nil, []byte("k"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if basicPrincipal(t, a, "u", "wrong") != nil {
		t.Fatal("wrong password accepted")
	}
	if n := len(a.cache.entries); n != 0 {
		t.Errorf("a failure was cached (%d entries)", n)
	}
	if basicPrincipal(t, a, "u", "right") == nil {
		t.Fatal("right password refused")
	}
	k := verifyKey("u", string(hash), "right")
	if !a.cache.hit(k, now) {
		t.Error("a success was not cached")
	}
	if basicPrincipal(t, a, "u", "wrong") != nil {
		t.Error("wrong password accepted after a cached success")
	}
	now = now.Add(verifyCacheTTL)
	if a.cache.hit(k, now) {
		t.Error("a cached success outlived its TTL")
	}
	// A new hash for the user (a reload) is verified again, not cached.
	other, _ := bcrypt.GenerateFromPassword([]byte("new"), bcrypt.MinCost)
	if err := a.Replace([]User{{Name: "u", PasswordHash: string(other)}}, nil); err != nil {
		t.Fatal(err)
	}
	if basicPrincipal(t, a, "u", "right") != nil {
		t.Error("the old password still works after the hash changed")
	}
	if basicPrincipal(t, a, "u", "new") == nil {
		t.Error("the new password does not work")
	}
}

func TestVerifyCacheBounded(t *testing.T) {
	c := newVerifyCache(8, time.Minute)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 100; i++ {
		c.add(verifyKey("u", "h", strings.Repeat("x", i)), now.Add(time.Duration(i)*time.Second))
		if len(c.entries) > 8 {
			t.Fatalf("%d entries, bound 8", len(c.entries))
		}
	}
	if !c.hit(verifyKey("u", "h", strings.Repeat("x", 99)), now.Add(99*time.Second)) {
		t.Error("the newest entry was evicted")
	}
}

// BenchmarkBasicBcrypt measures a Basic-auth request with a bcrypt user,
// cached (a registry client's every request) and not (the first one).
func BenchmarkBasicBcrypt(b *testing.B) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
	a, _ := New([]User{{Name: "u", PasswordHash: string(hash)}}, nil, []byte("k"), nil)
	r, _ := http.NewRequest(http.MethodGet, "/v2/", nil)
	r.SetBasicAuth("u", "pw")
	b.Run("cached", func(b *testing.B) {
		if _, err := a.Registry(r); err != nil { // the one bcrypt check
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := a.Registry(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			a.cache = newVerifyCache(verifyCacheSize, verifyCacheTTL)
			if _, err := a.Registry(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReplaceWhileServing: requests authenticate while the configuration
// is swapped (run under -race); each sees one whole configuration.
func TestReplaceWhileServing(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	cfg := func(level string) []User {
		return []User{{Name: "bob", PasswordHash: string(hash), Grants: []Grant{{Repository: "team/*", Actions: []string{level}}}}}
	}
	a, err := NewRequired(cfg("pull"), nil, []byte("k"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest(http.MethodGet, "/v2/", nil)
			r.SetBasicAuth("bob", "pw")
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := a.Registry(r)
				if err != nil || !can(p, "ecr:BatchGetImage", "team/app") {
					t.Errorf("bob mid-swap: %v, %v", p, err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		level := "pull"
		if i%2 == 1 {
			level = "push"
		}
		if err := a.Replace(cfg(level), nil); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
