package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/severity"
	_ "modernc.org/sqlite"
)

// A webhook sink stack (filter, then retry with a breaker, then the signed
// HTTP POST) behind the durable outbox.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	outbox := events.NewOutbox(db, events.SQLite)
	if err := outbox.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}
	hook := &events.Filter{
		Repositories: []string{"prod*"},
		MinSeverity:  "HIGH",
		Sink: &events.Retry{
			Sink:    &events.HTTPSink{URL: "http://127.0.0.1:1/hook", Secret: []byte("shared secret"), Timeout: time.Second},
			Breaker: &events.Breaker{Threshold: 5, Cooldown: 30 * time.Second},
		},
	}
	ev, err := events.ScanCompleted(events.Meta{}, events.Image{
		Account: "123456789012", Region: "us-east-1", Repository: "dev/api", Digest: "sha256:abc",
	}, "COMPLETE", map[severity.Severity]int{"CRITICAL": 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Enqueue in the transaction that records the scan (here: none).
	if err := outbox.Enqueue(ctx, db, ev, "hook"); err != nil {
		fmt.Println(err)
		return
	}
	d := &events.Dispatcher{Outbox: outbox, Sinks: map[string]events.Sink{"hook": hook}}
	n, err := d.DispatchOnce(ctx)
	fmt.Println(n, err)
	rows, _ := outbox.List(ctx)
	// dev/api does not match prod*: the filter drops it, so it counts as delivered.
	fmt.Println(rows[0].Delivered)
	// Output:
	// 1 <nil>
	// true
}
