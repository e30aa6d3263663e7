package ecrapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/bench/synth"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

// envWith is newEnv over the given store.
func envWith(t *testing.T, st *store.SQL) *env {
	t.Helper()
	c := &clock{t: t0}
	a, err := auth.New(nil, []auth.AccessKey{
		{ID: adminKey, Secret: secret, Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
	}, []byte("k"), c.now)
	if err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{}
	return &env{api: New(Options{Store: st, Registry: reg, Auth: a, RegistryID: "123456789012", Region: "us-east-1", Now: c.now}), store: st, reg: reg, clock: c}
}

// pagesResult has basic and enhanced findings of varied shapes.
func pagesResult(tag string, n, m int) scanning.Result {
	res := synth.Result(n, t0)
	for i := range res.Findings {
		res.Findings[i].Name += "-" + tag
		if i%7 == 0 {
			res.Findings[i].Description, res.Findings[i].URI = "", "" // omitempty members
		}
	}
	for i := range m {
		res.EnhancedFindings = append(res.EnhancedFindings, json.RawMessage(fmt.Sprintf(`{"title":"E-%s-%d","score":%d.5,"resources":[{"id":"x"}]}`, tag, i, i%10)))
	}
	res.SeverityCounts["UNDEFINED"] = m
	return res
}

// pagedRead pages through DescribeImageScanFindings with page size limit
// and returns the findings, the enhanced findings (compacted) and every
// page's members other than the finding lists.
func pagedRead(t *testing.T, e *env, d string, limit int) ([]scanning.Finding, []string, []map[string]any) {
	t.Helper()
	var fs []scanning.Finding
	var es []string
	var others []map[string]any
	for token, pages := "", 0; ; pages++ {
		in := map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageDigest": d}, "maxResults": limit}
		if token != "" {
			in["nextToken"] = token
		}
		out := e.must(t, "DescribeImageScanFindings", in)
		raw, _ := json.Marshal(out["imageScanFindings"])
		var page struct {
			Findings         []scanning.Finding `json:"findings"`
			EnhancedFindings []json.RawMessage  `json:"enhancedFindings"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		if n := len(page.Findings) + len(page.EnhancedFindings); n > limit || (n < limit && out["nextToken"] != nil) {
			t.Fatalf("page %d of size %d holds %d items (nextToken %v)", pages, limit, n, out["nextToken"])
		}
		fs = append(fs, page.Findings...)
		for _, x := range page.EnhancedFindings {
			es = append(es, string(x))
		}
		rest := out["imageScanFindings"].(map[string]any)
		delete(rest, "findings")
		delete(rest, "enhancedFindings")
		rest["imageScanStatus"] = out["imageScanStatus"]
		others = append(others, rest)
		token, _ = out["nextToken"].(string)
		if token == "" {
			return fs, es, others
		}
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
	}
}

// compactAll normalizes JSON values (members sorted), as pagedRead's
// decoding of the response does.
func compactAll(t *testing.T, xs []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, x := range xs {
		var v any
		if err := json.Unmarshal(x, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	return out
}

// TestDescribeImageScanFindingsPagesEqualWhole: on both stores, paging with
// several page sizes returns exactly the scan's findings then its enhanced
// findings, in order, with the same summary on every page; a new scan of
// the same digest replaces every page.
func TestDescribeImageScanFindingsPagesEqualWhole(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(t *testing.T) *store.SQL
	}{
		{"sqlite", func(t *testing.T) *store.SQL {
			st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(t *testing.T) *store.SQL { return storetest.Postgres(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := envWith(t, tt.open(t))
			d := digest('a')
			e.image(t, "team/app", d, ociConfig, "v1")
			check := func(stage string, res scanning.Result) {
				t.Helper()
				// Enhanced findings are served routed to the image
				// (routeEnhanced), each as stored otherwise.
				img, err := e.store.GetImage(context.Background(), "team/app", d)
				if err != nil {
					t.Fatal(err)
				}
				routed, err := e.api.routeEnhanced("team/app", img, res.EnhancedFindings)
				if err != nil {
					t.Fatal(err)
				}
				if len(routed) > 0 && !strings.Contains(string(routed[0]), `"findingArn":"arn:aws:inspector2:`) {
					t.Fatalf("routed finding %s has no finding ARN", routed[0])
				}
				wantE := compactAll(t, routed)
				var first map[string]any
				for _, limit := range []int{1, 7, 100, 101, 1000} {
					fs, es, others := pagedRead(t, e, d, limit)
					if diff := cmp.Diff(res.Findings, fs); diff != "" {
						t.Errorf("%s, by %d: findings (-want +got):\n%s", stage, limit, diff)
					}
					if diff := cmp.Diff(wantE, es); diff != "" {
						t.Errorf("%s, by %d: enhanced findings (-want +got):\n%s", stage, limit, diff)
					}
					for i, o := range others {
						if first == nil {
							first = o
						}
						if diff := cmp.Diff(first, o); diff != "" {
							t.Errorf("%s, by %d, page %d: summary differs from the first page's (-first +this):\n%s", stage, limit, i, diff)
						}
					}
				}
				counts := map[string]any{}
				for k, v := range res.SeverityCounts {
					counts[string(k)] = float64(v)
				}
				if diff := cmp.Diff(counts, first["findingSeverityCounts"]); diff != "" {
					t.Errorf("%s: findingSeverityCounts (-want +got):\n%s", stage, diff)
				}
			}
			first := pagesResult("first", 250, 30)
			completeScan(t, e.store, "team/app", d, first)
			check("first scan", first)

			// A new scan of the same digest with fewer findings.
			second := pagesResult("second", 120, 3)
			second.CompletedAt = t0.Add(time.Hour)
			completeScan(t, e.store, "team/app", d, second)
			check("second scan", second)
			// The first scan's offsets past the second's end are invalid,
			// not served from the first.
			e.wantErr(t, adminKey, "DescribeImageScanFindings", map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageDigest": d}, "nextToken": pageToken(200)}, "InvalidParameterException")
		})
	}
}

// wholeDecodeResponse is the DescribeImageScanFindings response as the API
// built it before findings were stored split: the whole stored result
// decoded, then sliced [start, start+limit), its enhanced findings routed
// to the image (routeEnhanced). It is the oracle of
// TestDescribeImageScanFindingsBytesUnchanged.
func wholeDecodeResponse(t *testing.T, e *env, d string, start, limit int) []byte {
	t.Helper()
	st := e.store
	sc, err := st.GetScan(context.Background(), "team/app", d)
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeScan(sc)
	if err != nil {
		t.Fatal(err)
	}
	sum := v.summary()
	nf := len(v.result.Findings)
	total := nf + len(v.result.EnhancedFindings)
	end := min(start+limit, total)
	findings := []scanning.Finding{}
	var enhanced []json.RawMessage
	for i := start; i < end; i++ {
		if i < nf {
			findings = append(findings, v.result.Findings[i])
		} else {
			enhanced = append(enhanced, v.result.EnhancedFindings[i-nf])
		}
	}
	out := map[string]any{"findingSeverityCounts": sum.FindingSeverityCounts, "findings": findings,
		"imageScanCompletedAt": sum.ImageScanCompletedAt, "vulnerabilitySourceUpdatedAt": sum.VulnerabilitySourceUpdatedAt}
	if len(enhanced) > 0 {
		img, err := st.GetImage(context.Background(), "team/app", d)
		if err != nil {
			t.Fatal(err)
		}
		if enhanced, err = e.api.routeEnhanced("team/app", img, enhanced); err != nil {
			t.Fatal(err)
		}
		out["enhancedFindings"] = enhanced
	}
	resp := map[string]any{"registryId": "123456789012", "repositoryName": "team/app", "imageId": imageID{ImageDigest: d},
		"imageScanStatus": v.status, "imageScanFindings": out}
	if end < total {
		resp["nextToken"] = pageToken(end)
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(resp); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDescribeImageScanFindingsBytesUnchanged: every page's response body
// is byte for byte the one the whole-result decode gave, on both stores.
func TestDescribeImageScanFindingsBytesUnchanged(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(t *testing.T) *store.SQL
	}{
		{"sqlite", func(t *testing.T) *store.SQL {
			st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(t *testing.T) *store.SQL { return storetest.Postgres(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := envWith(t, tt.open(t))
			d := digest('b')
			e.image(t, "team/app", d, ociConfig)
			res := pagesResult("bytes", 230, 25)
			res.EnhancedFindings[3] = json.RawMessage("{ \"title\" : \"spaced\",\n \"html\": \"<b>&</b>\" }")
			completeScan(t, e.store, "team/app", d, res)
			for _, limit := range []int{1, 100, 1000} {
				for start := 0; start < 255; start += limit {
					in := map[string]any{"repositoryName": "team/app", "imageId": map[string]string{"imageDigest": d}, "maxResults": limit}
					if start > 0 {
						in["nextToken"] = pageToken(start)
					}
					got := e.raw(t, "DescribeImageScanFindings", in)
					want := wholeDecodeResponse(t, e, d, start, limit)
					if !bytes.Equal(got, want) {
						t.Fatalf("page [%d,+%d): body differs from the whole-result decode:\n got %.300s\nwant %.300s", start, limit, got, want)
					}
				}
			}
		})
	}
}

// raw calls action as the admin and returns the response body.
func (e *env) raw(t *testing.T, action string, in any) []byte {
	t.Helper()
	body, _ := json.Marshal(in)
	r := httptest.NewRequest(http.MethodPost, "http://registry.test/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", TargetPrefix+action)
	SignRequest(r, body, adminKey, secret, "us-east-1", e.clock.t)
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", action, w.Code, w.Body)
	}
	return w.Body.Bytes()
}
