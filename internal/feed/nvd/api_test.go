package nvd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

// fakeAPI serves CVE API 2.0 pages of recs (by lastModified within the
// asked window), at most pageSize per page whatever resultsPerPage asks,
// as NVD may. It records each request.
type fakeAPI struct {
	t        *testing.T
	clock    *fakeClock
	mu       sync.Mutex
	recs     []apiRec
	pageSize int
	// fail answers the first len(fail) requests with these statuses.
	fail []int
	// total, when set, replaces totalResults (a lying server); endless
	// then makes up records for every page.
	total   int
	endless bool
	reqs    []apiReq
}

type apiRec struct{ id, desc, modified string }

type apiReq struct {
	start, end, key string
	index, perPage  int
	at              time.Time
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	idx, _ := strconv.Atoi(q.Get("startIndex"))
	per, _ := strconv.Atoi(q.Get("resultsPerPage"))
	f.reqs = append(f.reqs, apiReq{q.Get("lastModStartDate"), q.Get("lastModEndDate"), r.Header.Get("apiKey"), idx, per, f.clock.now()})
	if len(f.fail) > 0 {
		code := f.fail[0]
		f.fail = f.fail[1:]
		w.Header().Set("message", "Request exceeded the rate limit")
		w.WriteHeader(code)
		return
	}
	const layout = "2006-01-02T15:04:05.000-07:00"
	from, err1 := time.Parse(layout, q.Get("lastModStartDate"))
	to, err2 := time.Parse(layout, q.Get("lastModEndDate"))
	if err1 != nil || err2 != nil || to.Sub(from) > 120*24*time.Hour {
		f.t.Errorf("bad window %q..%q: %v %v", q.Get("lastModStartDate"), q.Get("lastModEndDate"), err1, err2)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var in []apiRec
	for _, r := range f.recs {
		m, _ := time.Parse("2006-01-02T15:04:05.000", r.modified)
		if !m.Before(from) && !m.After(to) {
			in = append(in, r)
		}
	}
	size := min(per, f.pageSize)
	for f.endless && len(in) < idx+size {
		in = append(in, apiRec{fmt.Sprintf("CVE-2025-%07d", len(in)), "made up", "2025-02-09T10:00:00.000"})
	}
	var vulns []map[string]any
	for i := idx; i < len(in) && i < idx+size; i++ {
		vulns = append(vulns, map[string]any{"cve": map[string]any{
			"id": in[i].id, "sourceIdentifier": "nvd@nist.gov", "published": "2023-01-01T00:00:00.000", "lastModified": in[i].modified,
			"vulnStatus": "Modified", "descriptions": []map[string]string{{"lang": "en", "value": in[i].desc}},
			"metrics": map[string]any{"cvssMetricV40": []map[string]any{{"source": "cna@example.org", "type": "Secondary",
				"cvssData": map[string]any{"version": "4.0", "vectorString": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "baseScore": 9.3}}}},
			"references": []map[string]string{{"url": "https://example.org/" + in[i].id}},
		}})
	}
	total := len(in)
	if f.total != 0 {
		total = f.total
	}
	json.NewEncoder(w).Encode(map[string]any{"resultsPerPage": size, "startIndex": idx, "totalResults": total,
		"format": "NVD_CVE", "version": "2.0", "timestamp": "2025-02-10T00:00:00.000", "vulnerabilities": vulns})
}

type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

// apiSetup returns the updater against a fake API and a source with the
// 2.0 fixtures, whose modified .meta says lastModifiedDate
// 2025-02-08T03:04:38-05:00 (08:04:38 UTC).
func apiSetup(t *testing.T, key string, recs ...apiRec) (*Updater, *fakeAPI, *feedtest.Source, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC)}
	api := &fakeAPI{t: t, clock: clock, recs: recs, pageSize: 2}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	u := NewAPI(APIOptions{URL: srv.URL, Key: key, Client: srv.Client(), now: clock.now, sleep: clock.sleep})
	u.now = func() time.Time { return time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) }
	files := map[string]string{}
	for k, v := range fixtureFS(t, "2.0") {
		files[k] = string(v.Data)
	}
	return u, api, &feedtest.Source{Files: files}, clock
}

func TestFetchAPI(t *testing.T) {
	ctx := context.Background()
	u, api, src, _ := apiSetup(t, "secret",
		// Newer than the modified feed's copy (2025-02-01T08:30): wins.
		apiRec{"CVE-2023-0004", "Changed after the feeds.", "2025-02-09T10:00:00.000"},
		// A CVE the feeds do not have yet.
		apiRec{"CVE-2025-1111", "Published after the feeds.", "2025-02-09T11:00:00.000"},
		// Inside the window (the hour of margin before the feed date).
		apiRec{"CVE-2025-1112", "Changed while the feeds were generated.", "2025-02-08T07:30:00.000"},
		// Before the window: never asked for.
		apiRec{"CVE-2025-1113", "Old change.", "2025-02-01T00:00:00.000"},
	)
	snap, err := u.Fetch(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	// Two pages of two and one record: the server's page size, not ours.
	var got []string
	for _, r := range api.reqs {
		got = append(got, fmt.Sprintf("%s..%s @%d/%d key=%s", r.start, r.end, r.index, r.perPage, r.key))
	}
	want := []string{
		"2025-02-08T07:04:38.000+00:00..2025-02-10T00:00:00.000+00:00 @0/2000 key=secret",
		"2025-02-08T07:04:38.000+00:00..2025-02-10T00:00:00.000+00:00 @2/2000 key=secret",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("API requests (-want +got):\n%s", diff)
	}
	byID := map[string]*advisory.Advisory{}
	st, err := u.Parse(ctx, snap.FS, func(a *advisory.Advisory) error { byID[a.ID] = a; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{Part20: 5, PartAPI: 3}, st.Parts); diff != "" {
		t.Errorf("parts (-want +got):\n%s", diff)
	}
	for id, desc := range map[string]string{
		"CVE-2023-0004": "Changed after the feeds.", "CVE-2025-1111": "Published after the feeds.",
		"CVE-2025-1112": "Changed while the feeds were generated.", "CVE-2023-0001": "Scored in every CVSS version.",
	} {
		if a := byID[id]; a == nil || a.Description != desc {
			t.Errorf("%s: %+v, want description %q", id, a, desc)
		}
	}
	if a := byID["CVE-2025-1111"]; a != nil && (len(a.CVSS) != 1 || a.CVSS[0].Version != "4.0" || a.CVSS[0].Source != "cna@example.org") {
		t.Errorf("CVE-2025-1111 CVSS %+v", a.CVSS)
	}
	if byID["CVE-2025-1113"] != nil {
		t.Error("a change older than the window was fetched")
	}

	// Nothing new: Unchanged, no feed downloaded.
	src.Gets, api.reqs = nil, nil
	again, err := u.Fetch(ctx, src, snap.State)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.FS != nil {
		t.Errorf("second fetch: Unchanged=%v", again.Unchanged)
	}
	for _, g := range src.Gets {
		if strings.HasSuffix(g, ".json.gz") {
			t.Errorf("unchanged fetch downloaded %s", g)
		}
	}
	if len(api.reqs) != 2 {
		t.Errorf("%d API requests, want 2", len(api.reqs))
	}
	// A new change in the API alone (the feeds unchanged): a full snapshot.
	api.recs = append(api.recs, apiRec{"CVE-2025-1114", "Newest.", "2025-02-09T23:00:00.000"})
	third, err := u.Fetch(ctx, src, again.State)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if third.Unchanged {
		t.Fatal("a new API change gave Unchanged")
	}
	st, err = u.Parse(ctx, third.FS, func(*advisory.Advisory) error { return nil })
	if err != nil || st.Parts[PartAPI] != 4 || st.Parts[Part20] != 5 {
		t.Errorf("third parse: %+v, %v", st.Parts, err)
	}
}

func TestFetchAPIRateLimit(t *testing.T) {
	for _, tt := range []struct {
		key  string
		rate int
	}{{"", RateWithoutKey}, {"k", RateWithKey}} {
		var recs []apiRec
		for i := range 2 * (tt.rate + 2) {
			recs = append(recs, apiRec{fmt.Sprintf("CVE-2025-%04d", 2000+i), "x", "2025-02-09T10:00:00.000"})
		}
		u, api, src, clock := apiSetup(t, tt.key, recs...)
		snap, err := u.Fetch(context.Background(), src, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap.Close()
		if len(api.reqs) != tt.rate+2 {
			t.Fatalf("key %q: %d requests, want %d", tt.key, len(api.reqs), tt.rate+2)
		}
		// Never more than rate requests in any 30 s.
		for i := tt.rate; i < len(api.reqs); i++ {
			if d := api.reqs[i].at.Sub(api.reqs[i-tt.rate].at); d < 30*time.Second {
				t.Errorf("key %q: requests %d and %d only %s apart", tt.key, i-tt.rate, i, d)
			}
		}
		if len(clock.slept) == 0 {
			t.Errorf("key %q: never waited", tt.key)
		}
	}
}

func TestFetchAPIWindows(t *testing.T) {
	u, api, src, clock := apiSetup(t, "k")
	clock.t = time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC) // 205 days after the feeds
	snap, err := u.Fetch(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap.Close()
	var got [][2]string
	for _, r := range api.reqs {
		got = append(got, [2]string{r.start, r.end})
	}
	want := [][2]string{
		{"2025-02-08T07:04:38.000+00:00", "2025-06-08T07:04:38.000+00:00"},
		{"2025-06-08T07:04:38.000+00:00", "2025-09-01T00:00:00.000+00:00"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("windows (-want +got):\n%s", diff)
	}
	// Feeds older than 480 days: refused, not paged through.
	clock.t = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	if _, err := u.Fetch(context.Background(), src, nil); err == nil || !strings.Contains(err.Error(), "more than 480 days ago") {
		t.Errorf("stale feeds: %v", err)
	}
}

func TestFetchAPIErrors(t *testing.T) {
	rec := apiRec{"CVE-2025-1111", "x", "2025-02-09T10:00:00.000"}
	t.Run("retries 403 and 503", func(t *testing.T) {
		u, api, src, _ := apiSetup(t, "", rec)
		api.fail = []int{http.StatusForbidden, http.StatusServiceUnavailable}
		snap, err := u.Fetch(context.Background(), src, nil)
		if err != nil {
			t.Fatal(err)
		}
		snap.Close()
		if len(api.reqs) != 3 {
			t.Errorf("%d requests, want 3", len(api.reqs))
		}
	})
	t.Run("gives up after the retries, with NVD's message", func(t *testing.T) {
		u, api, src, _ := apiSetup(t, "", rec)
		api.fail = []int{503, 503, 503, 503, 503}
		_, err := u.Fetch(context.Background(), src, nil)
		if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: Request exceeded the rate limit") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("404 is not retried", func(t *testing.T) {
		u, api, src, _ := apiSetup(t, "", rec)
		api.fail = []int{http.StatusNotFound}
		if _, err := u.Fetch(context.Background(), src, nil); err == nil || len(api.reqs) != 1 {
			t.Errorf("error %v after %d requests", err, len(api.reqs))
		}
	})
	t.Run("a server claiming endless results", func(t *testing.T) {
		u, api, src, _ := apiSetup(t, "k", rec, apiRec{"CVE-2025-1112", "y", "2025-02-09T10:00:00.000"})
		api.total, api.endless = 10_000_000, true
		_, err := u.Fetch(context.Background(), src, nil)
		if err == nil || !strings.Contains(err.Error(), "more than 100 pages") || len(api.reqs) > 101 {
			t.Errorf("error %v after %d requests", err, len(api.reqs))
		}
	})
	t.Run("an empty page short of totalResults", func(t *testing.T) {
		u, api, src, _ := apiSetup(t, "k")
		api.total = 5
		if _, err := u.Fetch(context.Background(), src, nil); err == nil || !strings.Contains(err.Error(), "totalResults 5") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
		defer srv.Close()
		_, _, src, clock := apiSetup(t, "k")
		u := NewAPI(APIOptions{URL: srv.URL, Client: srv.Client(), now: clock.now, sleep: clock.sleep})
		if _, err := u.Fetch(context.Background(), src, nil); err == nil || !strings.Contains(err.Error(), "nvd: api: page") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no modified .meta to start from", func(t *testing.T) {
		u, _, src, _ := apiSetup(t, "k", rec)
		delete(src.Files, "2.0/nvdcve-2.0-modified.meta")
		if _, err := u.Fetch(context.Background(), src, nil); err == nil || !strings.Contains(err.Error(), "the start of the API window") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("ctx cancelled while waiting for the rate limit", func(t *testing.T) {
		var recs []apiRec
		for i := range 20 {
			recs = append(recs, apiRec{fmt.Sprintf("CVE-2025-%04d", 3000+i), "x", "2025-02-09T10:00:00.000"})
		}
		u, api, src, clock := apiSetup(t, "", recs...)
		ctx, cancel := context.WithCancel(context.Background())
		u.api.sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return clock.sleep(ctx, d)
		}
		_, err := u.Fetch(ctx, src, nil)
		if !errors.Is(err, context.Canceled) || len(api.reqs) != RateWithoutKey {
			t.Errorf("error %v after %d requests", err, len(api.reqs))
		}
	})
}

func TestOverlayFS(t *testing.T) {
	u, _, src, _ := apiSetup(t, "k", apiRec{"CVE-2025-1111", "x", "2025-02-09T10:00:00.000"})
	snap, err := u.Fetch(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	for _, name := range []string{"2.0/nvdcve-2.0-2023.json.gz", "api/nvdcve-2.0-api-0-000000.json"} {
		if _, err := snap.FS.Open(name); err != nil {
			t.Errorf("open %s: %v", name, err)
		}
	}
	for _, name := range []string{"../x", "/api", "api/../../etc"} {
		if _, err := snap.FS.Open(name); err == nil {
			t.Errorf("open %s: no error", name)
		}
	}
	var _ feed.Snapshot = snap
}
