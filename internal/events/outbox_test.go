package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// outboxStore opens a fresh, empty database for one test. Every store runs
// the same suite (testOutbox).
type outboxStore struct {
	name string
	open func(t *testing.T) (*sql.DB, Dialect)
}

var outboxStores = []outboxStore{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func openSQLite(t *testing.T) (*sql.DB, Dialect) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, SQLite
}

// openPostgres isolates each test in its own schema of database test on
// the local server, dropped afterwards.
func openPostgres(t *testing.T) (*sql.DB, Dialect) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
	if err != nil {
		t.Skipf("PostgreSQL not reachable at 127.0.0.1:5432: %v", err)
	}
	c.Close()
	const base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "events_test_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Skipf("PostgreSQL at 127.0.0.1:5432 (database test, user postgres) not usable: %v", err)
	}
	db, err := sql.Open("pgx", base+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return db, Postgres
}

func TestOutbox(t *testing.T) {
	for _, st := range outboxStores {
		t.Run(st.name, func(t *testing.T) { testOutbox(t, st) })
	}
}

func testOutbox(t *testing.T, st outboxStore) {
	t.Run("EnqueueIdempotentAndTransactional", func(t *testing.T) { testEnqueue(t, st) })
	t.Run("RetryAndDead", func(t *testing.T) { testRetryAndDead(t, st) })
	t.Run("ExactlyOnceSingleDispatcher", func(t *testing.T) { testExactlyOnce(t, st) })
	t.Run("KillAndResume", func(t *testing.T) { testKillAndResume(t, st) })
	t.Run("ConcurrentDispatchers", func(t *testing.T) { testConcurrentDispatchers(t, st) })
	t.Run("UnknownAndSlowSinks", func(t *testing.T) { testUnknownAndSlowSinks(t, st) })
	t.Run("OwnTableLookupRearm", func(t *testing.T) { testOwnTableLookupRearm(t, st) })
}

func newOutbox(t *testing.T, st outboxStore) *Outbox {
	t.Helper()
	db, d := st.open(t)
	o := NewOutbox(db, d)
	if err := o.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Migrate twice: it must be idempotent.
	if err := o.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return o
}

func mkEvents(t *testing.T, n int) []Event {
	t.Helper()
	var evs []Event
	for i := range n {
		img := testImage
		img.Repository = fmt.Sprintf("repo-%02d", i)
		ev, err := ScanCompleted(Meta{}, img, "COMPLETE", map[severity.Severity]int{"HIGH": i})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func testEnqueue(t *testing.T, st outboxStore) {
	ctx := context.Background()
	o := newOutbox(t, st)
	evs := mkEvents(t, 3)
	if err := o.Enqueue(ctx, o.db, evs[0], "a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, o.db, evs[0], "a"); err != nil {
		t.Fatalf("re-enqueue: %v", err)
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, tx, evs[1], "a"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	tx, err = o.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, tx, evs[2], "b"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, o.db, Event{}, "a"); err == nil {
		t.Error("enqueue of an event without id succeeded")
	}
	got, err := o.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Sink, Event string }
	var rows []row
	for _, s := range got {
		rows = append(rows, row{s.SinkID, s.EventID})
	}
	want := []row{{"a", evs[0].ID}, {"b", evs[0].ID}, {"b", evs[2].ID}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func testRetryAndDead(t *testing.T, st outboxStore) {
	ctx := context.Background()
	o := newOutbox(t, st)
	evs := mkEvents(t, 2)
	for _, ev := range evs {
		if err := o.Enqueue(ctx, o.db, ev, "flaky", "broken"); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	flakyCalls := 0
	d := &Dispatcher{
		Outbox: o, Lease: time.Minute, MaxAttempts: 3,
		Now:     func() time.Time { return now },
		Backoff: func(n int) time.Duration { return time.Duration(n) * 10 * time.Second },
		Sinks: map[string]Sink{
			"flaky": SinkFunc(func(context.Context, Event) error {
				flakyCalls++
				if flakyCalls <= 2 {
					return errors.New("503 Service Unavailable")
				}
				return nil
			}),
			"broken": SinkFunc(func(_ context.Context, ev Event) error {
				if ev.ID == evs[0].ID {
					return Permanent(errors.New("400 Bad Request"))
				}
				return errors.New("connection refused")
			}),
		},
	}
	type state struct {
		Sink, Event     string
		Attempts        int
		Delivered, Dead bool
		Err             string
		Wait            time.Duration
	}
	snapshot := func() []state {
		t.Helper()
		got, err := o.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []state
		for _, s := range got {
			w := time.Duration(0)
			if !s.NextAttempt.IsZero() {
				w = s.NextAttempt.Sub(now).Round(time.Second)
			}
			out = append(out, state{s.SinkID, s.EventID, s.Attempts, s.Delivered, s.Dead, s.LastError, w})
		}
		return out
	}
	dispatch := func(want int) {
		t.Helper()
		n, err := d.DispatchOnce(ctx)
		if err != nil || n != want {
			t.Fatalf("DispatchOnce = %d, %v; want %d rows", n, err, want)
		}
	}
	e0, e1 := evs[0].ID, evs[1].ID
	dispatch(4)
	want := []state{
		{"flaky", e0, 1, false, false, "503 Service Unavailable", 10 * time.Second},
		{"broken", e0, 1, false, true, "400 Bad Request", 0},
		{"flaky", e1, 1, false, false, "503 Service Unavailable", 10 * time.Second},
		{"broken", e1, 1, false, false, "connection refused", 10 * time.Second},
	}
	if diff := cmp.Diff(want, snapshot()); diff != "" {
		t.Fatalf("after first pass (-want +got):\n%s", diff)
	}
	dispatch(0) // nothing due yet
	now = now.Add(11 * time.Second)
	dispatch(3)
	now = now.Add(21 * time.Second)
	dispatch(1) // broken e1, third attempt: dead
	want = []state{
		{"flaky", e0, 2, true, false, "", 0},
		{"broken", e0, 1, false, true, "400 Bad Request", 0},
		{"flaky", e1, 2, true, false, "", 0},
		{"broken", e1, 3, false, true, "connection refused", 0},
	}
	if diff := cmp.Diff(want, snapshot()); diff != "" {
		t.Errorf("final (-want +got):\n%s", diff)
	}
	now = now.Add(time.Hour)
	dispatch(0) // dead and delivered rows are never claimed again
}

// hookServer is a webhook receiver that checks signatures and counts
// deliveries per sink path and event id.
type hookServer struct {
	t      *testing.T
	secret []byte
	delay  time.Duration
	srv    *httptest.Server

	mu     sync.Mutex
	counts map[string]map[string]int // path -> event id -> deliveries
	total  int
	bad    []string
	seen   chan struct{}
}

func newHookServer(t *testing.T, secret []byte, delay time.Duration) *hookServer {
	h := &hookServer{t: t, secret: secret, delay: delay, counts: map[string]map[string]int{}, seen: make(chan struct{}, 10000)}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ev Event
	problem := ""
	switch {
	case VerifySignature(h.secret, body, r.Header.Get(HeaderSignature)) != nil:
		problem = "bad signature"
	case json.Unmarshal(body, &ev) != nil:
		problem = "bad body"
	case ev.ID == "" || ev.ID != r.Header.Get(HeaderEventID):
		problem = fmt.Sprintf("body id %q != header id %q", ev.ID, r.Header.Get(HeaderEventID))
	}
	h.mu.Lock()
	if problem != "" {
		h.bad = append(h.bad, problem)
	} else {
		if h.counts[r.URL.Path] == nil {
			h.counts[r.URL.Path] = map[string]int{}
		}
		h.counts[r.URL.Path][ev.ID]++
		h.total++
	}
	h.mu.Unlock()
	h.seen <- struct{}{}
	time.Sleep(h.delay)
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookServer) snapshot() (map[string]map[string]int, int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := map[string]map[string]int{}
	for p, m := range h.counts {
		c[p] = map[string]int{}
		for k, v := range m {
			c[p][k] = v
		}
	}
	return c, h.total, append([]string(nil), h.bad...)
}

func hookSinks(h *hookServer, secret []byte) map[string]Sink {
	mk := func(path string) Sink {
		return &Retry{Sink: &HTTPSink{URL: h.srv.URL + path, Secret: secret, Timeout: 5 * time.Second},
			Attempts: 2, Base: 5 * time.Millisecond, Breaker: &Breaker{}}
	}
	return map[string]Sink{"hook-a": mk("/a"), "hook-b": mk("/b")}
}

// waitDelivered runs until every row is delivered or the deadline passes.
func waitDelivered(t *testing.T, o *Outbox, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rows, err := o.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pending := 0
		for _, r := range rows {
			if !r.Delivered {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rows still undelivered after %v", pending, len(rows), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func enqueueAll(t *testing.T, o *Outbox, evs []Event) {
	t.Helper()
	for _, ev := range evs {
		if err := o.Enqueue(context.Background(), o.db, ev, "hook-a", "hook-b"); err != nil {
			t.Fatal(err)
		}
	}
}

func wantAll(evs []Event, n int) map[string]map[string]int {
	want := map[string]map[string]int{"/a": {}, "/b": {}}
	for _, ev := range evs {
		want["/a"][ev.ID] = n
		want["/b"][ev.ID] = n
	}
	return want
}

func runDispatcher(ctx context.Context, d *Dispatcher) <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return done
}

func testExactlyOnce(t *testing.T, st outboxStore) {
	secret := []byte("hook-secret")
	o := newOutbox(t, st)
	h := newHookServer(t, secret, 0)
	evs := mkEvents(t, 20)
	enqueueAll(t, o, evs)
	ctx, cancel := context.WithCancel(context.Background())
	done := runDispatcher(ctx, &Dispatcher{Outbox: o, Sinks: hookSinks(h, secret), Batch: 7, Poll: 10 * time.Millisecond})
	waitDelivered(t, o, 30*time.Second)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	got, _, bad := h.snapshot()
	if len(bad) > 0 {
		t.Errorf("receiver rejected deliveries: %v", bad)
	}
	if diff := cmp.Diff(wantAll(evs, 1), got); diff != "" {
		t.Errorf("deliveries per event (-want +got):\n%s", diff)
	}
}

func testKillAndResume(t *testing.T, st outboxStore) {
	secret := []byte("hook-secret")
	o := newOutbox(t, st)
	h := newHookServer(t, secret, 5*time.Millisecond)
	evs := mkEvents(t, 30)
	enqueueAll(t, o, evs)
	const lease = 300 * time.Millisecond

	// First dispatcher: killed (context cancelled) after 10 deliveries.
	ctx1, kill := context.WithCancel(context.Background())
	done1 := runDispatcher(ctx1, &Dispatcher{Outbox: o, Sinks: hookSinks(h, secret), Batch: 4, Lease: lease, Poll: 10 * time.Millisecond})
	for range 10 {
		<-h.seen
	}
	kill()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Errorf("first Run = %v, want context.Canceled", err)
	}
	rows, err := o.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, r := range rows {
		if r.Delivered {
			delivered++
		}
	}
	if delivered == len(rows) {
		t.Fatalf("the first dispatcher delivered all %d rows before the kill; the test proves nothing", len(rows))
	}
	t.Logf("killed after %d of %d rows marked delivered", delivered, len(rows))

	// Second dispatcher on the same database delivers the rest, including
	// rows the first one had leased when it died.
	ctx2, stop := context.WithCancel(context.Background())
	done2 := runDispatcher(ctx2, &Dispatcher{Outbox: o, Sinks: hookSinks(h, secret), Batch: 4, Lease: lease, Poll: 10 * time.Millisecond})
	waitDelivered(t, o, 30*time.Second)
	stop()
	<-done2

	got, total, bad := h.snapshot()
	if len(bad) > 0 {
		t.Errorf("receiver rejected deliveries: %v", bad)
	}
	// Every event reached every sink at least once; a duplicate is only
	// possible for rows in flight at the kill (at most one batch, per sink
	// path), and carries the same event id, so consumers can dedupe.
	dups := 0
	for path, want := range wantAll(evs, 1) {
		for id := range want {
			n := got[path][id]
			if n < 1 {
				t.Errorf("%s: event %s never delivered", path, id)
			}
			dups += max(n-1, 0)
		}
		for id := range got[path] {
			if _, ok := want[id]; !ok {
				t.Errorf("%s: unknown event id %s delivered", path, id)
			}
		}
	}
	if dups > 4 {
		t.Errorf("%d duplicate deliveries, want at most one batch (4)", dups)
	}
	t.Logf("%d deliveries for %d (sink, event) pairs: %d duplicates", total, 2*len(evs), dups)
}

func testConcurrentDispatchers(t *testing.T, st outboxStore) {
	secret := []byte("hook-secret")
	o := newOutbox(t, st)
	h := newHookServer(t, secret, time.Millisecond)
	evs := mkEvents(t, 30)
	enqueueAll(t, o, evs)
	ctx, cancel := context.WithCancel(context.Background())
	var dones []<-chan error
	for range 3 {
		dones = append(dones, runDispatcher(ctx, &Dispatcher{Outbox: o, Sinks: hookSinks(h, secret), Batch: 3, Poll: 5 * time.Millisecond}))
	}
	waitDelivered(t, o, 30*time.Second)
	cancel()
	for _, d := range dones {
		<-d
	}
	got, _, bad := h.snapshot()
	if len(bad) > 0 {
		t.Errorf("receiver rejected deliveries: %v", bad)
	}
	if diff := cmp.Diff(wantAll(evs, 1), got); diff != "" {
		t.Errorf("three dispatchers: deliveries per event (-want +got):\n%s", diff)
	}
}

// A row for a sink that is not configured waits for it; a sink slower than
// the lease is cancelled and the row is retried, never left in flight.
func testUnknownAndSlowSinks(t *testing.T, st outboxStore) {
	ctx := context.Background()
	o := newOutbox(t, st)
	ev := mkEvents(t, 1)[0]
	if err := o.Enqueue(ctx, o.db, ev, "gone", "slow"); err != nil {
		t.Fatal(err)
	}
	d := &Dispatcher{
		Outbox: o, Lease: 100 * time.Millisecond,
		Backoff: func(int) time.Duration { return time.Hour },
		Sinks: map[string]Sink{"slow": SinkFunc(func(ctx context.Context, _ Event) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Second):
				return nil
			}
		})},
	}
	start := time.Now()
	if n, err := d.DispatchOnce(ctx); n != 2 || err != nil {
		t.Fatalf("DispatchOnce = %d, %v", n, err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("slow sink not cut at the lease: took %v", el)
	}
	rows, err := o.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		Sink            string
		Delivered, Dead bool
		ErrHas          bool
	}
	var got []state
	for _, r := range rows {
		wantText := map[string]string{"gone": `no sink "gone"`, "slow": "deadline exceeded"}[r.SinkID]
		got = append(got, state{r.SinkID, r.Delivered, r.Dead, strings.Contains(r.LastError, wantText)})
		if time.Until(r.NextAttempt) < 30*time.Minute {
			t.Errorf("%s: next attempt %v, want about an hour from now", r.SinkID, r.NextAttempt)
		}
	}
	want := []state{{"gone", false, false, true}, {"slow", false, false, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// testOwnTableLookupRearm: a queue in its own table is invisible to the
// outbox table's dispatcher and the other way round; Lookup reads one
// event's rows; Rearm makes a delivered or dead row due again and leaves
// a waiting row alone.
func testOwnTableLookupRearm(t *testing.T, st outboxStore) {
	ctx := context.Background()
	db, d := st.open(t)
	if _, err := NewOutboxTable(db, d, "bad name; DROP TABLE x"); err == nil {
		t.Fatal("NewOutboxTable accepted a table name that is no identifier")
	}
	main := NewOutbox(db, d)
	own, err := NewOutboxTable(db, d, "replication_outbox")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Outbox{main, own} {
		if err := o.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	evs := mkEvents(t, 3)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(main.Enqueue(ctx, db, evs[0], "hook"))
	must(own.Enqueue(ctx, db, evs[1], "ok", "down"))
	must(own.Enqueue(ctx, db, evs[2], "ok"))

	var mu sync.Mutex
	got := map[string]int{}
	record := func(sink string, fail bool) Sink {
		return SinkFunc(func(ctx context.Context, ev Event) error {
			mu.Lock()
			defer mu.Unlock()
			got[sink+" "+ev.ID]++
			if fail {
				return Permanent(errors.New("destination refused"))
			}
			return nil
		})
	}
	ownD := &Dispatcher{Outbox: own, Sinks: map[string]Sink{"ok": record("ok", false), "down": record("down", true)}}
	mainD := &Dispatcher{Outbox: main, Sinks: map[string]Sink{"hook": record("hook", false)}}
	for _, dd := range []*Dispatcher{ownD, mainD} {
		if _, err := dd.DispatchOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"hook " + evs[0].ID: 1, "ok " + evs[1].ID: 1, "down " + evs[1].ID: 1, "ok " + evs[2].ID: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("deliveries (-want +got):\n%s", diff)
	}
	status := func() []string {
		t.Helper()
		sts, err := own.Lookup(ctx, evs[1].ID)
		must(err)
		var out []string
		for _, s := range sts {
			out = append(out, fmt.Sprintf("%s attempts=%d delivered=%v dead=%v err=%q", s.SinkID, s.Attempts, s.Delivered, s.Dead, s.LastError))
		}
		return out
	}
	if diff := cmp.Diff([]string{
		`ok attempts=1 delivered=true dead=false err=""`,
		`down attempts=1 delivered=false dead=true err="destination refused"`,
	}, status()); diff != "" {
		t.Fatalf("Lookup (-want +got):\n%s", diff)
	}
	if sts, err := main.Lookup(ctx, evs[1].ID); err != nil || len(sts) != 0 {
		t.Fatalf("main outbox Lookup of the other table's event = %v, %v; want none", sts, err)
	}
	// Rearm: both rows (delivered, dead) are due again with a new budget;
	// a new sink gets its row; rearming a waiting row changes nothing.
	must(own.Rearm(ctx, db, evs[1], "ok", "down", "new"))
	must(own.Rearm(ctx, db, evs[1], "new"))
	if diff := cmp.Diff([]string{
		`ok attempts=0 delivered=false dead=false err=""`,
		`down attempts=0 delivered=false dead=false err=""`,
		`new attempts=0 delivered=false dead=false err=""`,
	}, status()); diff != "" {
		t.Fatalf("Lookup after Rearm (-want +got):\n%s", diff)
	}
	ownD.Sinks["down"] = record("down", false)
	ownD.Sinks["new"] = record("new", false)
	if _, err := ownD.DispatchOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want["ok "+evs[1].ID], want["down "+evs[1].ID], want["new "+evs[1].ID] = 2, 2, 1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("deliveries after Rearm (-want +got):\n%s", diff)
	}
}
