package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUploadHygiene runs the server's own purge loop and caps: with
// --upload-purge-age 1s an interrupted upload disappears by itself, the
// session over --max-uploads-per-user is refused by /v2/ (429) and by
// InitiateLayerUpload (LimitExceededException), and /metrics counts both.
func TestUploadHygiene(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.UploadPurgeAge = time.Second
		c.MaxUploadsPerUser = 1
		c.MaxUploadsPerRepository = -1
	})
	post := func() *http.Response {
		req, _ := http.NewRequest("POST", ts.url+"/v2/team/app/blobs/uploads/", nil)
		req.SetBasicAuth("ci", "ci-pass")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	metrics := func() string {
		resp, err := http.Get(ts.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	if resp := post(); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first upload = %d", resp.StatusCode)
	}
	if resp := post(); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second upload of a user capped at 1 = %d, want 429", resp.StatusCode)
	}
	// The access key acts as its own principal: its first session is
	// allowed, its second refused.
	if code, body := ts.call(t, "CreateRepository", map[string]any{"repositoryName": "team/app"}, nil); code != 200 {
		t.Fatalf("CreateRepository = %d %s", code, body)
	}
	var out map[string]any
	if code, body := ts.call(t, "InitiateLayerUpload", map[string]any{"repositoryName": "team/app"}, &out); code != 200 {
		t.Fatalf("InitiateLayerUpload = %d %s", code, body)
	}
	code, body := ts.call(t, "InitiateLayerUpload", map[string]any{"repositoryName": "team/app"}, nil)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	if code != 400 || e.Type != "LimitExceededException" || !strings.Contains(e.Message, "--max-uploads-per-user 1") {
		t.Fatalf("second InitiateLayerUpload = %d %s, want LimitExceededException naming --max-uploads-per-user", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(metrics(), "stowaway_uploads_purged_total 2") {
		if time.Now().After(deadline) {
			t.Fatalf("the two interrupted uploads were not purged within 20 s of a 1 s age:\n%s", grepLines(metrics(), "stowaway_uploads"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m := metrics(); !strings.Contains(m, `stowaway_uploads_refused_total{limit="user"} 2`) || !strings.Contains(m, `stowaway_uploads_refused_total{limit="repository"} 0`) {
		t.Errorf("refusals in /metrics:\n%s", grepLines(m, "stowaway_uploads"))
	}
	// The purged sessions no longer count: the user may open one again.
	if resp := post(); resp.StatusCode != http.StatusAccepted {
		t.Errorf("upload after the purge = %d, want 202", resp.StatusCode)
	}
}
