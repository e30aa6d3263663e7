package ecrapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzVerifySigV4 signs a request, then lets the fuzzer replace its
// Authorization header, target, date, host and the body the server sees:
// a request is accepted only with the signed body, target and host (a
// change to any signed part must be refused), and only for the one key.
func FuzzVerifySigV4(f *testing.F) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	const body = `{"repositoryName":"app"}`
	signed := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:5000/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", TargetPrefix+"ListImages")
		SignRequest(r, []byte(body), "AKID", "secret", "us-east-1", now)
		return r
	}
	seed := signed()
	f.Add(seed.Header.Get("Authorization"), seed.Header.Get("X-Amz-Date"), TargetPrefix+"ListImages", "127.0.0.1:5000", body)
	f.Add(seed.Header.Get("Authorization"), seed.Header.Get("X-Amz-Date"), TargetPrefix+"DeleteRepository", "127.0.0.1:5000", body)
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00", "20260304T050607Z", "", "h", "")
	lookup := func(id string) (string, bool) { return "secret", id == "AKID" }
	f.Fuzz(func(t *testing.T, authz, date, target, host, seen string) {
		r := signed()
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Target", target)
		r.Host = host
		id, err := verifySigV4(r, []byte(seen), lookup, now, "us-east-1", "ecr")
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-API error %v", err)
			}
			return
		}
		if id != "AKID" || seen != body || target != TargetPrefix+"ListImages" || host != "127.0.0.1:5000" {
			t.Fatalf("accepted a changed request: key %q, target %q, host %q, body %q", id, target, host, seen)
		}
	})
}

// FuzzPageBounds: any nextToken and maxResults give an error or a page
// inside the list, no longer than the limit, whose next token resumes
// exactly where it ends.
func FuzzPageBounds(f *testing.F) {
	f.Add("", 0, false, 10)
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("offset:5")), 3, true, 10)
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("offset:-1")), 1, true, 10)
	f.Add("not base64!", 1000, true, 1<<20)
	f.Fuzz(func(t *testing.T, token string, max int, hasMax bool, total int) {
		if total < 0 || total > 1<<30 {
			return
		}
		var mp *int
		if hasMax {
			mp = &max
		}
		start, end, next, err := pageBounds(token, mp, total)
		if err != nil {
			return
		}
		limit := 100
		if hasMax {
			limit = max
		}
		if start < 0 || start > end || end > total || end-start > limit {
			t.Fatalf("page [%d, %d) of %d with limit %d", start, end, total, limit)
		}
		if (next != "") != (end < total) {
			t.Fatalf("next %q with end %d of %d", next, end, total)
		}
		if next != "" {
			s2, _, _, err := pageBounds(next, mp, total)
			if err != nil || s2 != end {
				t.Fatalf("next token %q resumes at %d (%v), want %d", next, s2, err, end)
			}
			if raw, _ := base64.RawURLEncoding.DecodeString(next); string(raw) != "offset:"+strconv.Itoa(end) {
				t.Fatalf("next token %q", raw)
			}
		}
	})
}

// FuzzPullThroughRuleMembers: a rule's prefix and upstream URL are either
// refused with an API error or satisfy ECR's constraints (a prefix of 1-30
// characters without a trailing "/", a host that go-containerregistry
// names exactly).
func FuzzPullThroughRuleMembers(f *testing.F) {
	for _, s := range []string{"hub", "hub/", "ROOT", "a//b", "quay.io", "registry.example:5000", "https://quay.io", "a_b__c-d", "x/y/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := pullThroughPrefix("ecrRepositoryPrefix", s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-API error %v", err)
			}
		} else if p == "" || len(p) > 30 || strings.HasSuffix(p, "/") || !pullThroughPrefixRE.MatchString(p) {
			t.Fatalf("prefix %q accepted as %q", s, p)
		}
		h, err := upstreamHost(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-API error %v", err)
			}
			return
		}
		if h != s || strings.ContainsAny(h, "/@ ") {
			t.Fatalf("upstream %q accepted as %q", s, h)
		}
	})
}
