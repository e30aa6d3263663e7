package registry

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type answer struct {
	Status int
	Codes  []string
}

func decodeAnswer(t *testing.T, resp *http.Response) (answer, string) {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{Status: resp.StatusCode}
	var body ociErrors
	if err := json.Unmarshal(raw, &body); err == nil {
		for _, e := range body.Errors {
			a.Codes = append(a.Codes, e.Code)
		}
	}
	return a, string(raw)
}

// TestErrorBodies: through the registry API, a bad tags/list or catalog
// "last" is a 400 (distribution answered 500 with the storage path) and an
// invalid repository name is 400 NAME_INVALID (500 or a text 404 before);
// no error body carries a path of the server or a "detail".
func TestErrorBodies(t *testing.T) {
	f := newFixture(t, nil)
	img, _ := random.Image(100, 1)
	ref, _ := name.ParseReference(f.host+"/app:1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(authn.Anonymous)); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 256)
	for _, tc := range []struct {
		method, path string
		want         answer
	}{
		{"GET", "/v2/app/tags/list?last=%00", answer{400, []string{"TAG_INVALID"}}},
		{"GET", "/v2/app/tags/list?last=..%2F..%2Fetc", answer{400, []string{"TAG_INVALID"}}},
		{"GET", "/v2/_catalog?last=%00", answer{400, []string{"NAME_INVALID"}}},
		{"GET", "/v2/" + long + "/tags/list", answer{400, []string{"NAME_INVALID"}}},
		{"GET", "/v2/" + long + "/manifests/latest", answer{400, []string{"NAME_INVALID"}}},
		{"PUT", "/v2/" + long + "/manifests/latest", answer{400, []string{"NAME_INVALID"}}},
		{"POST", "/v2/" + long + "/blobs/uploads/", answer{400, []string{"NAME_INVALID"}}},
		{"GET", "/v2/Bad_Name/manifests/latest", answer{400, []string{"NAME_INVALID"}}},
		{"GET", "/v2/a..b/tags/list", answer{400, []string{"NAME_INVALID"}}},
		{"GET", "/v2/app/manifests/sha256:" + strings.Repeat("0", 64), answer{404, []string{"MANIFEST_UNKNOWN"}}},
		{"GET", "/v2/app/blobs/sha256:zz", answer{400, []string{"DIGEST_INVALID"}}},
		{"GET", "/v2/app/tags/list?last=0", answer{200, nil}},
		{"GET", "/v2/" + strings.Repeat("a", 255) + "/tags/list", answer{404, []string{"NAME_UNKNOWN"}}},
	} {
		req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, raw := decodeAnswer(t, resp)
		short := tc.path
		if len(short) > 50 {
			short = short[:50] + "..."
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s\nbody %s", tc.method, short, diff, raw)
		}
		if strings.Contains(raw, "detail") || strings.Contains(raw, "/docker/registry") || strings.Contains(raw, f.reg.opts.Dir) {
			t.Errorf("%s %s: body carries server detail: %s", tc.method, short, raw)
		}
	}
}

// TestErrorFilter: a 5xx becomes UNKNOWN naming the request id, a 4xx
// loses its detail, distribution's invalid-name 500 becomes 400
// NAME_INVALID, successes and HEAD errors pass unchanged.
func TestErrorFilter(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		status       int
		ct, body     string
		wantStatus   int
		wantBody     string
	}{
		{"5xx", "GET", 500, "application/json; charset=utf-8", `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"filesystem: invalid path: /data/registry/docker/x"}]}`,
			500, `{"errors":[{"code":"UNKNOWN","message":"internal server error (request id rid-1)"}]}` + "\n"},
		{"5xx not JSON", "GET", 503, "text/plain", "open /data/x: no such file", 503, `{"errors":[{"code":"UNKNOWN","message":"internal server error (request id rid-1)"}]}` + "\n"},
		{"name", "GET", 500, "application/json", `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"repository name \"x\" invalid: repository name must not be more than 255 characters"}]}`,
			400, `{"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]}` + "\n"},
		{"4xx detail", "GET", 404, "application/json", `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:ab"}]}`,
			404, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}` + "\n"},
		{"4xx text", "GET", 404, "text/plain; charset=utf-8", "404 page not found\n", 404, "404 page not found\n"},
		{"4xx bad JSON", "GET", 400, "application/json", `{"errors":`, 400, `{"errors":[{"code":"UNKNOWN","message":"Bad Request"}]}` + "\n"},
		{"HEAD 404", "HEAD", 404, "application/json", "", 404, ""},
		{"200", "GET", 200, "application/json", `{"tags":["a"]}`, 200, `{"tags":["a"]}`},
	} {
		rec := httptest.NewRecorder()
		ef := &errorFilter{ResponseWriter: rec, log: slog.New(slog.DiscardHandler), reqID: "rid-1", path: "/v2/x"}
		ef.Header().Set("Content-Type", tc.ct)
		ef.WriteHeader(tc.status)
		if tc.body != "" {
			_, _ = ef.Write([]byte(tc.body))
		}
		ef.finish()
		if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
			t.Errorf("%s: %d %q, want %d %q", tc.name, rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
		}
	}
}

// FuzzErrorFilter: whatever error body distribution writes, the answer
// has no "detail" and a 5xx never echoes the body.
func FuzzErrorFilter(f *testing.F) {
	f.Add(500, `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"filesystem: invalid path: /data/x"}]}`)
	f.Add(404, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown","detail":{"digest":"sha256:ab"}}]}`)
	f.Add(400, `{"errors":[]}`)
	f.Add(503, "not json /secret/path")
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 400 || status > 599 {
			return
		}
		rec := httptest.NewRecorder()
		ef := &errorFilter{ResponseWriter: rec, log: slog.New(slog.DiscardHandler), reqID: "rid"}
		ef.Header().Set("Content-Type", "application/json")
		ef.WriteHeader(status)
		_, _ = ef.Write([]byte(body))
		ef.finish()
		out := rec.Body.String()
		var parsed ociErrors
		if out != "" && json.Unmarshal([]byte(out), &parsed) != nil {
			t.Fatalf("answer %q is not an OCI error body", out)
		}
		for _, e := range parsed.Errors {
			if e.Detail != nil {
				t.Fatalf("answer %q keeps a detail", out)
			}
		}
		if rec.Code >= 500 && len(parsed.Errors) > 0 && parsed.Errors[0].Message != "internal server error (request id rid)" {
			t.Fatalf("5xx answer %q", out)
		}
	})
}
