package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

func TestProgressPrinter(t *testing.T) {
	clock := time.Unix(0, 0)
	rep := &vulndb.SourceReport{Name: "uct", Outcome: vulndb.Updated, Advisories: 2, Affected: 5, Malformed: []feed.Malformed{{ID: "X"}}}
	events := []struct {
		at time.Duration
		p  vulndb.Progress
	}{
		{0, vulndb.Progress{Source: "uct", Total: 2}},
		{time.Second, vulndb.Progress{Source: "uct", Total: 2, Records: 1, Bytes: 1 << 20, Elapsed: time.Second}},
		{11 * time.Second, vulndb.Progress{Source: "uct", Total: 2, Records: 2, Bytes: 3 << 20, Elapsed: 11 * time.Second}},
		{12 * time.Second, vulndb.Progress{Source: "uct", Total: 2, Records: 3, Bytes: 4 << 20, Elapsed: 12 * time.Second, Done: true, Report: rep}},
		{12 * time.Second, vulndb.Progress{Source: "nvd", Index: 1, Total: 2, Bytes: 5}},
		{13 * time.Second, vulndb.Progress{Source: "nvd", Index: 1, Total: 2, Done: true, Elapsed: time.Second,
			Report: &vulndb.SourceReport{Name: "nvd", Outcome: vulndb.Unchanged}}},
	}
	for _, c := range []struct {
		live bool
		want string
	}{
		{false, "[1/2] uct: started\n" +
			"[1/2] uct: 2 records, 3.0 MiB read, 11s\n" +
			"[1/2] uct: updated, 3 records (2 advisories, 5 affected), 1 malformed skipped, 4.0 MiB read in 12s\n" +
			"[2/2] nvd: started\n" +
			"[2/2] nvd: unchanged: previous records copied in 1s\n"},
		{true, "\r\x1b[K[1/2] uct: 0 records, 0.0 MiB read, 0s" +
			"\r\x1b[K[1/2] uct: 1 records, 1.0 MiB read, 1s" +
			"\r\x1b[K[1/2] uct: 2 records, 3.0 MiB read, 11s" +
			"\r\x1b[K[1/2] uct: updated, 3 records (2 advisories, 5 affected), 1 malformed skipped, 4.0 MiB read in 12s\n" +
			"\r\x1b[K[2/2] nvd: 0 records, 0.0 MiB read, 0s" +
			"\r\x1b[K[2/2] nvd: unchanged: previous records copied in 1s\n"},
	} {
		var buf bytes.Buffer
		var at time.Duration
		p := &progressPrinter{w: &buf, live: c.live, now: func() time.Time { return clock.Add(at) }}
		for _, e := range events {
			at = e.at
			p.report(e.p)
		}
		p.end()
		if diff := cmp.Diff(c.want, buf.String()); diff != "" {
			t.Errorf("live=%v (-want +got):\n%s", c.live, diff)
		}
	}
}

func TestWriteMalformed(t *testing.T) {
	st := &vulndb.StatusReport{Sources: []vulndb.SourceStatus{
		{Name: "alpine", Malformed: 2, MalformedSample: []feed.Malformed{
			{File: "v3.19/main.json", ID: "linux-lts 6.6.13-r1", Err: `unrecognized id "CVE-46838"`},
			{Err: "advisory without an id"},
		}},
		{Name: "nvd"},
		{Name: "oval", Malformed: 1500, MalformedSample: []feed.Malformed{{ID: "oval:1", Err: "bad evr"}}},
	}}
	var buf bytes.Buffer
	writeMalformed(&buf, st)
	want := "\nalpine: 2 malformed records (skipped; the rest of the source is loaded):\n" +
		"  linux-lts 6.6.13-r1 in v3.19/main.json: unrecognized id \"CVE-46838\"\n" +
		"  (no id): advisory without an id\n" +
		"\noval: 1500 malformed records (skipped; the rest of the source is loaded), the first 1:\n" +
		"  oval:1: bad evr\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
