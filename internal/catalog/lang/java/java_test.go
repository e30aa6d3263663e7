package java

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/internal/langtest"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.json and the generated archives")

func TestRequired(t *testing.T) {
	fsys := fstest.MapFS{"f": {Mode: 0o644}, "d": {Mode: 0o755 | 1<<31}}
	file, _ := fsys.Stat("f")
	dir, _ := fsys.Stat("d")
	tests := []struct {
		path string
		dir  bool
		want bool
	}{
		{"opt/app/app.jar", false, true},
		{"opt/app/APP.JAR", false, true},
		{"opt/app/app.jar", true, false},
		{"srv/ROOT.war", false, true},
		{"srv/app.ear", false, true},
		{"var/jenkins/plugins/git.jpi", false, true},
		{"var/jenkins/plugins/git.hpi", false, true},
		{"opt/app/.jar", false, false},
		{"opt/app/app.jar.sha1", false, false},
		{"opt/app/app.zip", false, false},
		{"opt/app/classes/App.class", false, false},
	}
	for _, tt := range tests {
		info := file
		if tt.dir {
			info = dir
		}
		if got := New().Required(tt.path, info); got != tt.want {
			t.Errorf("Required(%q, dir=%v) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
}

func TestCases(t *testing.T) {
	for _, dir := range langtest.Cases(t) {
		t.Run(dir, func(t *testing.T) { langtest.Case(t, New(), dir, *update) })
	}
}

func TestSplitFileName(t *testing.T) {
	tests := []struct{ in, artifact, version string }{
		{"log4j-core-2.14.1.jar", "log4j-core", "2.14.1"},
		{"spring-core-5.2.0.RELEASE.jar", "spring-core", "5.2.0.RELEASE"},
		{"guava-31.1-jre.jar", "guava", "31.1-jre"},
		{"log4j-1.2-api-2.17.1.jar", "log4j-1.2-api", "2.17.1"},
		{"org.eclipse.osgi_3.7.1.jar", "org.eclipse.osgi", "3.7.1"},
		{"app.jar", "app", ""},
		{"-1.0.jar", "-1.0", ""},
		{"x", "x", ""},
	}
	for _, tt := range tests {
		a, v := SplitFileName(tt.in)
		if a != tt.artifact || v != tt.version {
			t.Errorf("SplitFileName(%q) = %q, %q; want %q, %q", tt.in, a, v, tt.artifact, tt.version)
		}
	}
}

func TestIdentify(t *testing.T) {
	tests := []struct {
		name string
		m    Manifest
		file string
		want string // name@version, "" for none
	}{
		{"vendor id and symbolic name", Manifest{"Implementation-Vendor-Id": "org.apache.logging.log4j", "Bundle-SymbolicName": "org.apache.logging.log4j.log4j-core", "Implementation-Version": "2.14.1"}, "x.jar", "org.apache.logging.log4j:log4j-core@2.14.1"},
		{"symbolic name ends in artifact", Manifest{"Bundle-SymbolicName": "com.fasterxml.jackson.core.jackson-core", "Bundle-Version": "2.9.8"}, "jackson-core-2.9.8.jar", "jackson-core@2.9.8"},
		{"symbolic name equal to vendor id", Manifest{"Implementation-Vendor-Id": "com.google.guava", "Bundle-SymbolicName": "com.google.guava", "Bundle-Version": "31.1.0.jre"}, "guava-31.1-jre.jar", "com.google.guava:guava@31.1.0.jre"},
		{"no group", Manifest{"Bundle-SymbolicName": "com.google.guava", "Bundle-Version": "31.1.0.jre"}, "guava-31.1-jre.jar", "guava@31.1.0.jre"},
		{"implementation beats bundle version", Manifest{"Implementation-Version": "1.0", "Bundle-Version": "1.0.0.v1"}, "a.jar", "a@1.0"},
		{"specification version", Manifest{"Specification-Version": "3.1"}, "servlet-api.jar", "servlet-api@3.1"},
		{"file name only", nil, "plain-lib-1.0.0.jar", "plain-lib@1.0.0"},
		{"nothing", nil, "app.jar", ""},
		{"placeholder version with space, kept as written", Manifest{"Implementation-Version": " see pom "}, "app.jar", "app@see pom"},
	}
	for _, tt := range tests {
		p, ok := identify(tt.m, tt.file)
		got := ""
		if ok {
			got = p.Name + "@" + p.Version
		}
		if got != tt.want {
			t.Errorf("%s: identify = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// small are limits small enough to test quickly.
var small = limits{nested: 1 << 20, totalNested: 4 << 20, depth: 4}

func parse(t *testing.T, b []byte) ([]string, []string, error) {
	t.Helper()
	pkgs, warns, err := parseArchive(context.Background(), bytes.NewReader(b), int64(len(b)), "a.jar", small)
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.Path)
	}
	return got, warns, err
}

// TestZipBomb: a nested archive that claims (honestly) a huge size is
// skipped before inflating anything; one whose header lies about its size
// is stopped by archive/zip's size check, not inflated past it.
func TestZipBomb(t *testing.T) {
	zeros := make([]byte, small.nested+1)
	honest := jar(t, pom("g", "outer", "1"), nested("lib/bomb-1.0.jar", zeros, false))
	got, warns, err := parse(t, honest)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"g:outer@1 a.jar"}, got); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "a.jar!lib/bomb-1.0.jar: skipped: input too large") {
		t.Errorf("warnings = %q, want one naming the bomb", warns)
	}

	// A deflated entry whose header claims 100 bytes but inflates to 1 MiB.
	var comp bytes.Buffer
	zw := zip.NewWriter(&comp)
	w, _ := zw.Create("x")
	big := make([]byte, 1<<20)
	w.Write(big)
	zw.Close()
	zr, _ := zip.NewReader(bytes.NewReader(comp.Bytes()), int64(comp.Len()))
	raw, _ := zr.File[0].OpenRaw()
	rawBytes, _ := io.ReadAll(raw)
	var lying bytes.Buffer
	zw = zip.NewWriter(&lying)
	rw, err := zw.CreateRaw(&zip.FileHeader{Name: "lib/liar-1.0.jar", Method: zip.Deflate, CompressedSize64: uint64(len(rawBytes)), UncompressedSize64: 100, CRC32: crc32.ChecksumIEEE(big[:100])})
	if err != nil {
		t.Fatal(err)
	}
	rw.Write(rawBytes)
	zw.Close()
	got, warns, err = parse(t, lying.Bytes())
	if err != nil || len(got) != 0 {
		t.Fatalf("got %q, %v; want no package and no error", got, err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "a.jar!lib/liar-1.0.jar: inflate") {
		t.Errorf("warnings = %q, want one about inflating the liar", warns)
	}
}

func TestDepthLimit(t *testing.T) {
	b := jar(t, pom("g", "level6", "6"))
	for i := 5; i >= 1; i-- {
		b = jar(t, pom("g", "level"+string(rune('0'+i)), "1"), nested("n.jar", b, i%2 == 0))
	}
	got, warns, err := parse(t, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"g:level1@1 a.jar", "g:level2@1 a.jar!n.jar", "g:level3@1 a.jar!n.jar!n.jar", "g:level4@1 a.jar!n.jar!n.jar!n.jar", "g:level5@1 a.jar!n.jar!n.jar!n.jar!n.jar"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("packages (-want +got):\n%s", d)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "nested more than 4 deep") {
		t.Errorf("warnings = %q", warns)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := jar(t, pom("g", "a", "1"))
	if _, _, err := ParseArchive(ctx, bytes.NewReader(b), int64(len(b)), "a.jar"); err == nil {
		t.Error("no error from a canceled context")
	}
}

func TestSharedJavaGo(t *testing.T) {
	got := langtest.Image(t, New(), "lang-java-go.tar")
	langtest.Expect(t, got,
		"org.apache.logging.log4j:log4j-core@2.14.1 opt/app/lib/log4j-core-2.14.1.jar",
		"org.apache.logging.log4j:log4j-api@2.14.1 opt/app/lib/log4j-api-2.14.1.jar",
		"com.fasterxml.jackson.core:jackson-databind@2.9.8 opt/app/lib/jackson-databind-2.9.8.jar",
		"com.example:fixture-boot-app@0.0.1-SNAPSHOT opt/app/app.jar",
		"org.yaml:snakeyaml@1.26 opt/app/app.jar!BOOT-INF/lib/snakeyaml-1.26.jar",
		"org.springframework:spring-core@5.2.0.RELEASE opt/app/app.jar!BOOT-INF/lib/spring-core-5.2.0.RELEASE.jar",
		"org.apache.commons:commons-text@1.9 opt/app/app.jar!BOOT-INF/lib/commons-text-1.9.jar",
	)
	for p, r := range got {
		if len(r.Warnings) > 0 || r.Error != "" {
			t.Errorf("%s: warnings %q, error %q", p, r.Warnings, r.Error)
		}
	}
	if n := len(langtest.Packages(got)); n != 7 {
		t.Errorf("got %d packages, want 7: %q", n, langtest.Packages(got))
	}
}

func archiveSeeds(f *testing.F) [][]byte {
	return langtest.Seeds(f, func(p string) bool { return isArchive(p) || strings.HasSuffix(p, "broken.jar") })
}

func FuzzParseArchive(f *testing.F) {
	for _, b := range archiveSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, _, _ := ParseArchive(context.Background(), bytes.NewReader(b), int64(len(b)), "f.jar")
		checkPkgs(t, pkgs)
	})
}

// metaSeeds returns the entries of the testdata archives whose name has
// the suffix.
func metaSeeds(f *testing.F, suffix string) [][]byte {
	var out [][]byte
	var walk func(b []byte)
	walk = func(b []byte) {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, e := range zr.File {
			rc, err := e.Open()
			if err != nil {
				continue
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			if strings.HasSuffix(e.Name, suffix) {
				out = append(out, data)
			}
			walk(data)
		}
	}
	for _, b := range archiveSeeds(f) {
		walk(b)
	}
	if len(out) == 0 {
		f.Fatalf("no %s in the testdata archives", suffix)
	}
	return out
}

func FuzzParseManifest(f *testing.F) {
	for _, b := range metaSeeds(f, "MANIFEST.MF") {
		f.Add(b, "guava-31.1-jre.jar")
	}
	f.Fuzz(func(t *testing.T, b []byte, file string) {
		m, _ := ParseManifest(bytes.NewReader(b))
		if p, ok := identify(m, file); ok {
			checkPkgs(t, []inventory.Package{p})
		}
	})
}

func FuzzParsePomProperties(f *testing.F) {
	for _, b := range metaSeeds(f, "pom.properties") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, warns, err := ParsePomProperties(bytes.NewReader(b))
		if err == nil {
			checkPkgs(t, []inventory.Package{p})
			if (p.Version == "") != (len(warns) == 1) {
				t.Errorf("version %q with warnings %q", p.Version, warns)
			}
		}
	})
}

func checkPkgs(t *testing.T, pkgs []inventory.Package) {
	for _, p := range pkgs {
		if p.Name == "" || p.Version != strings.TrimSpace(p.Version) || p.Type != maven.Type {
			t.Errorf("bad package %+v", p)
		}
	}
}
