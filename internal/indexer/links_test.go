package indexer

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/source"
)

const dpkgStanza = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n\n"

// TestPackageDBThroughLinks indexes root directories whose dpkg database
// is reached through symlinks, as dpkg would read it, and names the links
// that cannot be followed.
func TestPackageDBThroughLinks(t *testing.T) {
	type file struct{ path, body, link string }
	osRelease := file{path: "etc/os-release", body: "ID=debian\nVERSION_ID=\"12\"\n"}
	tests := []struct {
		name     string
		files    []file
		packages []string
		warnings []string
		problems []string
	}{
		{name: "status linked inside the root",
			files:    []file{osRelease, {path: "opt/dpkg/status", body: dpkgStanza}, {path: "var/lib/dpkg/status", link: "/opt/dpkg/status"}},
			packages: []string{"libc6 2.36-9 var/lib/dpkg/status"},
			warnings: []string{"var/lib/dpkg/status is a symlink to /opt/dpkg/status: read through the link"}},
		{name: "parent directory linked inside the root",
			files:    []file{osRelease, {path: "srv/dpkgdb/status", body: dpkgStanza}, {path: "var/lib/dpkg", link: "../../srv/dpkgdb"}},
			packages: []string{"libc6 2.36-9 var/lib/dpkg/status"},
			warnings: []string{"var/lib/dpkg is a symlink to ../../srv/dpkgdb: read through the link"}},
		{name: "status.d linked inside the root",
			files:    []file{osRelease, {path: "srv/d/libc6", body: dpkgStanza}, {path: "var/lib/dpkg/status.d", link: "/srv/d"}},
			packages: []string{"libc6 2.36-9 var/lib/dpkg/status.d/libc6"},
			warnings: []string{"var/lib/dpkg/status.d is a symlink to /srv/d: read through the link"}},
		{name: "status linked out of the root",
			files: []file{osRelease, {path: "var/lib/dpkg/status", link: "../../../../../host/status"}},
			warnings: []string{"var/lib/dpkg/status is a symlink to ../../../../../host/status, which leads out of the image root: not followed, so OS packages from it cannot be scanned",
				"debian 12 detected but no OS package database was found (dpkg status, apk installed or rpmdb): OS packages cannot be scanned"},
			problems: []string{"var/lib/dpkg/status is a symlink to ../../../../../host/status, which leads out of the image root: not followed, so OS packages from it cannot be scanned",
				"debian 12 detected but no OS package database was found (dpkg status, apk installed or rpmdb): OS packages cannot be scanned"}},
		{name: "status linked to nothing",
			files: []file{osRelease, {path: "var/lib/dpkg/status", link: "/nowhere/status"}},
			warnings: []string{"var/lib/dpkg/status is a symlink to /nowhere/status, which is not a file in the image: OS packages from it cannot be scanned",
				"debian 12 detected but no OS package database was found (dpkg status, apk installed or rpmdb): OS packages cannot be scanned"},
			problems: []string{"var/lib/dpkg/status is a symlink to /nowhere/status, which is not a file in the image: OS packages from it cannot be scanned",
				"debian 12 detected but no OS package database was found (dpkg status, apk installed or rpmdb): OS packages cannot be scanned"}},
		{name: "a usr-merge link to where no database is: no word",
			files:    []file{osRelease, {path: "var/lib/dpkg/status", body: dpkgStanza}, {path: "usr/lib/x", body: "x"}, {path: "lib", link: "usr/lib"}},
			packages: []string{"libc6 2.36-9 var/lib/dpkg/status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tc.files {
				p := filepath.Join(root, filepath.FromSlash(f.path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				var err error
				if f.link != "" {
					err = os.Symlink(f.link, p)
				} else {
					err = os.WriteFile(p, []byte(f.body), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			src, err := source.Resolve(context.Background(), "dir:"+root, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := Index(context.Background(), src, Options{Distros: distroall.Distros(), OS: all.OS()})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range inv.Packages {
				got = append(got, p.Name+" "+p.Version+" "+p.Path)
			}
			if d := cmp.Diff(tc.packages, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.warnings, inv.Warnings, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.problems, inv.OSDatabaseProblems, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("OS database problems (-want +got):\n%s", d)
			}
		})
	}
}
