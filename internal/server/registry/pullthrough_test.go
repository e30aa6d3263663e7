package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

func TestMatchPullThroughRule(t *testing.T) {
	rules := []store.PullThroughRule{
		{Prefix: "hub"},
		{Prefix: "hub/library", UpstreamPrefix: "official"},
		{Prefix: "quay", UpstreamPrefix: "ROOT"},
	}
	withRoot := append([]store.PullThroughRule{{Prefix: "ROOT"}}, rules...)
	for _, tt := range []struct {
		rules          []store.PullThroughRule
		repo           string
		prefix, upRepo string
		ok             bool
	}{
		{rules, "hub/nginx", "hub", "nginx", true},
		{rules, "hub/team/app", "hub", "team/app", true},
		{rules, "hub/library/alpine", "hub/library", "official/alpine", true}, // the longest prefix wins
		{rules, "quay/coreos/etcd", "quay", "coreos/etcd", true},
		{rules, "hub", "", "", false},      // the prefix alone is no repository under it
		{rules, "hubble/x", "", "", false}, // a prefix ends at "/"
		{rules, "other/app", "", "", false},
		{nil, "hub/nginx", "", "", false},
		{withRoot, "other/app", "ROOT", "other/app", true},
		{withRoot, "hub/nginx", "hub", "nginx", true},
	} {
		r, up, ok := MatchPullThroughRule(tt.rules, tt.repo)
		if ok != tt.ok || r.Prefix != tt.prefix || up != tt.upRepo {
			t.Errorf("MatchPullThroughRule(%q) = %q, %q, %v; want %q, %q, %v", tt.repo, r.Prefix, up, ok, tt.prefix, tt.upRepo, tt.ok)
		}
	}
}

// TestPullThroughBounds: an image over MaxImageSize and a manifest over
// MaxManifestSize are refused and nothing is stored; a repository under
// no rule makes no upstream request.
func TestPullThroughBounds(t *testing.T) {
	ctx := context.Background()
	var requests atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/huge/manifests/") {
			requests.Add(1)
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
			if r.Method == http.MethodHead {
				return
			}
			_, _ = w.Write([]byte(`{"schemaVersion":2,"layers":[`))
			for i := 0; i < MaxManifestSize/16; i++ {
				_, _ = w.Write([]byte(`{"size":1},     `))
			}
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v2/") && r.URL.Path != "/v2/" {
			requests.Add(1)
		}
		upstreamReg.ServeHTTP(w, r)
	}))
	defer up.Close()
	host := strings.TrimPrefix(up.URL, "http://")
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/big/app:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, nil, t.TempDir(), func(o *Options) {
		o.PullThrough = PullThrough{Store: o.Store.(PullThroughStore), MaxImageSize: 64 << 10, Timeout: 30 * time.Second}
	})
	if err := f.store.CreatePullThroughRule(ctx, store.PullThroughRule{Prefix: "up", UpstreamURL: host, CreatedAt: time.Now(), UpdatedAt: time.Now()}, 50); err != nil {
		t.Fatal(err)
	}
	pull := func(repo string) error {
		r, _ := name.ParseReference(f.host+"/"+repo, name.Insecure)
		_, err := remote.Get(r)
		return err
	}
	before := requests.Load()
	err = pull("up/big/app:1")
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "larger than this server's pull-through limit") {
		t.Errorf("an image over the limit: %v", err)
	}
	if requests.Load() == before {
		t.Error("the upstream was not asked")
	}
	err = pull("up/huge:1")
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || !strings.Contains(err.Error(), "invalid answer") {
		t.Errorf("a manifest over %d bytes: %v", MaxManifestSize, err)
	}
	if imgs, err := f.store.ListImages(ctx, "up/big/app"); err != nil || len(imgs) != 0 {
		t.Errorf("refused fetches stored images: %v, %v", imgs, err)
	}
	before = requests.Load()
	if err := pull("down/big/app:1"); err == nil {
		t.Error("a repository under no rule was served")
	}
	if requests.Load() != before {
		t.Error("a repository under no rule asked the upstream")
	}
}

var upstreamReg = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))

// BenchmarkManifestGetOutsideRules is a manifest GET by tag of a pushed
// image, served in process, with no pull-through cache ("off"), and with
// one whose single rule covers another prefix ("other-rule"): the cost
// the pull-through cache adds to the hot path of normal pulls.
func BenchmarkManifestGetOutsideRules(b *testing.B) {
	for _, tt := range []struct {
		name string
		pt   bool
	}{{"off", false}, {"other-rule", true}} {
		b.Run(tt.name, func(b *testing.B) {
			ctx := context.Background()
			f := newFixtureWith(b, nil, b.TempDir(), func(o *Options) {
				if tt.pt {
					o.PullThrough = PullThrough{Store: o.Store.(PullThroughStore)}
				}
			})
			if tt.pt {
				if err := f.store.CreatePullThroughRule(ctx, store.PullThroughRule{Prefix: "hub", UpstreamURL: "upstream.invalid", CreatedAt: time.Now(), UpdatedAt: time.Now()}, 50); err != nil {
					b.Fatal(err)
				}
			}
			img, err := random.Image(256, 1)
			if err != nil {
				b.Fatal(err)
			}
			ref, _ := name.ParseReference(f.host+"/team/app:1", name.Insecure)
			if err := remote.Write(ref, img); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/v2/team/app/manifests/1", nil)
				req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json")
				w := httptest.NewRecorder()
				f.reg.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
