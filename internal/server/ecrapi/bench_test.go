package ecrapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/bench/synth"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// BenchmarkDescribeImageScanFindings times one signed
// DescribeImageScanFindings call (SigV4 check, store read, JSON response)
// on SQLite, for images of 4, 2,000 and 20,000 findings and page sizes 1,
// 100 and 1000, reading the page in the middle of the findings.
func BenchmarkDescribeImageScanFindings(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	a, err := auth.New(nil, []auth.AccessKey{{ID: adminKey, Secret: secret, Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}}}, []byte("k"), func() time.Time { return t0 })
	if err != nil {
		b.Fatal(err)
	}
	api := New(Options{Store: st, Registry: &fakeRegistry{}, Auth: a, RegistryID: "123456789012", Region: "us-east-1", Now: func() time.Time { return t0 }})
	if _, err := st.EnsureRepository(ctx, store.Repository{Name: "bench/app", CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	for _, total := range []int{4, 2000, 20000} {
		d := fmt.Sprintf("sha256:%064d", total)
		if _, err := st.PutImage(ctx, store.Image{Repository: "bench/app", Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactMediaType: ociConfig, PushedAt: t0}, ""); err != nil {
			b.Fatal(err)
		}
		if err := st.StartScan(ctx, "bench/app", d, false, t0, 0); err != nil {
			b.Fatal(err)
		}
		j, err := st.ClaimJob(ctx, "w", t0, time.Minute, 3)
		if err != nil || j == nil {
			b.Fatalf("claim: %v %v", j, err)
		}
		raw, err := json.Marshal(synth.Result(total, t0))
		if err != nil {
			b.Fatal(err)
		}
		if err := st.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Result: raw}, t0); err != nil {
			b.Fatal(err)
		}
		for _, limit := range []int{1, 100, 1000} {
			in := map[string]any{"repositoryName": "bench/app", "imageId": map[string]string{"imageDigest": d}, "maxResults": limit}
			if start := total / 2; start > 0 {
				in["nextToken"] = pageToken(start)
			}
			body, _ := json.Marshal(in)
			b.Run(fmt.Sprintf("findings=%d/maxResults=%d", total, limit), func(b *testing.B) {
				want := min(limit, total-total/2)
				call := func() *httptest.ResponseRecorder {
					r := httptest.NewRequest(http.MethodPost, "http://registry.test/", bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/x-amz-json-1.1")
					r.Header.Set("X-Amz-Target", TargetPrefix+"DescribeImageScanFindings")
					SignRequest(r, body, adminKey, secret, "us-east-1", t0)
					w := httptest.NewRecorder()
					api.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
					return w
				}
				for b.Loop() {
					call()
				}
				b.StopTimer()
				w := call()
				var out struct {
					ImageScanFindings struct {
						Findings []json.RawMessage `json:"findings"`
					} `json:"imageScanFindings"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.ImageScanFindings.Findings) != want {
					b.Fatalf("page has %d findings (%v), want %d", len(out.ImageScanFindings.Findings), err, want)
				}
				b.ReportMetric(float64(w.Body.Len()), "resp-bytes")
			})
		}
	}
}

// pageToken is the nextToken of the page starting at offset (the wire
// format the API hands out).
func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}
