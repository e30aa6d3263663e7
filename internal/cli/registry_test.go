package cli

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestSBOMFromRegistry pushes a shared image to an in-process registry and
// reads its SBOM by reference: the same packages as from the archive.
func TestSBOMFromRegistry(t *testing.T) {
	archive := filepath.Join(testutil.Shared(t, "images"), "alpine-3.19.tar")
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/fixtures/alpine:3.19"
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	count := func(args ...string) (int, string) {
		code, out, stderr := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		var inv struct {
			Source   struct{ Kind, Digest string }
			Packages []struct{ PURL string }
		}
		if err := json.Unmarshal([]byte(out), &inv); err != nil {
			t.Fatal(err)
		}
		return len(inv.Packages), inv.Source.Kind + " " + inv.Source.Digest
	}
	fromRegistry, src := count("sbom", ref, "--format", "json")
	fromArchive, _ := count("sbom", "docker-archive:"+archive, "--format", "json")
	if fromRegistry != 28 || fromRegistry != fromArchive {
		t.Errorf("registry: %d packages (%s), archive: %d, want 28", fromRegistry, src, fromArchive)
	}
	if !strings.HasPrefix(src, "registry sha256:") {
		t.Errorf("source %q: want a registry source with its manifest digest", src)
	}
}
