package indexer

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/catalog"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/catalog/binary"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/source"
)

// TestClassifiedBinariesOwnership: the classifier's packages are kept only
// for files that neither an OS package owns (dpkg's .list, with the
// usr-merge alias) nor a language package was read from (a Go binary). A
// wheel's bundled OpenSSL beside its package's metadata is kept: the
// wheel's advisories do not cover it.
func TestClassifiedBinariesOwnership(t *testing.T) {
	root := t.TempDir()
	ossl := "\x00OpenSSL 3.0.11 19 Sep 2023\x00"
	files := map[string]string{
		"etc/os-release":                       "ID=debian\nVERSION_ID=\"12\"\n",
		"var/lib/dpkg/status":                  "Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n\n",
		"var/lib/dpkg/info/libssl3:amd64.list": "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu/libcrypto.so.3\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n",
		// Owned: where dpkg put it, and at its usr-merge alias.
		"usr/lib/x86_64-linux-gnu/libcrypto.so.3": ossl,
		"lib/x86_64-linux-gnu/libssl.so.3":        ossl,
		// Not owned: kept.
		"opt/app/lib/libcrypto.so.3": ossl,
		// A wheel's bundled OpenSSL, beside its package's metadata: kept.
		"usr/lib/python3/site-packages/psycopg2_binary-2.9.9.dist-info/METADATA": "Metadata-Version: 2.1\nName: psycopg2-binary\nVersion: 2.9.9\n",
		"usr/lib/python3/site-packages/psycopg2_binary.libs/libssl-1a2b3c.so.3":  ossl,
		// A site-packages tree with no Python package: kept.
		"srv/venv/lib/site-packages/vendored/libcrypto.so.3": ossl,
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A Go program named bash carrying bash's version string: the Go
	// cataloger accounts for it.
	goBin := filepath.Join(root, "usr/local/bin/bash")
	if gobin, err := exec.LookPath("go"); err == nil {
		dir := t.TempDir()
		src := "package main\n\nimport \"os\"\n\nvar v = \"@(#)Bash version 5.2.15(1) release GNU\"\n\nfunc main() { os.Stdout.WriteString(v) }\n"
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/fakebash\n\ngo 1.21\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(gobin, "build", "-o", goBin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
	} else {
		t.Log("no go on PATH: the Go-binary case is not checked")
		goBin = ""
	}
	src, err := source.Resolve(context.Background(), "dir:"+root, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Index(context.Background(), src, Options{OS: all.OS(), Language: all.Language(), Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	goFound := false
	for _, p := range inv.Packages {
		if p.Cataloger == binary.Name {
			got = append(got, p.Name+" "+p.Version+" "+p.Path+" "+p.PURL)
		}
		if p.Path == "usr/local/bin/bash" && p.Cataloger != binary.Name {
			goFound = true
		}
	}
	sort.Strings(got)
	want := []string{
		"openssl 3.0.11 opt/app/lib/libcrypto.so.3 pkg:generic/openssl@3.0.11",
		"openssl 3.0.11 srv/venv/lib/site-packages/vendored/libcrypto.so.3 pkg:generic/openssl@3.0.11",
		"openssl 3.0.11 usr/lib/python3/site-packages/psycopg2_binary.libs/libssl-1a2b3c.so.3 pkg:generic/openssl@3.0.11",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("classified packages (-want +got):\n%s", d)
	}
	if goBin != "" && !goFound {
		t.Errorf("the Go cataloger found nothing in %s: the attribution case is vacuous", goBin)
	}
}

// TestManyCandidates: an image of 100,000 small files named libssl.so.3
// (each with a version string) is indexed in one pass: one package per
// file, memory bounded by one file at a time. It logs the CPU time.
func TestManyCandidates(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 files")
	}
	const n = 100_000
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("\x00OpenSSL 3.0.11 19 Sep 2023\x00")
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("opt/%d/libssl.so.3", i), Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "many.tar")
	if err := tarball.WriteToFile(p, nil, img); err != nil {
		t.Fatal(err)
	}
	src, err := source.Resolve(context.Background(), p, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	inv, err := Index(context.Background(), src, Options{Language: []catalog.FileCataloger{binary.New()}, Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()})
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Packages) != n {
		t.Errorf("%d packages, want %d", len(inv.Packages), n)
	}
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	t.Logf("indexed %d candidate files in %v of CPU (user+sys)", n, cpu)
}
