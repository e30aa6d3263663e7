package names

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	packageurl "github.com/package-url/packageurl-go"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

func stowaway() Names { return Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()} }

func TestPURL(t *testing.T) {
	n := stowaway()
	debian := &inventory.Distro{ID: "debian", VersionID: "12", Release: "12"}
	ssl := inventory.Package{Name: "libssl3", Version: "3.0.11-1~deb12u2", Type: inventory.TypeDeb, Arch: "amd64", SourceName: "openssl"}
	bash := inventory.Package{Name: "bash", Version: "1:5.1.8-6.el9", Type: inventory.TypeRPM, Epoch: 1, Arch: "x86_64", SourceName: "bash"}
	lang := func(typ, name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: inventory.Type(typ)}
	}
	for _, tc := range []struct {
		name string
		p    inventory.Package
		d    *inventory.Distro
		want string
	}{
		{"deb with upstream", ssl, debian, "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl"},
		{"no distro", ssl, nil, "pkg:deb/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl"},
		{"rpm epoch as qualifier, namespace from the descriptor", bash, &inventory.Distro{ID: "rhel", VersionID: "9.3", Release: "9"}, "pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&distro=rhel-9.3&epoch=1"},
		{"release when no version id", bash, &inventory.Distro{ID: "ol", Release: "8"}, "pkg:rpm/oracle/bash@5.1.8-6.el9?arch=x86_64&distro=ol-8&epoch=1"},
		{"amazon", bash, &inventory.Distro{ID: "amzn", VersionID: "2023"}, "pkg:rpm/amazon/bash@5.1.8-6.el9?arch=x86_64&distro=amzn-2023&epoch=1"},
		{"an os-release id is not a descriptor id", bash, &inventory.Distro{ID: "oraclelinux", VersionID: "9"}, "pkg:rpm/oraclelinux/bash@5.1.8-6.el9?arch=x86_64&distro=oraclelinux-9&epoch=1"},
		{"apk", lang("apk", "musl", "1.2.4-r2"), &inventory.Distro{ID: "alpine", VersionID: "3.19.1"}, "pkg:apk/alpine/musl@1.2.4-r2?distro=alpine-3.19.1"},
		{"pypi normalised", lang("pypi", "Flask_SQL.Alchemy", "3.1"), debian, "pkg:pypi/flask-sql-alchemy@3.1"},
		{"npm scope", lang("npm", "@babel/core", "7.0.0"), nil, "pkg:npm/%40babel/core@7.0.0"},
		{"npm scope is up to the first slash", lang("npm", "@a/b/c", "1"), nil, "pkg:npm/%40a/b%2Fc@1"},
		{"npm without scope", lang("npm", "left/pad", "1"), nil, "pkg:npm/left%2Fpad@1"},
		{"maven group", lang("maven", "org.apache:commons-text", "1.9"), nil, "pkg:maven/org.apache/commons-text@1.9"},
		{"maven empty group", lang("maven", ":x", "1"), nil, "pkg:maven/:x@1"},
		{"go module path", lang("golang", "golang.org/x/net", "v0.1.0"), nil, "pkg:golang/golang.org/x/net@v0.1.0"},
		{"go stdlib", lang("golang", "stdlib", "go1.21"), nil, "pkg:golang/stdlib@go1.21"},
		{"composer vendor", lang("composer", "monolog/monolog", "3.5.0"), nil, "pkg:composer/monolog/monolog@3.5.0"},
		{"nuget kept", lang("nuget", "Newtonsoft.Json", "13.0.3"), nil, "pkg:nuget/Newtonsoft.Json@13.0.3"},
		{"no namespace rule", lang("cargo", "a/b", "1"), nil, "pkg:cargo/a%2Fb@1"},
		{"unknown type", lang("unknown", "x/y", "1"), debian, "pkg:unknown/x%2Fy@1"},
	} {
		if got := n.PURL(tc.p, tc.d); got != tc.want {
			t.Errorf("%s: PURL = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Without descriptors an OS package's namespace is its distro id and a
	// language name is kept whole.
	if got, want := (Names{}).PURL(bash, &inventory.Distro{ID: "rhel"}), "pkg:rpm/rhel/bash@5.1.8-6.el9?arch=x86_64&distro=rhel&epoch=1"; got != want {
		t.Errorf("zero Names: PURL = %q, want %q", got, want)
	}
	if got, want := (Names{}).PURL(lang("pypi", "A_B", "1"), nil), "pkg:pypi/A_B@1"; got != want {
		t.Errorf("zero Names: PURL = %q, want %q", got, want)
	}
}

func TestNamesBack(t *testing.T) {
	n := stowaway()
	for _, tc := range []struct{ purl, want string }{
		{"pkg:maven/org.apache/commons-text@1.9", "org.apache:commons-text"},
		{"pkg:npm/%40babel/core@7.0.0", "@babel/core"},
		{"pkg:golang/golang.org/x/net@v0.1.0", "golang.org/x/net"},
		{"pkg:deb/debian/libc6@2.36", "libc6"},
		{"pkg:unknown/ns/x@1", "ns/x"},
		{"pkg:pypi/requests@2", "requests"},
	} {
		pu, err := packageurl.FromString(tc.purl)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.PackageName(pu); got != tc.want {
			t.Errorf("PackageName(%s) = %q, want %q", tc.purl, got, tc.want)
		}
	}
	type group struct {
		Group, Name string
		OK          bool
	}
	for _, tc := range []struct {
		p    inventory.Package
		want group
	}{
		{inventory.Package{Type: "maven", Name: "org.apache:commons-text"}, group{"org.apache", "commons-text", true}},
		{inventory.Package{Type: "maven", Name: "plain"}, group{"", "plain", false}},
		{inventory.Package{Type: "composer", Name: "monolog/monolog"}, group{"", "monolog/monolog", false}},
	} {
		var got group
		got.Group, got.Name, got.OK = n.ComponentGroup(tc.p)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ComponentGroup(%+v) (-want +got):\n%s", tc.p, d)
		}
	}
}

func TestPackageManagerAndDatabase(t *testing.T) {
	n := stowaway()
	for _, tc := range []struct {
		typ  inventory.Type
		path string
		want string
	}{
		{"deb", "var/lib/dpkg/status", "OS"},
		{"apk", "lib/apk/db/installed", "OS"},
		{"rpm", "var/lib/rpm/rpmdb.sqlite", "OS"},
		{"pypi", "usr/lib/python3/site-packages/requests-2.0.dist-info/METADATA", "PYTHONPKG"},
		{"pypi", "app/requirements-dev.txt", "PIP"},
		{"pypi", "app/Pipfile.lock", "PIPENV"},
		{"pypi", "app/poetry.lock", "POETRY"},
		{"npm", "app/package-lock.json", "NPM"},
		{"npm", "app/yarn.lock", "YARN"},
		{"npm", "app/pnpm-lock.yaml", "NPM"},
		{"npm", "app/node_modules/left-pad/package.json", "NODEPKG"},
		{"maven", "app/lib/outer.jar!inner.jar", "JAR"},
		{"gem", "app/Gemfile.lock", "BUNDLER"},
		{"gem", "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec", "GEMSPEC"},
		{"golang", "src/go.mod", "GOMOD"},
		{"golang", "usr/local/bin/app", "GOBINARY"},
		{"nuget", "app/App.deps.json", "DOTNET_CORE"},
		{"nuget", "app/packages.lock.json", "NUGET"},
		{"cargo", "app/Cargo.lock", "CARGO"},
		{"composer", "app/composer.lock", "COMPOSER"},
		{"other", "x", ""},
	} {
		got, ok := n.PackageManager(inventory.Package{Type: tc.typ, Path: tc.path})
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("PackageManager(%s %s) = %q, %v; want %q", tc.typ, tc.path, got, ok, tc.want)
		}
	}
	for id, want := range map[string]string{
		"CVE-2024-1": "NVD", "GHSA-xxxx": "GitHub Advisory Database", "PYSEC-2024-1": "PyPI Advisory Database",
		"GO-2024-1": "Go Vulnerability Database", "RUSTSEC-2024-1": "RustSec", "DSA-5000-1": "Debian", "DLA-1-1": "Debian",
		"USN-1-1": "Ubuntu", "RHSA-2024:1": "Red Hat", "ALAS2-2024-1": "Amazon Linux", "ELSA-2024-1": "Oracle Linux", "MAL-2024-1": "OSV",
	} {
		if got := n.AdvisoryDatabase(id); got != want {
			t.Errorf("AdvisoryDatabase(%s) = %q, want %q", id, got, want)
		}
	}
	if got := (Names{}).AdvisoryDatabase("USN-1-1"); got != "OSV" {
		t.Errorf("zero Names: AdvisoryDatabase(USN-1-1) = %q, want OSV", got)
	}
}

func TestFixChannel(t *testing.T) {
	n := stowaway()
	for _, tc := range []struct {
		n    Names
		ch   advisory.FixChannel
		want distro.FixChannel
	}{
		{n, advisory.ChannelESMApps, distro.FixChannel{Channel: advisory.ChannelESMApps, Service: "Ubuntu Pro", Enable: "attach the machine to an Ubuntu Pro subscription and enable esm-apps"}},
		{n, "fips", distro.FixChannel{Channel: "fips", Service: "a separate channel", Enable: "enable fips"}},
		{Names{}, advisory.ChannelESMInfra, distro.FixChannel{Channel: advisory.ChannelESMInfra, Service: "a separate channel", Enable: "enable esm-infra"}},
	} {
		if d := cmp.Diff(tc.want, tc.n.FixChannel(tc.ch)); d != "" {
			t.Errorf("FixChannel(%s) (-want +got):\n%s", tc.ch, d)
		}
	}
	for _, ch := range advisory.FixChannels() {
		if n.FixChannel(ch).Service == "a separate channel" {
			t.Errorf("no distribution declares fix channel %s", ch)
		}
	}
}
