package sbom

import (
	"time"

	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/cargo"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/generic"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

// testNames are Stowaway's descriptors, as the commands hand them over.
var testNames = names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}

// fixture is a representative inventory: OS packages of every type (deb,
// apk and rpm, one with an epoch and one with a modularity label), language
// packages of every ecosystem (npm scoped, maven, golang and the Go stdlib,
// pypi, gem, cargo, nuget, composer), licenses that are SPDX ids, an SPDX
// expression, free text and several at once, the same package found at two
// paths, and one package whose PURL the driver left empty. Packages are given
// out of order on purpose.
func fixture() *inventory.Inventory {
	distro := &inventory.Distro{
		ID: "rhel", VersionID: "9.3", Release: "9", Codename: "Plow",
		PrettyName: "Red Hat Enterprise Linux 9.3 (Plow)", Status: inventory.OSSupported,
	}
	const (
		base = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		app  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	)
	pkgs := []inventory.Package{
		{Name: "openssl-libs", Version: "1:3.0.7-24.el9", Type: inventory.TypeRPM, Epoch: 1, Release: "24.el9", Arch: "x86_64",
			SourceName: "openssl", SourceVersion: "3.0.7-24.el9", Licenses: []string{"ASL 2.0"},
			Path: "var/lib/rpm/rpmdb.sqlite", Layer: base, Cataloger: "rpm"},
		{Name: "nodejs", Version: "1:18.19.0-1.module+el9.3.0+21000+83f3b9ce", Type: inventory.TypeRPM, Epoch: 1,
			Release: "1.module+el9.3.0+21000+83f3b9ce", Arch: "x86_64", SourceName: "nodejs",
			SourceVersion: "18.19.0-1.module+el9.3.0+21000+83f3b9ce", Module: "nodejs:18:9030020231120:83f3b9ce",
			Licenses: []string{"MIT and ASL 2.0 and ISC and BSD"}, Path: "var/lib/rpm/rpmdb.sqlite", Layer: app, Cataloger: "rpm"},
		{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl",
			SourceVersion: "3.0.11-1~deb12u2", Path: "var/lib/dpkg/status", Layer: base, Cataloger: "dpkg"},
		{Name: "busybox", Version: "1.36.1-r15", Type: inventory.TypeAPK, Arch: "x86_64", SourceName: "busybox",
			SourceVersion: "1.36.1-r15", Licenses: []string{"GPL-2.0-only"}, Path: "lib/apk/db/installed", Layer: base, Cataloger: "apk"},
		{Name: "@babel/core", Version: "7.23.0", Type: npm.Type, Licenses: []string{"MIT"},
			Path: "app/node_modules/@babel/core/package.json", Layer: app, Cataloger: "npm"},
		{Name: "lodash", Version: "4.17.21", Type: npm.Type, Licenses: []string{"MIT"},
			Path: "app/package-lock.json", Layer: app, Cataloger: "npm"},
		{Name: "lodash", Version: "4.17.21", Type: npm.Type, Licenses: []string{"MIT"},
			Path: "app/node_modules/lodash/package.json", Layer: app, Cataloger: "npm"},
		{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Type: maven.Type,
			Licenses: []string{"Apache-2.0"}, Path: "app/lib/app.war!WEB-INF/lib/log4j-core-2.14.1.jar", Layer: app, Cataloger: "java"},
		{Name: "github.com/stretchr/testify", Version: "v1.8.4", Type: golang.Type,
			Path: "usr/local/bin/app", Layer: app, Cataloger: "gobinary"},
		{Name: "stdlib", Version: "go1.21.5", Type: golang.Type, Path: "usr/local/bin/app", Layer: app, Cataloger: "gobinary"},
		{Name: "requests", Version: "2.31.0", Type: pypi.Type, Licenses: []string{"Apache-2.0 OR MIT"},
			Path: "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA", Layer: app, Cataloger: "python"},
		{Name: "rails", Version: "7.1.2", Type: rubygems.Type, Licenses: []string{"MIT", "Ruby's own license & terms"},
			Path: "usr/local/bundle/specifications/rails-7.1.2.gemspec", Layer: app, Cataloger: "gem"},
		{Name: "serde", Version: "1.0.193", Type: cargo.Type, Licenses: []string{"MIT OR Apache-2.0", "BSD-3-Clause"},
			Path: "app/Cargo.lock", Layer: app, Cataloger: "cargo"},
		{Name: "Newtonsoft.Json", Version: "13.0.3", Type: nuget.Type, Path: "app/app.deps.json", Layer: app, Cataloger: "dotnet"},
		{Name: "monolog/monolog", Version: "3.5.0", Type: composer.Type, Path: "app/composer.lock", Layer: app, Cataloger: "composer"},
		{Name: "openssl", Version: "1.1.1w", Type: generic.Type, Path: "opt/app/lib/libssl.so.1.1", Layer: app, Cataloger: "binary-classifier",
			CPEs: []string{"cpe:2.3:a:openssl:openssl:1.1.1w:*:*:*:*:*:*:*"}},
		{Name: "libcurl", Version: "8.4.0", Type: generic.Type, Path: "opt/app/lib/libcurl.so.4", Layer: app, Cataloger: "binary-classifier",
			CPEs: []string{"cpe:2.3:a:haxx:libcurl:8.4.0:*:*:*:*:*:*:*", "cpe:2.3:a:haxx:curl:8.4.0:*:*:*:*:*:*:*"}},
	}
	// One image never holds deb, apk and rpm databases at once; give each OS
	// package the PURL its own distribution would.
	purlDistro := map[inventory.Type]*inventory.Distro{
		inventory.TypeDeb: {ID: "debian", VersionID: "12", Release: "12"},
		inventory.TypeAPK: {ID: "alpine", VersionID: "3.19.1", Release: "3.19"},
	}
	for i := range pkgs {
		d, ok := purlDistro[pkgs[i].Type]
		if !ok {
			d = distro
		}
		pkgs[i].PURL = testNames.PURL(pkgs[i], d)
	}
	// The driver forgot this one: Encode must compute it.
	pkgs = append(pkgs, inventory.Package{Name: "zlib", Version: "1.2.13-r1", Type: inventory.TypeAPK, Arch: "x86_64",
		SourceName: "zlib", SourceVersion: "1.2.13-r1", Licenses: []string{"Zlib"}, Path: "lib/apk/db/installed", Layer: base, Cataloger: "apk"})
	return &inventory.Inventory{
		Source: inventory.Source{
			Ref:          "registry.example.com/team/app:1.0",
			Kind:         "registry",
			Digest:       "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			ImageID:      "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			Tags:         []string{"registry.example.com/team/app:1.0", "registry.example.com/team/app:latest"},
			OS:           "linux",
			Architecture: "amd64",
			Author:       "Team App <app@example.com>",
			Layers: []inventory.Layer{
				{Digest: "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", DiffID: base, Size: 31457280,
					MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"},
				{Digest: "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", DiffID: app, Size: 1048576,
					MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"},
			},
		},
		Distro:   distro,
		Packages: pkgs,
		Relationships: []inventory.Relationship{
			{Path: "app/package-lock.json", To: inventory.PackageRef{Name: "lodash", Version: "4.17.21"}},
			{Path: "var/lib/rpm/rpmdb.sqlite", From: inventory.PackageRef{Name: "nodejs", Version: "1:18.19.0-1.module+el9.3.0+21000+83f3b9ce"}, To: inventory.PackageRef{Name: "openssl-libs", Version: "1:3.0.7-24.el9"}},
			{Path: "lib/apk/db/installed", From: inventory.PackageRef{Name: "busybox", Version: "1.36.1-r15"}, To: inventory.PackageRef{Name: "zlib", Version: "1.2.13-r1"}},
			// Dangling: Encode drops it.
			{Path: "lib/apk/db/installed", From: inventory.PackageRef{Name: "busybox", Version: "1.36.1-r15"}, To: inventory.PackageRef{Name: "gone", Version: "1"}},
		},
		Catalogers: []inventory.CatalogerInfo{
			{Name: "rpm", Version: 1}, {Name: "dpkg", Version: 2}, {Name: "apk", Version: 1}, {Name: "npm", Version: 3},
		},
		Warnings:           []string{"app/broken/package.json: invalid character '}' looking for beginning of value"},
		OSDatabaseProblems: []string{"var/lib/dpkg/status.d is a symlink to /nowhere, which is not a file in the image: OS packages from it cannot be scanned"},
		CreatedAt:          time.Date(2024, 5, 1, 12, 34, 56, 789000000, time.UTC),
	}
}
