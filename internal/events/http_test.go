package events

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

func testEvent(t *testing.T) Event {
	t.Helper()
	ev, err := ScanCompleted(testMeta, testImage, "COMPLETE", map[severity.Severity]int{"HIGH": 1})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHTTPSink(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1795000000, 0)
	tests := []struct {
		status    int
		wantErr   bool
		permanent bool
	}{
		{200, false, false},
		{204, false, false},
		{400, true, true},
		{404, true, true},
		{408, true, false},
		{429, true, false},
		{500, true, false},
		{503, true, false},
		{302, true, false},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			type seen struct {
				Method, ContentType, ID, Timestamp string
				SigOK                              bool
			}
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got = seen{
					Method:      r.Method,
					ContentType: r.Header.Get("Content-Type"),
					ID:          r.Header.Get(HeaderEventID),
					Timestamp:   r.Header.Get(HeaderTimestamp),
					SigOK:       VerifySignature(secret, body, r.Header.Get(HeaderSignature)) == nil,
				}
				if tc.status == 302 {
					// A redirect to nowhere must not count as delivered.
					w.Header().Set("Location", "/gone")
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			s := &HTTPSink{URL: srv.URL, Secret: secret, Now: func() time.Time { return now }, Client: &http.Client{
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}}
			err := s.Write(context.Background(), testEvent(t))
			if (err != nil) != tc.wantErr || IsPermanent(err) != tc.permanent {
				t.Errorf("err = %v (permanent %v), want error %v permanent %v", err, IsPermanent(err), tc.wantErr, tc.permanent)
			}
			want := seen{Method: "POST", ContentType: "application/json", ID: testMeta.ID, Timestamp: "1795000000", SigOK: true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPSinkErrorHidesURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	s := &HTTPSink{URL: "http://" + addr + "/hook?token=hunter2", Secret: []byte("k"), Timeout: time.Second}
	err = s.Write(context.Background(), testEvent(t))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q echoes the URL's query", err)
	}
}

func TestHTTPSinkTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := &HTTPSink{URL: srv.URL, Secret: []byte("k"), Timeout: 50 * time.Millisecond}
	start := time.Now()
	err := s.Write(context.Background(), testEvent(t))
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable timeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestVerifySignature(t *testing.T) {
	secret := []byte("topsecret")
	body := []byte(`{"id":"x"}`)
	good := Sign(secret, body)
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   error
	}{
		{"good", secret, body, good, nil},
		{"surrounding space", secret, body, " " + good + " ", nil},
		{"other body", secret, []byte(`{"id":"y"}`), good, ErrSignatureMismatch},
		{"other secret", []byte("nope"), body, good, ErrSignatureMismatch},
		{"no prefix", secret, body, strings.TrimPrefix(good, "sha256="), ErrSignatureFormat},
		{"sha1 prefix", secret, body, "sha1=" + strings.TrimPrefix(good, "sha256="), ErrSignatureFormat},
		{"short", secret, body, good[:len(good)-2], ErrSignatureFormat},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), ErrSignatureFormat},
		{"empty", secret, body, "", ErrSignatureFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(tc.secret, tc.body, tc.header)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("VerifySignature = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignatureSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "signatures")
	secret, err := os.ReadFile(filepath.Join(dir, "valid.secret"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]error{
		"valid": nil, "empty_body": nil,
		"tampered": ErrSignatureMismatch, "no_prefix": ErrSignatureFormat, "bad_hex": ErrSignatureFormat,
	}
	for name, wantErr := range want {
		body, err := os.ReadFile(filepath.Join(dir, name+".body"))
		if err != nil {
			t.Fatal(err)
		}
		header, err := os.ReadFile(filepath.Join(dir, name+".header"))
		if err != nil {
			t.Fatal(err)
		}
		err = VerifySignature([]byte(strings.TrimSpace(string(secret))), body, string(header))
		if !errors.Is(err, wantErr) || (wantErr == nil) != (err == nil) {
			t.Errorf("seed %s: VerifySignature = %v, want %v", name, err, wantErr)
		}
	}
}

// Seeds live in testdata/signatures as <name>.body / <name>.header pairs,
// keyed with testdata/signatures/valid.secret.
func FuzzVerifySignature(f *testing.F) {
	dir := filepath.Join("testdata", "signatures")
	secret, err := os.ReadFile(filepath.Join(dir, "valid.secret"))
	if err != nil {
		f.Fatal(err)
	}
	secret = []byte(strings.TrimSpace(string(secret)))
	bodies, err := filepath.Glob(filepath.Join(dir, "*.body"))
	if err != nil || len(bodies) == 0 {
		f.Fatalf("no seeds in %s: %v", dir, err)
	}
	for _, bp := range bodies {
		body, err := os.ReadFile(bp)
		if err != nil {
			f.Fatal(err)
		}
		header, err := os.ReadFile(strings.TrimSuffix(bp, ".body") + ".header")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(secret, body, strings.TrimSpace(string(header)))
	}
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		err := VerifySignature(secret, body, header)
		if err != nil && !errors.Is(err, ErrSignatureFormat) && !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		// Our own signature always verifies, and any other body fails it
		// unless the body is identical.
		sig := Sign(secret, body)
		if err := VerifySignature(secret, body, sig); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if err == nil && strings.TrimSpace(header) != sig && !strings.EqualFold(strings.TrimSpace(header), sig) {
			t.Fatalf("header %q accepted but differs from %q", header, sig)
		}
		other := append([]byte("x"), body...)
		if VerifySignature(secret, other, sig) == nil {
			t.Fatalf("signature of %q accepted for %q", body, other)
		}
	})
}
