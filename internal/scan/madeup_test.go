package scan_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/version"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// madeUp is a distribution that exists only in this test: its descriptor,
// its feed and its image are all defined here, and nothing outside this
// file knows it.
func madeUp() distro.Descriptor {
	return distro.Descriptor{
		ID:            "stowos",
		Name:          "Stow OS",
		OSReleaseIDs:  []string{"stow-os"},
		Release:       distro.MajorRelease,
		Releases:      []distro.Release{{Name: "1", EOL: distro.Date(2026, 1, 31)}},
		Version:       version.Dpkg{},
		AdvisoryNames: distro.NameSource,
		AdvisoryURL:   func(id string) string { return "https://security.stowos.example/" + id },
	}
}

// stowFeed is the made-up distribution's updater: one JSON file of
// {id, package, fixed} records.
type stowFeed struct{}

func (stowFeed) Name() string      { return "stowos" }
func (stowFeed) Upstream() string  { return "https://security.stowos.example/feed" }
func (stowFeed) MirrorDir() string { return "stowos" }

func (stowFeed) Fetch(ctx context.Context, src feed.Source, prev feed.State) (feed.Snapshot, error) {
	rc, v, err := src.Get(ctx, "advisories.json", prev["advisories.json"])
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("stowos: fetch: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return feed.Snapshot{}, fmt.Errorf("stowos: fetch: %w", err)
	}
	return feed.Snapshot{FS: fstest.MapFS{"advisories.json": {Data: b}}, State: feed.State{"advisories.json": v}}, nil
}

func (stowFeed) Parse(ctx context.Context, fsys fs.FS, emit func(*advisory.Advisory) error) (feed.Stats, error) {
	b, err := fs.ReadFile(fsys, "advisories.json")
	if err != nil {
		return feed.Stats{}, fmt.Errorf("stowos: parse: %w", err)
	}
	var recs []struct{ ID, Package, Fixed string }
	if err := json.Unmarshal(b, &recs); err != nil {
		return feed.Stats{}, fmt.Errorf("stowos: parse: %w", err)
	}
	var st feed.Stats
	for _, r := range recs {
		a := &advisory.Advisory{ID: r.ID, Source: "stowos", Severity: "HIGH", Affected: []advisory.Affected{{
			Namespace: "stowos:1", Package: r.Package, Kind: advisory.KindSource, Status: advisory.StatusFixed,
			Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: r.Fixed}}}},
		}}}
		if err := emit(a); err != nil {
			return st, err
		}
		st.Records++
	}
	return st, nil
}

// TestMadeUpDistro registers a distribution, its feed and an image of it
// from this test alone and scans the image through scan.Image: the
// package is matched against the feed's record in the descriptor's version
// scheme, and the release being past its end of life is said in the
// status, with the finding kept.
func TestMadeUpDistro(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := &feedtest.Source{Files: map[string]string{"advisories.json": `[{"ID":"CVE-2099-0001","Package":"stowlib","Fixed":"1.2-1"}]`}}
	rep, err := vulndb.Update(ctx, dir, []feed.Updater{stowFeed{}}, func(feed.Updater) feed.Source { return src },
		vulndb.UpdateOptions{Now: func() time.Time { return time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) }})
	if err != nil || rep.Err() != nil {
		t.Fatalf("build DB: %v %v", err, rep.Err())
	}
	vdb, err := vulndb.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vdb.Close() })
	db := &scan.VulnDB{DB: vdb}

	image := filepath.Join(t.TempDir(), "stowos.tar")
	writeImage(t, image, map[string]string{
		"etc/os-release":      "ID=stow-os\nVERSION_ID=1.4\nPRETTY_NAME=\"Stow OS 1.4\"\n",
		"var/lib/dpkg/status": "Package: stowlib1\nStatus: install ok installed\nSource: stowlib\nVersion: 1.1-3\nArchitecture: amd64\n\n",
	})
	distros := append(distroall.Distros(), madeUp())
	for _, tc := range []struct {
		name string
		now  time.Time
		eol  bool
	}{
		{"supported", time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), false},
		{"past end of life", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := resolve("docker-archive:" + image)
			if err != nil {
				t.Fatal(err)
			}
			res, err := scan.Image(ctx, s, db, scan.Options{OS: all.OS(), Distros: distros, Now: func() time.Time { return tc.now }})
			if err != nil {
				t.Fatal(err)
			}
			if d := res.Inventory.Distro; d.Namespace() != "stowos:1" {
				t.Fatalf("distro %+v, want namespace stowos:1", d)
			}
			if res.Status != scan.StatusComplete || len(res.Findings) != 1 {
				t.Fatalf("status %s (%s), %d findings, want COMPLETE with 1", res.Status, res.StatusDescription, len(res.Findings))
			}
			f := res.Findings[0]
			if f.ID != "CVE-2099-0001" || f.Package.Name != "stowlib1" || f.FixedVersion != "1.2-1" || f.URI != "https://security.stowos.example/CVE-2099-0001" {
				t.Errorf("finding %s %s fixed %s uri %s", f.ID, f.Package.Name, f.FixedVersion, f.URI)
			}
			const note = "Stow OS 1 reached end of life after 2026-01-31 (support ended): findings for a discontinued OS are informational."
			if got := strings.Contains(res.StatusDescription, note); got != tc.eol {
				t.Errorf("description %q: end-of-life note present %v, want %v", res.StatusDescription, got, tc.eol)
			}
		})
	}
	// Without the descriptor the same image is an unknown OS.
	s, err := resolve("docker-archive:" + image)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Image(ctx, s, db, scan.Options{OS: all.OS()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != scan.StatusUnsupported || !strings.Contains(res.StatusDescription, `unknown operating system "stow-os"`) {
		t.Errorf("without the descriptor: %s %q, want UNSUPPORTED_IMAGE naming the unknown OS", res.Status, res.StatusDescription)
	}
}

// writeImage writes a one-layer docker-archive holding files.
func writeImage(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range []string{"etc/os-release", "var/lib/dpkg/status"} {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[n])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag("stowos:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
}
