package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestSkopeoRoundTrip copies a real docker-archive into the registry with
// skopeo and back out to a dir:, comparing digests.
func TestSkopeoRoundTrip(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed (apt-get install -y skopeo); skipping the skopeo interoperability test")
	}
	archive := filepath.Join(testutil.Shared(t, "images"), "alpine-3.19.tar")
	f := newFixture(t, []auth.User{{Name: "ci", Password: "ci-pass", Grants: []auth.Grant{{Repository: "*", Actions: []string{"admin"}}}}})
	dest := "docker://" + f.host + "/library/alpine:3.19"
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(skopeo, args...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, out)
		}
	}
	// Wrong credentials are refused.
	bad := exec.Command(skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", "ci:wrong", "docker-archive:"+archive, dest)
	bad.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := bad.CombinedOutput(); err == nil {
		t.Fatalf("skopeo push with a wrong password succeeded:\n%s", out)
	}

	run("copy", "--dest-tls-verify=false", "--dest-creds", "ci:ci-pass", "docker-archive:"+archive, dest)
	out := t.TempDir()
	run("copy", "--src-tls-verify=false", "--src-creds", "ci:ci-pass", dest, "dir:"+out)

	raw, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	pulled := "sha256:" + hex.EncodeToString(sum[:])
	d, err := f.store.ResolveTag(context.Background(), "library/alpine", "3.19")
	if err != nil {
		t.Fatalf("push not recorded: %v", err)
	}
	if d != pulled {
		t.Errorf("pulled manifest digest %s, recorded push %s", pulled, d)
	}
	img, err := f.reg.Image(context.Background(), "library/alpine", d)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct {
			Digest string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var pulledLayers []string
	for _, l := range m.Layers {
		pulledLayers = append(pulledLayers, l.Digest)
		// dir: stores each blob under its hex digest; check its bytes.
		b, err := os.ReadFile(filepath.Join(out, l.Digest[len("sha256:"):]))
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		if "sha256:"+hex.EncodeToString(s[:]) != l.Digest {
			t.Errorf("layer %s bytes do not match their digest", l.Digest)
		}
	}
	if diff := cmp.Diff(layerDigests(t, img), pulledLayers); diff != "" {
		t.Errorf("layers differ (-stored +pulled):\n%s", diff)
	}
	src, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	// skopeo recompresses docker-archive layers, so compare content by
	// diffID (uncompressed digest).
	srcCfg, err := src.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	gotCfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(srcCfg.RootFS.DiffIDs, gotCfg.RootFS.DiffIDs); diff != "" {
		t.Errorf("layer diffIDs differ from the source archive (-archive +stored):\n%s", diff)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if d := "sha256:" + hex.EncodeToString(h.Sum(nil)); d != srcCfg.RootFS.DiffIDs[i].String() {
			t.Errorf("stored layer %d diffID %s, want %s", i, d, srcCfg.RootFS.DiffIDs[i])
		}
	}
	if len(pulledLayers) != 1 {
		t.Errorf("alpine-3.19 has %d layers, want 1", len(pulledLayers))
	}
}
