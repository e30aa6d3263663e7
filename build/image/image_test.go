package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const fakeCA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"

// smallModule is a main package that prints its version variable: cheap to
// cross-compile, and built exactly as stowaway is.
func smallModule(t *testing.T) (dir, ca string) {
	t.Helper()
	dir = t.TempDir()
	for name, body := range map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.22\n",
		"main.go": "package main\n\nvar Version = \"unset\"\n\nfunc main() { println(\"hello\", Version) }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ca = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, []byte(fakeCA), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, ca
}

func smallOptions(dir, ca string) Options {
	return Options{
		Dir: dir, Pkg: ".", Platforms: []string{"linux/amd64", "linux/arm64"},
		Version: "v1.2.3", VersionVar: "main.Version", Revision: "0123456789abcdef", Source: "https://example.com/src",
		Epoch: time.Date(2026, 12, 3, 9, 10, 22, 0, time.UTC), CACerts: ca,
		// The tests' own build flags (-mod=readonly in CI) do not apply to
		// the small module.
		Env: []string{"GOFLAGS="},
	}
}

// TestBuildReproducible builds the same index twice (two go builds per
// platform, two assemblies) and gets the same digest, the same layout
// archive bytes, and an index that names both platforms.
func TestBuildReproducible(t *testing.T) {
	ctx := context.Background()
	dir, ca := smallModule(t)
	o := smallOptions(dir, ca)
	a, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("two builds of the same sources: index %s, then %s", da, db)
	}
	im, err := a.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
		if m.ArtifactType != "" || m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("%s: media type %q, artifactType %q; want an OCI image manifest and no artifactType", m.Digest, m.MediaType, m.ArtifactType)
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, plats); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	if got := im.Annotations["org.opencontainers.image.revision"]; got != "0123456789abcdef" {
		t.Errorf("index revision annotation %q", got)
	}

	arc := filepath.Join(t.TempDir(), "a.tar")
	arc2 := filepath.Join(t.TempDir(), "b.tar")
	if err := writeArchive(arc, a, "v1.2.3", o.Epoch); err != nil {
		t.Fatal(err)
	}
	if err := writeArchive(arc2, b, "v1.2.3", o.Epoch); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(arc)
	y, _ := os.ReadFile(arc2)
	if !bytes.Equal(x, y) {
		t.Errorf("the two oci-archives differ (%d and %d bytes)", len(x), len(y))
	}

	// A different epoch is a different image: the timestamps are in it.
	o.Epoch = o.Epoch.Add(time.Second)
	c, err := Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if dc, _ := c.Digest(); dc == da {
		t.Errorf("another SOURCE_DATE_EPOCH gave the same digest %s", dc)
	}
}

// TestImageContent checks one platform's config and files: the user, the
// entrypoint, the labels, the fixed times, owners and modes, the CA bundle,
// and that the binary in it runs and carries the version.
func TestImageContent(t *testing.T) {
	dir, ca := smallModule(t)
	o := smallOptions(dir, ca)
	o.Platforms = []string{"linux/" + runtime.GOARCH}
	idx, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := v1.Config{
		User:         "65532:65532",
		Entrypoint:   []string{"/usr/local/bin/stowaway"},
		Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/stowaway"},
		WorkingDir:   "/home/stowaway",
		ExposedPorts: map[string]struct{}{"5000/tcp": {}, "8443/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "stowaway",
			"org.opencontainers.image.description": "Container image vulnerability scanner and ECR-compatible scanning registry",
			"org.opencontainers.image.created":     "2026-12-03T09:10:22Z",
			"org.opencontainers.image.source":      "https://example.com/src",
			"org.opencontainers.image.revision":    "0123456789abcdef",
			"org.opencontainers.image.version":     "v1.2.3",
		},
	}
	if diff := cmp.Diff(wantCfg, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if !cf.Created.Time.Equal(o.Epoch) || cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("created %s, platform %s/%s", cf.Created.Time, cf.OS, cf.Architecture)
	}
	for _, h := range cf.History {
		if !h.Created.Time.Equal(o.Epoch) {
			t.Errorf("history %q created %s, want the epoch", h.CreatedBy, h.Created.Time)
		}
	}

	type entry struct {
		Mode     int64
		UID, GID int
		Size     int64
	}
	got := map[string]entry{}
	var bin []byte
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if !h.ModTime.Equal(o.Epoch) {
				t.Errorf("%s: mtime %s, want the epoch", h.Name, h.ModTime)
			}
			got[h.Name] = entry{h.Mode, h.Uid, h.Gid, h.Size}
			switch h.Name {
			case "usr/local/bin/stowaway":
				bin, _ = io.ReadAll(tr)
			case "etc/ssl/certs/ca-certificates.crt":
				b, _ := io.ReadAll(tr)
				if string(b) != fakeCA {
					t.Errorf("CA bundle %q, want the host's", b)
				}
			case "etc/passwd":
				b, _ := io.ReadAll(tr)
				if !strings.Contains(string(b), "stowaway:x:65532:65532:") {
					t.Errorf("passwd lacks the stowaway user:\n%s", b)
				}
			}
		}
		rc.Close()
	}
	want := map[string]entry{
		"etc/":                              {0o755, 0, 0, 0},
		"etc/group":                         {0o644, 0, 0, 28},
		"etc/nsswitch.conf":                 {0o644, 0, 0, 17},
		"etc/passwd":                        {0o644, 0, 0, got["etc/passwd"].Size},
		"etc/ssl/":                          {0o755, 0, 0, 0},
		"etc/ssl/certs/":                    {0o755, 0, 0, 0},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0, 0, int64(len(fakeCA))},
		"home/":                             {0o755, 0, 0, 0},
		"home/stowaway/":                    {0o755, 65532, 65532, 0},
		"data/":                             {0o755, 65532, 65532, 0},
		"tmp/":                              {0o1777, 0, 0, 0},
		"usr/":                              {0o755, 0, 0, 0},
		"usr/local/":                        {0o755, 0, 0, 0},
		"usr/local/bin/":                    {0o755, 0, 0, 0},
		"usr/local/bin/stowaway":            {0o755, 0, 0, int64(len(bin))},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if len(bin) == 0 {
		t.Fatal("no binary in the image")
	}
	exe := filepath.Join(t.TempDir(), "stowaway")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil {
		t.Fatalf("the image's binary: %v\n%s", err, out)
	}
	if string(out) != "hello v1.2.3\n" {
		t.Errorf("the image's binary printed %q, want the -X version", out)
	}
	if strings.Contains(string(bin), dir) {
		t.Errorf("the binary holds the build directory %s (-trimpath)", dir)
	}
}

func TestBuildErrors(t *testing.T) {
	dir, ca := smallModule(t)
	notPEM := filepath.Join(t.TempDir(), "bundle")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module example.com/x\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() { undefined() }\n"} {
		if err := os.WriteFile(filepath.Join(broken, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"windows", func(o *Options) { o.Platforms = []string{"windows/amd64"} }, `platform "windows/amd64": want linux/ARCH`},
		{"no arch", func(o *Options) { o.Platforms = []string{"linux"} }, `platform "linux": want linux/ARCH`},
		{"twice", func(o *Options) { o.Platforms = []string{"linux/amd64", "linux/amd64"} }, `platform "linux/amd64" given twice`},
		{"no platforms", func(o *Options) { o.Platforms = nil }, "no platforms"},
		{"no epoch", func(o *Options) { o.Epoch = time.Time{} }, "no epoch"},
		{"missing CA", func(o *Options) { o.CACerts = filepath.Join(dir, "nope") }, "CA certificates: open"},
		{"CA not PEM", func(o *Options) { o.CACerts = notPEM }, "no PEM certificate in it"},
		{"compile error", func(o *Options) { o.Dir = broken; o.Platforms = []string{"linux/amd64"} }, "undefined: undefined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := smallOptions(dir, ca)
			tc.edit(&o)
			_, err := Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestWriteLayout writes a layout that go-containerregistry reads back as
// the same index, named by its ref.name, and refuses a non-empty directory.
func TestWriteLayout(t *testing.T) {
	dir, ca := smallModule(t)
	o := smallOptions(dir, ca)
	o.Platforms = []string{"linux/amd64"}
	idx, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "layout")
	if err := writeLayout(out, idx, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := top.IndexManifest()
	want, _ := idx.Digest()
	stored, err := top.ImageIndex(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(stored); err != nil {
		t.Fatalf("validate the stored index: %v", err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != want || tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3" {
		t.Fatalf("index.json %+v, want one entry %s named v1.2.3", tm.Manifests, want)
	}
	if err := writeLayout(out, idx, "v1.2.3"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second write into the same directory: %v, want a refusal", err)
	}
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "nothing to do"},
		{[]string{"-o", "x", "extra"}, "unexpected arguments"},
		{[]string{"-push", "UPPER/case:x", "-revision", "r", "-version", "v", "-epoch", "1"}, "-push"},
		{[]string{"-o", "x", "-revision", "r", "-version", "v", "-epoch", "yesterday"}, `epoch "yesterday"`},
	} {
		err := run(context.Background(), tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
