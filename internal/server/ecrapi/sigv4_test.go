package ecrapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignatureAWSVector checks the signing chain against AWS's published
// SigV4 test suite case "get-vanilla".
func TestSignatureAWSVector(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "http://example.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Date", "20150830T123600Z")
	canonical := canonicalRequest(r, []string{"host", "x-amz-date"}, hexSHA256(nil))
	wantCanonical := "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if canonical != wantCanonical {
		t.Fatalf("canonical request:\n%s\nwant:\n%s", canonical, wantCanonical)
	}
	got := signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830T123600Z", "20150830", "us-east-1", "service", canonical)
	if want := "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"; got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
}

func TestCanonicalEncoding(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/a b", "/a%20b"},
		{"/a%20b", "/a%2520b"}, // non-S3 services encode the escaped path again
		{"/~x-y_z.", "/~x-y_z."},
	}
	for _, tt := range tests {
		if got := uriEncode(tt.in, true); got != tt.want {
			t.Errorf("uriEncode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestVerifySigV4(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	lookup := func(id string) (string, bool) {
		if id == "AKID" {
			return "secret", true
		}
		return "", false
	}
	body := []byte(`{"repositoryName":"app"}`)
	newReq := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:5000/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", TargetPrefix+"ListImages")
		return r
	}
	tests := []struct {
		name   string
		mutate func(r *http.Request) []byte // returns the body the server sees
		want   string                       // "" = accepted
	}{
		{"valid", func(r *http.Request) []byte { return body }, ""},
		{"unsigned header added", func(r *http.Request) []byte { r.Header.Set("User-Agent", "x"); return body }, ""},
		{"body changed", func(r *http.Request) []byte { return []byte(`{"repositoryName":"other"}`) }, "InvalidSignatureException"},
		{"target changed", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Target", TargetPrefix+"DeleteRepository")
			return body
		}, "InvalidSignatureException"},
		{"host changed", func(r *http.Request) []byte { r.Host = "evil:5000"; return body }, "InvalidSignatureException"},
		{"query added", func(r *http.Request) []byte { r.URL.RawQuery = "a=b"; return body }, "InvalidSignatureException"},
		{"no authorization", func(r *http.Request) []byte { r.Header.Del("Authorization"); return body }, "MissingAuthenticationTokenException"},
		{"garbage authorization", func(r *http.Request) []byte { r.Header.Set("Authorization", "Basic abc"); return body }, "IncompleteSignatureException"},
		{"bad content hash", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", hexSHA256([]byte("x")))
			return body
		}, "InvalidSignatureException"},
		{"date removed", func(r *http.Request) []byte { r.Header.Del("X-Amz-Date"); return body }, "IncompleteSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq()
			SignRequest(r, body, "AKID", "secret", "us-east-1", now)
			seen := tt.mutate(r)
			id, err := verifySigV4(r, seen, lookup, now, "us-east-1", "ecr")
			got := ""
			if e, ok := err.(*Error); ok {
				got = e.Type
			} else if err != nil {
				t.Fatalf("non-API error %v", err)
			}
			if got != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
			if tt.want == "" && id != "AKID" {
				t.Errorf("key id = %q", id)
			}
		})
	}
	// Key, region, service and clock checks.
	for _, tt := range []struct {
		name, key, region string
		at                time.Time
		want              string
	}{
		{"unknown key", "AKIDX", "us-east-1", now, "UnrecognizedClientException"},
		{"wrong region", "AKID", "eu-west-1", now, "InvalidSignatureException"},
		{"too old", "AKID", "us-east-1", now.Add(-6 * time.Minute), "InvalidSignatureException"},
		{"from the future", "AKID", "us-east-1", now.Add(6 * time.Minute), "InvalidSignatureException"},
		{"within skew", "AKID", "us-east-1", now.Add(-4 * time.Minute), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newReq()
			SignRequest(r, body, tt.key, "secret", tt.region, tt.at)
			_, err := verifySigV4(r, body, lookup, now, "us-east-1", "ecr")
			got := ""
			if e, ok := err.(*Error); ok {
				got = e.Type
			}
			if got != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260304/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request,SignedHeaders=,Signature=")
	f.Add("Basic xyz")
	f.Fuzz(func(t *testing.T, h string) {
		s, err := parseAuthorization(h)
		if err == nil && (s.KeyID == "" || s.Signature == "" || len(s.SignedHeaders) == 0) {
			t.Fatalf("accepted incomplete header %q: %+v", h, s)
		}
	})
}
