package indexer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestSharedImagesPackageCounts indexes every shared image with the
// registered OS catalogers and compares the number of OS packages with the
// count that images/manifest.json records for the image's package DB (each
// checked there with dpkg/apk record counts or rpm -qa).
func TestSharedImagesPackageCounts(t *testing.T) {
	dir := testutil.Shared(t, "images")
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Images []struct {
			File      string `json:"file"`
			PackageDB string `json:"package_db"`
			Packages  int    `json:"packages"`
		} `json:"images"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// manifest.json counts rpm -qa lines, which include gpg-pubkey
	// pseudo-packages (imported signing keys); Stowaway skips them. The rpm
	// cataloger's own test checks these numbers against rpm -qa.
	pubkeys := map[string]int{"amazonlinux-2023.oci": 1}
	for _, img := range m.Images {
		if img.PackageDB == "" || img.PackageDB == "-" {
			continue
		}
		t.Run(img.File, func(t *testing.T) {
			src, err := source.Resolve(context.Background(), filepath.Join(dir, img.File), source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := Index(context.Background(), src, Options{Distros: distroall.Distros(), OS: all.OS()})
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			for _, p := range inv.Packages {
				if p.Type.IsOS() {
					got++
				}
			}
			if got+pubkeys[img.File] != img.Packages {
				t.Errorf("%s: %d OS packages, manifest.json says %d (%s)", img.File, got, img.Packages, img.PackageDB)
			}
		})
	}
}
