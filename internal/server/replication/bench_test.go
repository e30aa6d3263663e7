package replication

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/events"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// BenchmarkDelivery measures one delivery of a pushed image (4 layers of
// 1 MiB) from the registry's storage to an empty go-containerregistry
// registry over loopback HTTP, next to the peer: go-containerregistry's
// own remote.Write of the same image from memory to an empty registry
// (a floor: no storage reads, no HEAD of the manifest and tags, no
// referrer lookup).
//
//	go test -run XXX -bench Delivery -benchtime 20x ./internal/server/replication/
func BenchmarkDelivery(b *testing.B) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	open, err := auth.New(nil, nil, []byte("k"), time.Now) // authentication off
	if err != nil {
		b.Fatal(err)
	}
	reg, err := registry.New(ctx, registry.Options{Dir: b.TempDir(), Store: st, Auth: open})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = reg.Shutdown() }()
	src := httptest.NewServer(reg)
	defer src.Close()
	img, err := random.Image(1<<20, 4)
	if err != nil {
		b.Fatal(err)
	}
	ref, err := name.ParseReference(strings.TrimPrefix(src.URL, "http://")+"/prod/app:v1", name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		b.Fatal(err)
	}
	dg, err := img.Digest()
	if err != nil {
		b.Fatal(err)
	}
	size := int64(0)
	ls, _ := img.Layers()
	for _, l := range ls {
		n, _ := l.Size()
		size += n
	}
	quiet := ggcrregistry.Logger(log.New(io.Discard, "", 0))

	b.Run("stowaway-delivery", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dst := httptest.NewServer(ggcrregistry.New(quiet, ggcrregistry.WithReferrersSupport(true)))
			u, _ := url.Parse(dst.URL)
			c := &copier{dst: auth.Destination{Region: "us-west-2", RegistryID: "210987654321", URL: u}, src: reg, store: st, transport: benchTransport()}
			ev := events.Event{ID: eventID("prod/app", dg.String()), Detail: []byte(`{"repository-name":"prod/app","image-digest":"` + dg.String() + `"}`)}
			b.StartTimer()
			if err := c.Write(ctx, ev); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			dst.Close()
			b.StartTimer()
		}
	})
	b.Run("ggcr-remote-write-from-memory", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dst := httptest.NewServer(ggcrregistry.New(quiet, ggcrregistry.WithReferrersSupport(true)))
			r, err := name.ParseReference(strings.TrimPrefix(dst.URL, "http://")+"/prod/app:v1", name.Insecure)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithTransport(benchTransport())); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			dst.Close()
			b.StartTimer()
		}
	})
}

func benchTransport() *http.Transport { return http.DefaultTransport.(*http.Transport).Clone() }
