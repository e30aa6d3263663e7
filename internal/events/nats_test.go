package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const natsURL = "nats://127.0.0.1:4222"

func TestNATSSinkJetStream(t *testing.T) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		t.Skipf("NATS not reachable at 127.0.0.1:4222 (start nats-server -js to run this test): %v", err)
	}
	c.Close()
	nc, err := nats.Connect(natsURL, nats.Timeout(2*time.Second))
	if err != nil {
		t.Skipf("NATS not reachable at %s: %v", natsURL, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	suffix := uuid.NewString()[:8]
	prefix := "stowaway-test-" + suffix + ".events"
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       "STOWAWAY_TEST_" + suffix,
		Subjects:   []string{prefix + ".>"},
		Storage:    jetstream.MemoryStorage,
		Duplicates: time.Minute,
	})
	if err != nil {
		t.Skipf("JetStream not available on %s: %v", natsURL, err)
	}
	t.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), stream.CachedInfo().Config.Name); err != nil {
			t.Errorf("delete test stream: %v", err)
		}
	})

	sink := &NATSSink{JS: js, Prefix: prefix}
	scan := testEvent(t)
	change, err := NewFindings(Meta{ID: uuid.NewString()}, testImage, []Finding{{Name: "CVE-1", Severity: "HIGH"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The scan event is published twice (a redelivery): JetStream keeps one.
	for _, ev := range []Event{scan, change, scan} {
		if err := sink.Write(ctx, ev); err != nil {
			t.Fatalf("publish %s: %v", ev.ID, err)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d messages, want 2 (duplicate dropped by Nats-Msg-Id)", info.State.Msgs)
	}
	type got struct {
		Subject, MsgID string
		Event          Event
	}
	var msgs []got
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get msg %d: %v", seq, err)
		}
		var ev Event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatalf("msg %d: %v", seq, err)
		}
		msgs = append(msgs, got{m.Subject, m.Header.Get(jetstream.MsgIDHeader), ev})
	}
	norm := func(ev Event) Event { ev.Detail = compact(t, ev.Detail); return ev }
	want := []got{
		{prefix + ".ecr-image-scan", scan.ID, norm(scan)},
		{prefix + ".ecr-image-scan-findings-change", change.ID, norm(change)},
	}
	for i := range msgs {
		msgs[i].Event = norm(msgs[i].Event)
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("stream contents (-want +got):\n%s", diff)
	}

	// With no stream capturing the subject the publish fails, retryably.
	err = (&NATSSink{JS: js, Prefix: "stowaway-nostream-" + suffix}).Write(ctx, scan)
	if err == nil || IsPermanent(err) {
		t.Errorf("publish without stream: err = %v, want a retryable error", err)
	}
}

func compact(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(fmt.Errorf("compact: %w", err))
	}
	b, _ := json.Marshal(v)
	return b
}
