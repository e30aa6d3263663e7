package audit

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *store.SQL {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTrail(t *testing.T, s *store.SQL, now *time.Time, holder string, log *bytes.Buffer) *Trail {
	t.Helper()
	o := Options{Store: s, Leases: s, Holder: holder, Retention: 24 * time.Hour, Now: func() time.Time { return *now }}
	if log != nil {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	tr, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestCheckAndRecord: a denial is recorded with the request's source and
// id; an allowed check writes nothing; caller-chosen fields are clipped
// and lose control characters; a nil Trail records nothing.
func TestCheckAndRecord(t *testing.T) {
	s := openStore(t)
	now := t0
	var log bytes.Buffer
	tr := newTrail(t, s, &now, "a", &log)
	ctx := WithRequest(context.Background(), Request{Source: "192.0.2.4", ID: "req-1"})
	tr.Check(ctx, "bob", "ecr:PutImage", "team/app", true, "")
	tr.Check(ctx, "bob", "ecr:PutImage", "team/app", false, "no push grant")
	tr.Record(ctx, Record{Principal: "evil\nmsg=forged " + strings.Repeat("x", 300), Action: "ecr:PutImage", Repository: "team/app", Tag: "1"})
	var none *Trail
	none.Check(ctx, "x", "ecr:PutImage", "r", false, "")
	none.Record(ctx, Record{})

	got, err := tr.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Time: t0, Principal: "evil?msg=forged " + strings.Repeat("x", 256-len("evil\nmsg=forged ")) + "…", Source: "192.0.2.4", Action: "ecr:PutImage", Repository: "team/app", Tag: "1", Decision: Allow, RequestID: "req-1"},
		{Time: t0, Principal: "bob", Source: "192.0.2.4", Action: "ecr:PutImage", Repository: "team/app", Decision: Deny, Reason: "no push grant", RequestID: "req-1"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Record{}, "ID")); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if strings.Contains(log.String(), "\nmsg=forged") || strings.Count(log.String(), "msg=audit") != 2 {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestPruneSingleton: records past the retention are pruned by the
// replica holding the lease; another replica's pass prunes nothing.
func TestPruneSingleton(t *testing.T) {
	s := openStore(t)
	now := t0
	a := newTrail(t, s, &now, "replica-a", nil)
	b := newTrail(t, s, &now, "replica-b", nil)
	for i := range 5 {
		a.Record(context.Background(), Record{Time: t0.Add(time.Duration(i-3) * 24 * time.Hour), Principal: "p", Action: "ecr:PutImage"})
	}
	ctx := context.Background()
	if ok, err := s.AcquireLease(ctx, leaseName, "replica-a", now, time.Hour); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	b.pass(ctx)
	if recs, _ := a.List(ctx, Filter{}); len(recs) != 5 {
		t.Errorf("replica b pruned without the lease: %d records left", len(recs))
	}
	a.pass(ctx)
	recs, _ := a.List(ctx, Filter{})
	// Kept: t0-1d (exactly the retention), t0 and t0+1d.
	if len(recs) != 3 {
		t.Errorf("%d records after the prune, want 3", len(recs))
	}
	// a released the lease: b may prune now.
	if ok, err := s.AcquireLease(ctx, leaseName, "replica-b", now, time.Hour); err != nil || !ok {
		t.Errorf("lease not released: %v %v", ok, err)
	}
}

func TestMiddleware(t *testing.T) {
	var got Request
	h := Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = FromContext(r.Context()) }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/v2/", nil)
	req.RemoteAddr = "[2001:db8::1]:5555"
	h.ServeHTTP(rec, req)
	if got.Source != "2001:db8::1" || len(got.ID) != 36 || rec.Header().Get(RequestIDHeader) != got.ID {
		t.Errorf("request %+v, header %q", got, rec.Header().Get(RequestIDHeader))
	}
}

func FuzzClip(f *testing.F) {
	for _, s := range []string{"", "alice", "é" + strings.Repeat("ü", 200), "a\x00b\nc\x7f", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := clip(s, 64)
		if len(out) > 64+len("…") {
			t.Errorf("clip to 64 gave %d bytes", len(out))
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Errorf("clip(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f {
				t.Errorf("clip(%q) kept a control character", s)
			}
		}
	})
}

// BenchmarkRecord is the cost one audit record adds to a request (an
// INSERT into SQLite plus the log line to a discarding handler).
func BenchmarkRecord(b *testing.B) {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "db.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tr, err := New(Options{Store: s})
	if err != nil {
		b.Fatal(err)
	}
	ctx := WithRequest(context.Background(), Request{Source: "192.0.2.1", ID: "5f0c6a52-6c1e-4a55-9d55-0d4b1f0f3e11"})
	rec := Record{Principal: "alice", Action: "ecr:PutImage", Repository: "team/app", Digest: "sha256:" + strings.Repeat("ab", 32), Tag: "v1", Reason: "pushed"}
	for b.Loop() {
		tr.Record(ctx, rec)
	}
}

// TestDenialsBounded: a caller looping refused requests writes at most
// DenialBurst records, then one per DenialEvery; the next record says how
// many were left out. Another caller, or the same one from another address,
// has its own allowance.
func TestDenialsBounded(t *testing.T) {
	s := openStore(t)
	now := t0
	tr := newTrail(t, s, &now, "a", nil)
	ctx := WithRequest(context.Background(), Request{Source: "192.0.2.4"})
	for range 300 {
		tr.Check(ctx, "bob", "ecr:BatchDeleteImage", "team/app", false, "no grant")
	}
	other := WithRequest(context.Background(), Request{Source: "192.0.2.5"})
	tr.Check(other, "bob", "ecr:BatchDeleteImage", "team/app", false, "no grant")
	tr.Check(ctx, "carol", "ecr:BatchDeleteImage", "team/app", false, "no grant")
	now = now.Add(3 * DenialEvery)
	tr.Check(ctx, "bob", "ecr:BatchDeleteImage", "team/app", false, "no grant")

	got, err := tr.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range got {
		count[r.Principal+"@"+r.Source]++
	}
	if diff := cmp.Diff(map[string]int{"bob@192.0.2.4": DenialBurst + 1, "bob@192.0.2.5": 1, "carol@192.0.2.4": 1}, count); diff != "" {
		t.Errorf("records per caller (-want +got):\n%s", diff)
	}
	if last := got[0]; !strings.Contains(last.Reason, "and 280 more denials") {
		t.Errorf("the record after the held-back ones: %q", last.Reason)
	}
}
