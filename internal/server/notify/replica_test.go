package notify_test

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// TestReplicasDeliverOnce: two servers sharing one PostgreSQL database
// both run a dispatcher over the same outbox; every event reaches the sink,
// and with no failure none is delivered twice (rows are claimed with SKIP
// LOCKED and leased).
func TestReplicasDeliverOnce(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	rcv := &receiver{secrets: map[string][]byte{"a": []byte("secret-a")}, rejected: map[string]int{}, accept: true, delay: 20 * time.Millisecond}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	path := filepath.Join(t.TempDir(), "events.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, `
sinks: [{id: a, type: webhook, url: '%s/a', secretEnv: HOOK_A_SECRET, timeout: 2s}]
delivery: {poll: 50ms, lease: 10s, batch: 2}
`, hook.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK_A_SECRET", "secret-a")
	cfg, err := notify.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir() // one blob directory, as replicas must share
	c1 := startInProcess(t, serverConfig(dataDir, dbURL, cfg, nil))
	c2 := startInProcess(t, serverConfig(dataDir, dbURL, cfg, nil))
	c1.scanOnPushEverything(t)
	const n = 8
	for i := range n {
		c := []client{c1, c2}[i%2]
		repo := fmt.Sprintf("prod/app%d", i)
		d := c.push(t, repo, "v1", 1)
		if s := c.waitScan(t, repo, d); s != "COMPLETE" {
			t.Fatalf("scan %s: %s", repo, s)
		}
	}
	waitFor(t, 30*time.Second, "every event delivered", func() bool {
		raw, _, _ := rcv.snapshot()
		return len(distinct(raw)["a"]) == n
	})
	time.Sleep(500 * time.Millisecond) // let a would-be double delivery land
	raw, _, badSig := rcv.snapshot()
	rows := outboxState(t, dataDir, dbURL)
	want := idsBySink(rows, func(events.Status) bool { return true })
	if diff := cmp.Diff(want, distinct(raw)); diff != "" {
		t.Errorf("delivered ids (-outbox +got):\n%s", diff)
	}
	if len(raw) != n || badSig != 0 {
		t.Errorf("%d raw deliveries for %d events (%d bad signatures)", len(raw), n, badSig)
	}
	t.Logf("%d events, %d raw deliveries; per replica: %q and %q", n, len(raw),
		counterLine(c1.metrics(t), `stowaway_events_delivered_total{sink="a"}`),
		counterLine(c2.metrics(t), `stowaway_events_delivered_total{sink="a"}`))
}

// counterLine returns the line of text that starts with prefix.
func counterLine(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
