package events

import (
	"context"
	"errors"
)

// Sink delivers one event. Implementations and wrappers in this package are
// safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, ev Event) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, ev Event) error

// Write calls f.
func (f SinkFunc) Write(ctx context.Context, ev Event) error { return f(ctx, ev) }

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

var (
	_ Sink = (*HTTPSink)(nil)
	_ Sink = (*NATSSink)(nil)
	_ Sink = (*Retry)(nil)
	_ Sink = (*Filter)(nil)
	_ Sink = SinkFunc(nil)
)
