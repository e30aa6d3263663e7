package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Publisher is the part of jetstream.JetStream that NATSSink uses.
type Publisher interface {
	Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// NATSSink publishes each event to JetStream on "<Prefix>.<detail-type slug>"
// (Prefix defaults to "stowaway.events") with Nats-Msg-Id set to the event
// id, so JetStream drops redeliveries within the stream's duplicate window.
// A stream must already capture the subjects.
type NATSSink struct {
	JS     Publisher
	Prefix string
}

// Subject returns the subject ev is published on.
func (s *NATSSink) Subject(ev Event) string {
	p := s.Prefix
	if p == "" {
		p = "stowaway.events"
	}
	return p + "." + Slug(ev.DetailType)
}

// Write publishes ev and waits for the stream's acknowledgement.
func (s *NATSSink) Write(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return Permanent(fmt.Errorf("nats: encode event %s: %w", ev.ID, err))
	}
	if _, err := s.JS.Publish(ctx, s.Subject(ev), body, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("nats: publish event %s: %w", ev.ID, err)
	}
	return nil
}
