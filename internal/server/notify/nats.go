package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/stowaway-scanner/stowaway/internal/events"
)

// jetStreamSink is an events.NATSSink that first makes sure its stream
// exists (creating it to capture "<prefix>.>" when missing). Until that
// succeeds (NATS down, JetStream disabled) every write fails retryably, so
// the outbox keeps the events.
type jetStreamSink struct {
	js     jetstream.JetStream
	stream string
	prefix string
	sink   *events.NATSSink

	mu    sync.Mutex
	ready bool
}

func newJetStreamSink(nc *nats.Conn, stream, prefix string) (*jetStreamSink, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	return &jetStreamSink{js: js, stream: stream, prefix: prefix, sink: &events.NATSSink{JS: js, Prefix: prefix}}, nil
}

func (s *jetStreamSink) Write(ctx context.Context, ev events.Event) error {
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	return s.sink.Write(ctx, ev)
}

func (s *jetStreamSink) ensureStream(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := s.js.Stream(ctx, s.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        s.stream,
			Description: "Stowaway scan events",
			Subjects:    []string{s.prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Duplicates:  2 * time.Minute,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another replica created it
		}
	}
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", s.stream, err)
	}
	s.ready = true
	return nil
}
