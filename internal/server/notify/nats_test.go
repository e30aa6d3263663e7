package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

const natsAddr = "127.0.0.1:4222"

// TestNATSSinkThroughServe: an enhanced scan on push in a running server
// publishes one "Inspector2 Scan" event to a JetStream stream the sink
// creates; a forced redelivery from the outbox is dropped by JetStream's
// Nats-Msg-Id deduplication.
func TestNATSSinkThroughServe(t *testing.T) {
	c, err := net.DialTimeout("tcp", natsAddr, time.Second)
	if err != nil {
		t.Skipf("NATS not reachable at %s (start nats-server -js to run this test): %v", natsAddr, err)
	}
	c.Close()
	nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(2*time.Second))
	if err != nil {
		t.Skipf("NATS not reachable at %s: %v", natsAddr, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Skipf("JetStream not enabled on %s: %v", natsAddr, err)
	}
	suffix := strings.ToUpper(uuid.NewString()[:8])
	streamName := "STOWAWAY_TEST_" + suffix
	prefix := "stowaway-test-" + strings.ToLower(suffix) + ".events"
	t.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), streamName); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", streamName, err)
		}
	})

	cfg, err := notify.Parse(strings.NewReader(fmt.Sprintf(`
sinks:
  - id: bus
    type: nats
    url: nats://%s
    subjectPrefix: %s
    stream: %s
delivery: {poll: 100ms, lease: 30s}
`, natsAddr, prefix, streamName)))
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	cl := startInProcess(t, serverConfig(dataDir, "", cfg, nil))
	cl.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "ENHANCED",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "prod*", "filterType": "WILDCARD"}}}},
	}, nil)
	digest := cl.push(t, "prod/api", "v1", 3)
	if st := cl.waitScan(t, "prod/api", digest); st != "COMPLETE" {
		t.Fatalf("scan: %s", st)
	}

	var stream jetstream.Stream
	waitFor(t, 20*time.Second, "the stream to hold the event", func() bool {
		stream, err = js.Stream(ctx, streamName)
		if err != nil {
			return false
		}
		info, err := stream.Info(ctx)
		return err == nil && info.State.Msgs == 1
	})
	msg, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.Event
	if err := json.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != ev.ID || ev.ID == "" {
		t.Errorf("Nats-Msg-Id %q, event id %q", got, ev.ID)
	}
	if msg.Subject != prefix+".inspector2-scan" {
		t.Errorf("subject %q", msg.Subject)
	}
	var detail map[string]any
	if err := json.Unmarshal(ev.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:ecr:us-east-1:123456789012:repository/prod/api"
	wantDetail := map[string]any{
		"scan-status":             "INITIAL_SCAN_COMPLETE",
		"repository-name":         arn,
		"image-digest":            digest,
		"image-tags":              []any{"v1"},
		"finding-severity-counts": map[string]any{"HIGH": 2.0, "CRITICAL": 1.0, "TOTAL": 3.0},
	}
	if diff := cmp.Diff(wantDetail, detail); diff != "" {
		t.Errorf("detail (-want +got):\n%s", diff)
	}
	if ev.DetailType != "Inspector2 Scan" || ev.Source != "aws.inspector2" || !cmp.Equal(ev.Resources, []string{arn + "/" + digest}) {
		t.Errorf("envelope: %+v", ev)
	}

	// Force a redelivery of the delivered row, as a dispatcher that died
	// between publishing and marking would.
	st, err := store.Open(ctx, dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outbox := events.NewOutbox(st.DB(), events.SQLite)
	// The message reaches the stream before the dispatcher marks the row
	// delivered: wait for the mark, or it would land after the reset below.
	waitFor(t, 20*time.Second, "the first delivery to be recorded", func() bool {
		rows, err := outbox.List(ctx)
		return err == nil && len(rows) == 1 && rows[0].Delivered && rows[0].Attempts == 1
	})
	if _, err := st.DB().ExecContext(ctx, `UPDATE outbox SET delivered_at = NULL, next_attempt_at = 0`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the redelivery", func() bool {
		rows, err := outbox.List(ctx)
		return err == nil && len(rows) == 1 && rows[0].Delivered && rows[0].Attempts == 2
	})
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages after a redelivery, want 1 (deduplicated by Nats-Msg-Id)", info.State.Msgs)
	}
	if m := cl.metrics(t); !strings.Contains(m, `stowaway_events_delivered_total{sink="bus"} 2`) {
		t.Errorf("/metrics: want 2 deliveries to bus:\n%s", tail(m, 1500))
	}
}
