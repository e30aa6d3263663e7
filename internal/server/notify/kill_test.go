package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// receiver is a webhook endpoint for two sinks (/a and /b) that records
// every request it accepts and checks every signature.
type receiver struct {
	secrets map[string][]byte

	mu       sync.Mutex
	accept   bool          // false: answer 503
	delay    time.Duration // after recording, before answering
	raw      []delivery    // accepted deliveries, duplicates included
	rejected map[string]int
	badSig   int
}

type delivery struct {
	sink string
	ev   events.Event
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	sink := strings.TrimPrefix(req.URL.Path, "/")
	r.mu.Lock()
	if err := events.VerifySignature(r.secrets[sink], body, req.Header.Get(events.HeaderSignature)); err != nil {
		r.badSig++
		r.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !r.accept {
		r.rejected[sink]++
		r.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(events.HeaderEventID) {
		r.badSig++ // counted as a bad delivery
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.raw = append(r.raw, delivery{sink, ev})
	delay := r.delay
	r.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-req.Context().Done():
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) set(accept bool, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accept, r.delay = accept, delay
}

func (r *receiver) snapshot() (raw []delivery, rejected map[string]int, badSig int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rej := map[string]int{}
	for k, v := range r.rejected {
		rej[k] = v
	}
	return append([]delivery(nil), r.raw...), rej, r.badSig
}

// distinct returns, per sink, the sorted distinct event ids delivered.
func distinct(raw []delivery) map[string][]string {
	seen := map[string]map[string]bool{}
	for _, d := range raw {
		if seen[d.sink] == nil {
			seen[d.sink] = map[string]bool{}
		}
		seen[d.sink][d.ev.ID] = true
	}
	out := map[string][]string{}
	for sink, ids := range seen {
		for id := range ids {
			out[sink] = append(out[sink], id)
		}
		sort.Strings(out[sink])
	}
	return out
}

// child is a server process.
type child struct {
	cmd    *exec.Cmd
	host   string
	stderr string
}

func startChild(t *testing.T, dataDir, dbURL, eventsPath string) *child {
	t.Helper()
	stderr, err := os.CreateTemp(t.TempDir(), "server-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envChild+"=1", envChildData+"="+dataDir, envChildDB+"="+dbURL, envChildEvents+"="+eventsPath,
		"HOOK_A_SECRET=secret-a", "HOOK_B_SECRET=secret-b")
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: stderr.Name()}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(c.stderr)
			t.Logf("server log %s:\n%s", c.stderr, tail(string(b), 4000))
		}
	})
	c.host = readListen(t, out)
	return c
}

func (c *child) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// outboxState lists the outbox rows of the server's database.
func outboxState(t *testing.T, dataDir, dbURL string) []events.Status {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dataDir, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := events.SQLite
	if st.Dialect() == "postgres" {
		d = events.Postgres
	}
	rows, err := events.NewOutbox(st.DB(), d).List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func idsBySink(rows []events.Status, pred func(events.Status) bool) map[string][]string {
	out := map[string][]string{}
	for _, r := range rows {
		if pred(r) {
			out[r.SinkID] = append(out[r.SinkID], r.EventID)
		}
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

const killTestEvents = `
sinks:
  - id: a
    type: webhook
    url: %[1]s/a
    secretEnv: HOOK_A_SECRET
    timeout: 2s
    retry: {attempts: 1}
  - id: b
    type: webhook
    url: %[1]s/b
    secretEnv: HOOK_B_SECRET
    timeout: 2s
    retry: {attempts: 1}
    rules: [{repositoryFilters: ['prod*'], minSeverity: HIGH}]
delivery:
  lease: 3s
  poll: 100ms
  backoffBase: 200ms
  backoffMax: 1s
`

// TestKillAndRestartDeliversEveryEvent runs a real server process whose
// webhook receiver is failing, kills it (SIGKILL) with every event still in
// the outbox, restarts it against a healthy receiver, kills it again in the
// middle of a delivery, and restarts it once more: every event reaches each
// sink it was routed to, at least once, and exactly once after deduping by
// event id; every delivery is correctly signed.
func TestKillAndRestartDeliversEveryEvent(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { killAndRestart(t, "") })
	t.Run("postgres", func(t *testing.T) { killAndRestart(t, storetest.PostgresURL(t)) })
}

func killAndRestart(t *testing.T, dbURL string) {
	start := time.Now()
	rcv := &receiver{secrets: map[string][]byte{"a": []byte("secret-a"), "b": []byte("secret-b")}, rejected: map[string]int{}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	dataDir := t.TempDir()
	eventsPath := filepath.Join(t.TempDir(), "events.yaml")
	if err := os.WriteFile(eventsPath, fmt.Appendf(nil, killTestEvents, hook.URL), 0o600); err != nil {
		t.Fatal(err)
	}

	// Phase 1: the receiver answers 503; scans complete; kill -9.
	srv := startChild(t, dataDir, dbURL, eventsPath)
	c := client{srv.host}
	c.scanOnPushEverything(t)
	type image struct{ repo, tag, digest string }
	var images []image
	for i, repo := range []string{"prod/api", "prod/web", "dev/api", "prod/tiny", "dev/web"} {
		layers := 3
		if repo == "prod/tiny" {
			layers = 0 // no findings: filtered out of sink b by minSeverity
		}
		tag := fmt.Sprintf("v%d", i)
		images = append(images, image{repo, tag, c.push(t, repo, tag, layers)})
	}
	for _, im := range images {
		if s := c.waitScan(t, im.repo, im.digest); s != "COMPLETE" {
			t.Fatalf("scan of %s: %s", im.repo, s)
		}
	}
	waitFor(t, 10*time.Second, "failed delivery attempts to both sinks", func() bool {
		_, rej, _ := rcv.snapshot()
		return rej["a"] > 0 && rej["b"] > 0
	})
	srv.kill9(t)
	killedAt := time.Now()

	rows := outboxState(t, dataDir, dbURL)
	if n := len(idsBySink(rows, func(r events.Status) bool { return r.Delivered })); n != 0 {
		t.Fatalf("rows delivered to a failing receiver: %+v", rows)
	}
	want := idsBySink(rows, func(events.Status) bool { return true })
	if len(want["a"]) != 5 || len(want["b"]) != 2 {
		t.Fatalf("outbox after the kill: %d events for a, %d for b; want 5 and 2: %+v", len(want["a"]), len(want["b"]), rows)
	}
	_, rejected, _ := rcv.snapshot()

	// Phase 2: the receiver accepts slowly; kill -9 in the middle of the
	// second delivery (recorded, not yet answered).
	rcv.set(true, 400*time.Millisecond)
	srv = startChild(t, dataDir, dbURL, eventsPath)
	waitFor(t, 20*time.Second, "two deliveries after the restart", func() bool {
		raw, _, _ := rcv.snapshot()
		return len(raw) >= 2
	})
	srv.kill9(t)
	raw, _, _ := rcv.snapshot()
	phase2 := len(raw)

	// Phase 3: restart; everything arrives.
	rcv.set(true, 0)
	srv = startChild(t, dataDir, dbURL, eventsPath)
	c = client{srv.host}
	waitFor(t, 30*time.Second, "every event at every sink", func() bool {
		raw, _, _ := rcv.snapshot()
		return cmp.Equal(want, distinct(raw))
	})
	waitFor(t, 10*time.Second, "every outbox row marked delivered", func() bool {
		rows := outboxState(t, dataDir, dbURL)
		return cmp.Equal(want, idsBySink(rows, func(r events.Status) bool { return r.Delivered }))
	})
	if m := c.metrics(t); !strings.Contains(m, `stowaway_events_delivered_total{sink="a"}`) {
		t.Errorf("/metrics lacks the delivery counter:\n%s", tail(m, 2000))
	}
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Wait(); err != nil {
		t.Errorf("server after SIGTERM: %v", err)
	}

	raw, _, badSig := rcv.snapshot()
	if badSig != 0 {
		t.Errorf("%d deliveries with a bad signature or body", badSig)
	}
	if diff := cmp.Diff(want, distinct(raw)); diff != "" {
		t.Errorf("delivered event ids per sink (-want outbox +got):\n%s", diff)
	}
	// Each image's scan was announced by exactly one event per sink it
	// was routed to, with the right content.
	type key struct{ sink, digest string }
	eventOf := map[key]string{}
	for _, d := range raw {
		var det struct {
			Status string         `json:"scan-status"`
			Repo   string         `json:"repository-name"`
			Digest string         `json:"image-digest"`
			Tags   []string       `json:"image-tags"`
			Counts map[string]int `json:"finding-severity-counts"`
		}
		if err := json.Unmarshal(d.ev.Detail, &det); err != nil {
			t.Fatal(err)
		}
		k := key{d.sink, det.Digest}
		if id, ok := eventOf[k]; ok && id != d.ev.ID {
			t.Errorf("sink %s got two different events for %s: %s and %s", d.sink, det.Digest, id, d.ev.ID)
		}
		eventOf[k] = d.ev.ID
		var im *image
		for i := range images {
			if images[i].digest == det.Digest {
				im = &images[i]
			}
		}
		if im == nil {
			t.Fatalf("event for an unknown image: %+v", d.ev)
		}
		wantCounts := map[string]int{"HIGH": 2, "CRITICAL": 1}
		if im.repo == "prod/tiny" {
			wantCounts = map[string]int{}
		}
		if d.ev.DetailType != events.DetailTypeScan || d.ev.Source != "aws.ecr" || d.ev.Account != "123456789012" ||
			det.Status != "COMPLETE" || det.Repo != im.repo || !cmp.Equal(det.Tags, []string{im.tag}) || !cmp.Equal(det.Counts, wantCounts) ||
			!cmp.Equal(d.ev.Resources, []string{"arn:aws:ecr:us-east-1:123456789012:repository/" + im.repo}) {
			t.Errorf("event for %s:%s: %s %+v", im.repo, im.tag, d.ev.Detail, d.ev)
		}
	}
	for _, im := range images {
		_, toA := eventOf[key{"a", im.digest}]
		_, toB := eventOf[key{"b", im.digest}]
		wantB := strings.HasPrefix(im.repo, "prod/") && im.repo != "prod/tiny"
		if !toA || toB != wantB {
			t.Errorf("%s: delivered to a %v (want true), to b %v (want %v)", im.repo, toA, toB, wantB)
		}
	}
	total := len(want["a"]) + len(want["b"])
	t.Logf("%d events for %d sink rows; 503s before the first kill: a=%d b=%d; accepted before the second kill: %d; "+
		"raw accepted deliveries: %d, duplicates after dedupe by id: %d; from the first kill to all delivered: %v; total %v",
		len(want["a"]), total, rejected["a"], rejected["b"], phase2, len(raw), len(raw)-total,
		time.Since(killedAt).Round(10*time.Millisecond), time.Since(start).Round(10*time.Millisecond))
}
