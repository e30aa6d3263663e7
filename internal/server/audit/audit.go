// Package audit is the server's audit trail: every change (a push, a tag
// move, a delete of a manifest, tag, image or repository, a configuration or
// policy change through the ECR API) and every denied request is one
// structured record {time, who, source address, IAM-style action,
// repository, digest, tag, decision, reason, request id}, written to the
// store (the audit table, queryable by repository, principal and time, kept
// for Options.Retention) and to the log.
//
// The check points call Trail.Check with the decision they took (the
// registry handler's permission check, the ECR API's, and authentication
// failures); an allowed decision writes nothing there, because the change it
// permits is recorded by Trail.Record once it has happened. A nil *Trail
// records nothing, so packages used without a trail need no special case.
//
// Records carry the source address and request id that Middleware puts in
// the request's context. The source is the TCP peer (r.RemoteAddr): behind a
// proxy it is the proxy's address, because a forwarded-for header is the
// caller's claim.
//
// Retention: Run prunes records older than Options.Retention every
// Options.Interval; with replicas, the one holding the "audit-prune" lease
// does it.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Decisions.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Record is one audit entry.
type Record = store.AuditRecord

// Filter selects records (see store.AuditFilter).
type Filter = store.AuditFilter

// Store holds the records.
type Store interface {
	AppendAudit(ctx context.Context, recs ...store.AuditRecord) error
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditRecord, error)
	PruneAudit(ctx context.Context, before time.Time) (int64, error)
}

// Leaser makes one replica at a time prune.
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Options configure a Trail.
type Options struct {
	Store Store
	// Leases and Holder make pruning a singleton across replicas; nil
	// Leases prunes unconditionally.
	Leases Leaser
	Holder string
	// Retention is how long records are kept (default DefaultRetention).
	Retention time.Duration
	// Interval is the pruning period (default 1h).
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
}

// DefaultRetention is serve's --audit-retention default.
const DefaultRetention = 90 * 24 * time.Hour

// leaseName is the pruning lease.
const leaseName = "audit-prune"

// Field bounds: every field of a record may come from a caller (a claimed
// user name, a repository name, a tag), so each is clipped.
const (
	maxField  = 256
	maxReason = 1024
)

// Denial records per (principal, source): a burst of DenialBurst, then one
// per DenialEvery. A caller looping refused requests otherwise writes one
// row (and one log line) per request; the ones left out are counted in the
// next record that is written.
const (
	DenialBurst = 20
	DenialEvery = time.Second
	// maxDenialKeys bounds the limiter's memory; when full it starts over.
	maxDenialKeys = 10_000
)

// Trail records audit entries.
type Trail struct {
	o Options

	mu      sync.Mutex
	denials map[[2]string]*denialBucket
}

// denialBucket is a token bucket of denial records and what it held back.
type denialBucket struct {
	tokens     float64
	at         time.Time
	suppressed int
}

// New builds a Trail.
func New(o Options) (*Trail, error) {
	if o.Store == nil {
		return nil, errors.New("audit: a store is required")
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Trail{o: o, denials: map[[2]string]*denialBucket{}}, nil
}

// Check is the hook of an authorization check point: principal asked to
// perform action (IAM-style, e.g. ecr:PutImage) on repo ("" for the
// registry) and was allowed or not, for reason. A denial is recorded; an
// allowed decision is not (its change is recorded when it succeeds).
func (t *Trail) Check(ctx context.Context, principal, action, repo string, allowed bool, reason string) {
	if t == nil || allowed {
		return
	}
	held, ok := t.admitDenial(principal, FromContext(ctx).Source)
	if !ok {
		return
	}
	if held > 0 {
		reason = fmt.Sprintf("%s (and %d more denials of this caller from this address not recorded, at most %d records plus one per %s)", reason, held, DenialBurst, DenialEvery)
	}
	t.Record(ctx, Record{Principal: principal, Action: action, Repository: repo, Decision: Deny, Reason: reason})
}

// admitDenial takes a token of (principal, source)'s bucket: ok reports
// whether this denial is recorded, held how many were left out before it.
func (t *Trail) admitDenial(principal, source string) (held int, ok bool) {
	now := t.o.Now()
	k := [2]string{clip(principal, maxField), source}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.denials[k]
	if b == nil {
		if len(t.denials) >= maxDenialKeys {
			clear(t.denials)
		}
		b = &denialBucket{tokens: DenialBurst, at: now}
		t.denials[k] = b
	}
	b.tokens = min(DenialBurst, b.tokens+now.Sub(b.at).Seconds()/DenialEvery.Seconds())
	b.at = now
	if b.tokens < 1 {
		b.suppressed++
		return 0, false
	}
	b.tokens--
	held, b.suppressed = b.suppressed, 0
	return held, true
}

// Record writes r (its time, source and request id filled in from the
// clock and ctx when empty; the decision defaults to allow) to the log and
// the store. A store failure is logged; it never fails the request.
func (t *Trail) Record(ctx context.Context, r Record) {
	if t == nil {
		return
	}
	req := FromContext(ctx)
	if r.Time.IsZero() {
		r.Time = t.o.Now().UTC()
	}
	if r.Source == "" {
		r.Source = req.Source
	}
	if r.RequestID == "" {
		r.RequestID = req.ID
	}
	if r.Decision == "" {
		r.Decision = Allow
	}
	for _, f := range []*string{&r.Principal, &r.Source, &r.Action, &r.Repository, &r.Digest, &r.Tag, &r.Decision, &r.RequestID} {
		*f = clip(*f, maxField)
	}
	r.Reason = clip(r.Reason, maxReason)
	level := slog.LevelInfo
	if r.Decision == Deny {
		level = slog.LevelWarn
	}
	t.o.Logger.Log(ctx, level, "audit", "principal", r.Principal, "source", r.Source, "action", r.Action,
		"repository", r.Repository, "digest", r.Digest, "tag", r.Tag, "decision", r.Decision, "reason", r.Reason, "requestId", r.RequestID)
	// The record is written even when the caller has gone away.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := t.o.Store.AppendAudit(wctx, r); err != nil {
		t.o.Logger.Error("audit: write record", "action", r.Action, "repository", r.Repository, "err", err)
	}
}

// List returns the records f selects, newest first (store.SQL.ListAudit).
func (t *Trail) List(ctx context.Context, f Filter) ([]Record, error) {
	return t.o.Store.ListAudit(ctx, f)
}

// Prune deletes the records older than the retention.
func (t *Trail) Prune(ctx context.Context) (int64, error) {
	return t.o.Store.PruneAudit(ctx, t.o.Now().Add(-t.o.Retention))
}

// Run prunes every Interval (the first pass at once) until ctx ends,
// holding the pruning lease while it does.
func (t *Trail) Run(ctx context.Context) {
	tick := time.NewTicker(t.o.Interval)
	defer tick.Stop()
	for {
		t.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *Trail) pass(ctx context.Context) {
	if t.o.Leases != nil {
		ok, err := t.o.Leases.AcquireLease(ctx, leaseName, t.o.Holder, t.o.Now(), 10*time.Minute)
		if err != nil {
			t.o.Logger.Warn("audit: prune lease", "err", err)
			return
		}
		if !ok {
			return
		}
		defer func() {
			if err := t.o.Leases.ReleaseLease(context.WithoutCancel(ctx), leaseName, t.o.Holder); err != nil {
				t.o.Logger.Warn("audit: release prune lease", "err", err)
			}
		}()
	}
	n, err := t.Prune(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.o.Logger.Error("audit: prune", "err", err)
		}
		return
	}
	if n > 0 {
		t.o.Logger.Info("audit: pruned records past the retention", "records", n, "retention", t.o.Retention)
	}
}

// clip replaces control characters (and invalid UTF-8) and bounds the
// result to n bytes on a rune boundary, so a caller-chosen value cannot
// forge log lines or grow a row.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Request is what a record takes from the request: the caller's address
// and the request id.
type Request struct {
	Source string
	ID     string
}

type requestKey struct{}

// WithRequest returns ctx carrying req.
func WithRequest(ctx context.Context, req Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// FromContext returns the request metadata Middleware stored (zero when
// none).
func FromContext(ctx context.Context) Request {
	req, _ := ctx.Value(requestKey{}).(Request)
	return req
}

// RequestIDHeader carries the request id on registry responses (the ECR
// API answers with its own x-amzn-RequestId, the same id).
const RequestIDHeader = "X-Request-Id"

// Middleware gives every request an id (a UUID, answered in
// RequestIDHeader) and records the peer address, for the records and the
// throttle.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Source: SourceAddr(r), ID: uuid.NewString()}
		w.Header().Set(RequestIDHeader, req.ID)
		next.ServeHTTP(w, r.WithContext(WithRequest(r.Context(), req)))
	})
}

// SourceAddr is the IP of the request's peer (RemoteAddr without the port).
func SourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
