package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

// TestCatalogFiltered: the catalog lists only what the caller may pull,
// page by page, and is empty for a caller with no grants.
func TestCatalogFiltered(t *testing.T) {
	f := newFixture(t, []auth.User{
		{Name: "root", Password: "r", Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{Name: "bob", Password: "b", Grants: []auth.Grant{{Repository: "team/*", Actions: []string{"pull"}}}},
		{Name: "carol", Password: "c"},
	})
	root := authn.FromConfig(authn.AuthConfig{Username: "root", Password: "r"})
	for _, repo := range []string{"a", "team/x", "team/y", "team/z", "zed"} {
		img, _ := random.Image(64, 1)
		ref, _ := name.ParseReference(f.host+"/"+repo+":1", name.Insecure)
		if err := remote.Write(ref, img, remote.WithAuth(root)); err != nil {
			t.Fatal(err)
		}
	}
	// page follows the Link headers from path and returns every page.
	page := func(user, pass, path string) [][]string {
		var pages [][]string
		for path != "" && len(pages) < 10 {
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
			req.SetBasicAuth(user, pass)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct{ Repositories []string }
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("%s as %s: %d, %v", path, user, resp.StatusCode, err)
			}
			pages = append(pages, body.Repositories)
			path = ""
			if l := resp.Header.Get("Link"); l != "" {
				path = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		return pages
	}
	for _, tt := range []struct {
		user, pass, path string
		want             [][]string
	}{
		{"root", "r", "/v2/_catalog", [][]string{{"a", "team/x", "team/y", "team/z", "zed"}}},
		{"root", "r", "/v2/_catalog?n=2", [][]string{{"a", "team/x"}, {"team/y", "team/z"}, {"zed"}}},
		{"bob", "b", "/v2/_catalog", [][]string{{"team/x", "team/y", "team/z"}}},
		{"bob", "b", "/v2/_catalog?n=2", [][]string{{"team/x", "team/y"}, {"team/z"}}},
		{"bob", "b", "/v2/_catalog?n=3", [][]string{{"team/x", "team/y", "team/z"}}},
		{"carol", "c", "/v2/_catalog", [][]string{{}}},
	} {
		if diff := cmp.Diff(tt.want, page(tt.user, tt.pass, tt.path)); diff != "" {
			t.Errorf("%s as %s (-want +got):\n%s", tt.path, tt.user, diff)
		}
	}
	for _, n := range []string{"-1", "1001", "x"} {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/v2/_catalog?n="+n, nil)
		req.SetBasicAuth("root", "r")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("n=%s: %d, want 400", n, resp.StatusCode)
		}
	}
}

func TestRouteActions(t *testing.T) {
	for _, tt := range []struct {
		method, path, want string
	}{
		{"GET", "/v2/", ""},
		{"GET", "/v2/_catalog", ""},
		{"GET", "/v2/a/manifests/1", "ecr:BatchGetImage"},
		{"HEAD", "/v2/a/manifests/1", "ecr:BatchGetImage"},
		{"PUT", "/v2/a/manifests/1", "ecr:PutImage"},
		{"DELETE", "/v2/a/manifests/1", "ecr:BatchDeleteImage"},
		{"GET", "/v2/a/blobs/sha256:x", "ecr:GetDownloadUrlForLayer"},
		{"HEAD", "/v2/a/blobs/sha256:x", "ecr:BatchCheckLayerAvailability"},
		{"DELETE", "/v2/a/blobs/sha256:x", "ecr:BatchDeleteImage"},
		{"POST", "/v2/a/blobs/uploads/", "ecr:InitiateLayerUpload"},
		{"PATCH", "/v2/a/blobs/uploads/u", "ecr:UploadLayerPart"},
		{"GET", "/v2/a/blobs/uploads/u", "ecr:UploadLayerPart"},
		{"PUT", "/v2/a/blobs/uploads/u", "ecr:CompleteLayerUpload"},
		{"GET", "/v2/a/tags/list", "ecr:ListImages"},
		{"GET", "/v2/a/referrers/sha256:x", "ecr:BatchGetImage"},
		{"POST", "/v2/a/tags/list", "ecr:BatchDeleteImage"},
	} {
		rt, ok := parseRoute(tt.path)
		if !ok {
			t.Fatalf("%s: not a route", tt.path)
		}
		if got := routeAction(rt, tt.method); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestCrossMountNeedsPull: a mount from a repository the caller may not
// pull becomes a plain upload (no blob leaks).
func TestCrossMountNeedsPull(t *testing.T) {
	f := newFixture(t, []auth.User{
		{Name: "root", Password: "r", Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}},
		{Name: "bob", Password: "b", Grants: []auth.Grant{{Repository: "bob/*", Actions: []string{"push"}}}},
	})
	img, _ := random.Image(64, 1)
	ref, _ := name.ParseReference(f.host+"/secret/app:1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: "root", Password: "r"}))); err != nil {
		t.Fatal(err)
	}
	d := layerDigests(t, img)[0]
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, f.srv.URL+"/v2/bob/app/blobs/uploads/?mount="+d+"&from=secret/app", nil)
	req.SetBasicAuth("bob", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("mount from a repository bob may not pull: %d, want 202 (a plain upload, not 201 mounted)", resp.StatusCode)
	}
}
