package ecrapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLargeBodySlotsNeedAKnownKey: requests whose body would hold one of the
// few large-body slots (PutImage, UploadLayerPart) are refused before their
// body is read unless they name a configured access key, so senders that
// never finish their body cannot starve real uploads.
func TestLargeBodySlotsNeedAKnownKey(t *testing.T) {
	e := newImageEnv(t)
	srv := httptest.NewServer(e.api)
	t.Cleanup(srv.Close)
	for i, hdr := range []string{
		"", // no Authorization header
		"AWS4-HMAC-SHA256 Credential=AKIDUNKNOWN/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00",
		"garbage",
	} {
		for range largeBodies + 2 {
			pr, pw := io.Pipe() // a body that never ends
			t.Cleanup(func() { pw.Close() })
			req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Amz-Target", TargetPrefix+"UploadLayerPart")
			if hdr != "" {
				req.Header.Set("Authorization", hdr)
			}
			done := make(chan *http.Response, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
				}
				done <- resp
			}()
			select {
			case resp := <-done:
				if resp == nil {
					continue
				}
				typ := resp.Header.Get("X-Amzn-ErrorType")
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.HasSuffix(typ, "Exception") || typ == "ThrottlingException" {
					t.Errorf("case %d: %d %s, want an authentication error before the body", i, resp.StatusCode, typ)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("case %d: the server waited for the body of an unauthenticated request", i)
			}
		}
	}
	// The slots are free: an authenticated upload still works.
	d := uploadBlob(t, e, []byte("after the flood"))
	if d == "" {
		t.Fatal("upload failed")
	}
}
