package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed layout.
const (
	binaryPath = "/usr/local/bin/stowaway"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	// uid and gid 65532: the "nonroot" user of distroless images, so
	// Kubernetes' runAsNonRoot and a numeric runAsUser agree with it.
	uid, gid = 65532, 65532
	userName = "stowaway"
	homeDir  = "/home/stowaway"
	// dataDir is an empty directory the user owns: serve's --data when no
	// volume is mounted there.
	dataDir = "/data"
	// maxCABundle bounds the host's CA bundle (Debian's is about 220 KB).
	maxCABundle = 16 << 20
)

// Options describe one build.
type Options struct {
	// Dir is the module directory go build runs in; Pkg the main package
	// in it ("./cmd/stowaway").
	Dir, Pkg string
	// Platforms are os/arch pairs; only linux is supported (the image has
	// no other base).
	Platforms []string
	// Version goes into the binary (-X VersionVar=...) and the
	// org.opencontainers.image.version label.
	Version string
	// VersionVar is the package-qualified string variable set to Version
	// ("" sets none).
	VersionVar string
	// Revision (a commit id) and Source (the repository URL) are labels.
	Revision, Source string
	// Epoch is every timestamp of the image: file times, the config's
	// created time and history (SOURCE_DATE_EPOCH).
	Epoch time.Time
	// CACerts is the CA bundle copied to /etc/ssl/certs/ca-certificates.crt.
	CACerts string
	// GoCmd is the go command (default "go"); Env is added to the build's
	// environment (GOCACHE, GOFLAGS, ...).
	GoCmd string
	Env   []string
}

// Build compiles the binary for each platform and assembles an OCI image
// index of one image per platform. The same sources, toolchain, options
// and CA bundle give the same index digest.
func Build(ctx context.Context, o Options) (v1.ImageIndex, error) {
	if len(o.Platforms) == 0 {
		return nil, errors.New("image: no platforms")
	}
	if o.Epoch.IsZero() {
		return nil, errors.New("image: no epoch (SOURCE_DATE_EPOCH)")
	}
	o.Epoch = o.Epoch.UTC().Truncate(time.Second)
	ca, err := readBounded(o.CACerts, maxCABundle)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates: %w", err)
	}
	base, err := baseLayer(o.Epoch, ca)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	tmp, err := os.MkdirTemp("", "stowaway-image-")
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	defer os.RemoveAll(tmp)
	seen := map[string]bool{}
	for _, p := range o.Platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || goos != "linux" || goarch == "" || strings.Contains(goarch, "/") {
			return nil, fmt.Errorf("image: platform %q: want linux/ARCH, e.g. linux/amd64", p)
		}
		if seen[p] {
			return nil, fmt.Errorf("image: platform %q given twice", p)
		}
		seen[p] = true
		bin := filepath.Join(tmp, "stowaway-"+goarch)
		if err := goBuild(ctx, o, goarch, bin); err != nil {
			return nil, err
		}
		img, err := platformImage(o, goarch, base, bin)
		if err != nil {
			return nil, fmt.Errorf("image: %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        plainImage{img},
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: goos, Architecture: goarch}},
		})
	}
	idx = mutate.Annotations(idx, labels(o)).(v1.ImageIndex)
	// Compute the index now: every layer is read (and a build error
	// surfaces) here rather than in the writer.
	if _, err := idx.Digest(); err != nil {
		return nil, fmt.Errorf("image: index: %w", err)
	}
	return idx, nil
}

// plainImage is described in the index without an artifactType (which
// go-containerregistry sets to the config's media type): an image is not an
// artifact, and docker buildx's indexes carry none.
type plainImage struct{ v1.Image }

func (p plainImage) Descriptor() (*v1.Descriptor, error) {
	d := v1.Descriptor{}
	var err error
	if d.MediaType, err = p.MediaType(); err != nil {
		return nil, err
	}
	if d.Size, err = p.Size(); err != nil {
		return nil, err
	}
	if d.Digest, err = p.Digest(); err != nil {
		return nil, err
	}
	return &d, nil
}

// goBuild compiles a static, path-free binary: CGO_ENABLED=0, -trimpath,
// no VCS stamp (the revision is a label; a stamp would make an untracked
// file change the binary), -s -w, and the version through -X.
func goBuild(ctx context.Context, o Options, goarch, out string) error {
	ldflags := "-s -w -buildid="
	if o.VersionVar != "" && o.Version != "" {
		ldflags += " -X " + o.VersionVar + "=" + o.Version
	}
	gocmd := o.GoCmd
	if gocmd == "" {
		gocmd = "go"
	}
	cmd := exec.CommandContext(ctx, gocmd, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, o.Pkg)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Env = append(cmd.Env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image: go build %s for linux/%s: %w\n%s", o.Pkg, goarch, err, stderr.Bytes())
	}
	return nil
}

// labels are the OCI annotation keys, set as config labels and as
// manifest and index annotations.
func labels(o Options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "stowaway",
		"org.opencontainers.image.description": "Container image vulnerability scanner and ECR-compatible scanning registry",
		"org.opencontainers.image.created":     o.Epoch.Format(time.RFC3339),
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.version":  o.Version,
	} {
		if v != "" {
			l[k] = v
		}
	}
	return l
}

func platformImage(o Options, goarch string, base v1.Layer, bin string) (v1.Image, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	binLayer, err := layer(o.Epoch, []file{
		{name: "usr/", mode: 0o755 | os.ModeDir},
		{name: "usr/local/", mode: 0o755 | os.ModeDir},
		{name: "usr/local/bin/", mode: 0o755 | os.ModeDir},
		{name: strings.TrimPrefix(binaryPath, "/"), mode: 0o755, data: b},
	})
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: o.Epoch}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "build/image: /etc (passwd, group, CA certificates), " + homeDir + ", " + dataDir + ", /tmp"}},
		mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "build/image: go build -trimpath " + o.Pkg + " (CGO_ENABLED=0)"}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created = "linux", goarch, created
	cf.Config = v1.Config{
		User:       fmt.Sprintf("%d:%d", uid, gid),
		Entrypoint: []string{binaryPath},
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"SSL_CERT_FILE=" + caPath,
			"HOME=" + homeDir,
		},
		WorkingDir:   homeDir,
		ExposedPorts: map[string]struct{}{"5000/tcp": {}, "8443/tcp": {}},
		Labels:       labels(o),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels(o)).(v1.Image), nil
}

// baseLayer holds what every platform shares: the user, the CA bundle and
// the writable directories.
func baseLayer(epoch time.Time, ca []byte) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", userName, uid, gid, userName, homeDir)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, gid)
	return layer(epoch, []file{
		{name: "etc/", mode: 0o755 | os.ModeDir},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		// Go's resolver reads it to order /etc/hosts before DNS.
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/ssl/", mode: 0o755 | os.ModeDir},
		{name: "etc/ssl/certs/", mode: 0o755 | os.ModeDir},
		{name: strings.TrimPrefix(caPath, "/"), mode: 0o644, data: ca},
		{name: "home/", mode: 0o755 | os.ModeDir},
		{name: strings.TrimPrefix(homeDir, "/") + "/", mode: 0o755 | os.ModeDir, owned: true},
		{name: strings.TrimPrefix(dataDir, "/") + "/", mode: 0o755 | os.ModeDir, owned: true},
		{name: "tmp/", mode: 0o777 | os.ModeDir | os.ModeSticky},
	})
}

type file struct {
	name  string
	mode  os.FileMode
	data  []byte
	owned bool // by the image's user rather than root
}

// layer writes files as a tar with fixed times and owners, sorted by name,
// and makes it a gzip-compressed OCI layer.
func layer(epoch time.Time, files []file) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{
			Name:    f.name,
			Mode:    int64(f.mode.Perm()),
			ModTime: epoch,
			Format:  tar.FormatPAX,
		}
		if f.mode&os.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.owned {
			h.Uid, h.Gid = uid, gid
		}
		if f.mode.IsDir() {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: layer: %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("image: layer: %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	if !bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", name)
	}
	return b, nil
}

// cleanRel is name as a relative, slash-separated path inside an archive.
func cleanRel(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }
