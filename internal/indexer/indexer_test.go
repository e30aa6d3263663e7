package indexer

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestSharedImagesNamespaces checks OS detection on every shared image.
func TestSharedImagesNamespaces(t *testing.T) {
	dir := testutil.Shared(t, "images")
	want := map[string]string{
		"alpine-3.16.tar": "alpine:3.16", "alpine-3.17.tar": "alpine:3.17", "alpine-3.18.tar": "alpine:3.18",
		"alpine-3.19.tar": "alpine:3.19", "alpine-3.20.oci": "alpine:3.20",
		"amazonlinux-2.tar": "amzn:2", "amazonlinux-2023.oci": "amzn:2023", "centos-7.tar": "centos:7",
		"debian-10.tar": "debian:10", "debian-11.oci": "debian:11", "debian-12.tar": "debian:12",
		"lang-java-go.tar": "alpine:3.20", "lang-lockfiles.tar": "", "lang-python-node.oci": "alpine:3.18",
		"multilayer-whiteout.tar": "alpine:3.16",
		"oraclelinux-7.tar":       "ol:7", "oraclelinux-8.tar": "ol:8", "oraclelinux-9.oci": "ol:9",
		"rhel-8.tar": "rhel:8", "rhel-8-realdb-libuuid.tar": "rhel:8", "rhel-9.oci": "rhel:9",
		"ubuntu-14.04.tar": "ubuntu:14.04", "ubuntu-16.04.tar": "ubuntu:16.04", "ubuntu-18.04.tar": "ubuntu:18.04",
		"ubuntu-20.04.tar": "ubuntu:20.04", "ubuntu-22.04.oci": "ubuntu:22.04", "ubuntu-23.04.tar": "ubuntu:23.04",
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".tar") && !strings.HasSuffix(e.Name(), ".oci") {
			continue
		}
		src, err := source.Resolve(context.Background(), filepath.Join(dir, e.Name()), source.Options{})
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		inv, err := Index(context.Background(), src, Options{Distros: distroall.Distros()})
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		got[e.Name()] = inv.Distro.Namespace()
		wantStatus := inventory.OSSupported
		if want[e.Name()] == "" {
			wantStatus = inventory.OSNone
		}
		if inv.Distro.Status != wantStatus {
			t.Errorf("%s: status %s (%s), want %s", e.Name(), inv.Distro.Status, inv.Distro.Reason, wantStatus)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("namespaces (-want +got):\n%s", d)
	}
}

// fileCounter is a test cataloger that makes one package per file it sees.
type fileCounter struct {
	suffix string
	owned  []string
}

func (fileCounter) Name() string                            { return "counter" }
func (fileCounter) Version() int                            { return 1 }
func (c fileCounter) Required(p string, _ fs.FileInfo) bool { return strings.HasSuffix(p, c.suffix) }
func (c fileCounter) CatalogFile(_ context.Context, f catalog.File) (catalog.Result, error) {
	b := make([]byte, f.Size)
	if _, err := f.R.ReadAt(b, 0); err != nil && f.Size > 0 {
		return catalog.Result{}, err
	}
	typ := npm.Type
	if strings.HasPrefix(string(b), "os:") {
		typ = inventory.TypeAPK
	}
	return catalog.Result{Packages: []inventory.Package{{Name: strings.TrimPrefix(string(b), "os:"), Version: "1.0", Type: typ}}, Owned: c.owned}, nil
}

func TestIndexDirDedupesOwnedFiles(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
	write("usr/lib/node_modules/a/package.pkg", "a")
	write("app/node_modules/b/package.pkg", "b")
	write("lib/apk/db/installed.pkg", "os:musl")
	src, err := source.Resolve(context.Background(), "dir:"+root, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inv, err := Index(context.Background(), src, Options{Distros: distroall.Distros(),
		OS:  []catalog.FileCataloger{fileCounter{suffix: "installed.pkg", owned: []string{"/usr/lib/node_modules/a/package.pkg"}}},
		Now: func() time.Time { return fixed },
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range inv.Packages {
		got = append(got, p.PURL+" @"+p.Path)
	}
	// Only the OS cataloger ran, and it owns nothing else: one package.
	if d := cmp.Diff([]string{"pkg:apk/alpine/musl@1.0?distro=alpine-3.19.1 @lib/apk/db/installed.pkg"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	inv, err = Index(context.Background(), src, Options{Distros: distroall.Distros(),
		OS:       []catalog.FileCataloger{fileCounter{suffix: "installed.pkg", owned: []string{"/usr/lib/node_modules/a/package.pkg"}}},
		Language: []catalog.FileCataloger{fileCounter{suffix: "package.pkg"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, p := range inv.Packages {
		got = append(got, p.Name+"@"+p.Path)
	}
	want := []string{"musl@lib/apk/db/installed.pkg", "b@app/node_modules/b/package.pkg"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("owned language package must be dropped (-want +got):\n%s", d)
	}
}

// TestIndexPURLsFromEcosystems: a language package's PURL follows its
// ecosystem descriptor's name rule (an npm scope is the namespace); with
// no ecosystems the name is kept whole.
func TestIndexPURLsFromEcosystems(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "package.pkg"), []byte("@scope/core"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := source.Resolve(context.Background(), "dir:"+root, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ecos ecosystem.List
		want []string
	}{
		{"stowaway's ecosystems", ecoall.Ecosystems(), []string{"pkg:npm/%40scope/core@1.0"}},
		{"none", nil, []string{"pkg:npm/%40scope%2Fcore@1.0"}},
	} {
		inv, err := Index(context.Background(), src, Options{Distros: distroall.Distros(), Ecosystems: tc.ecos,
			Language: []catalog.FileCataloger{fileCounter{suffix: "package.pkg"}}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range inv.Packages {
			got = append(got, p.PURL)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: PURLs (-want +got):\n%s", tc.name, d)
		}
	}
}
