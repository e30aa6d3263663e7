package java

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// entry is one file of a generated archive.
type entry struct {
	name   string
	data   []byte
	stored bool
}

func pom(g, a, v string) entry {
	return entry{name: "META-INF/maven/" + g + "/" + a + "/pom.properties", data: []byte("#Created by Apache Maven 3.6.3\nversion=" + v + "\ngroupId=" + g + "\nartifactId=" + a + "\n")}
}

func manifest(lines string) entry {
	return entry{name: "META-INF/MANIFEST.MF", data: []byte("Manifest-Version: 1.0\r\n" + lines + "\r\n")}
}

func jar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
		if e.stored {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func nested(name string, data []byte, stored bool) entry {
	return entry{name: name, data: data, stored: stored}
}

// fixtures returns the archives of testdata/archives/root.
func fixtures(t testing.TB) map[string][]byte {
	deeper := jar(t, pom("org.example", "deeper", "3.0"))
	inner := jar(t, pom("org.example", "inner-deflated", "2.0"), nested("lib/deeper-3.0.jar", deeper, false))
	return map[string][]byte{
		"opt/app/lib/log4j-core-2.14.1.jar": jar(t,
			manifest("Implementation-Title: Apache Log4j Core\r\nImplementation-Version: 2.14.1\r\nImplementation-Vendor-Id: org.apache.logging.log4j"),
			pom("org.apache.logging.log4j", "log4j-core", "2.14.1"),
			entry{name: "org/apache/logging/log4j/core/lookup/JndiLookup.class", data: []byte("placeholder")}),
		"opt/app/lib/commons-lang-2.6.jar": jar(t,
			manifest("Implementation-Title: Commons Lang\r\nImplementation-Version: 2.6\r\nImplementation-Vendor-Id: commons-lang\r\nBundle-SymbolicName: org.apache.commons.lang")),
		"opt/app/lib/guava-31.1-jre.jar": jar(t,
			manifest("Bundle-SymbolicName: com.google.guava\r\nBundle-Version: 31.1.0.jre\r\nAutomatic-Module-Name: com.google.common")),
		"opt/app/lib/org.eclipse.osgi_3.7.1.jar": jar(t,
			manifest("Bundle-SymbolicName: org.eclipse.osgi; singleton:=true\r\nBundle-Version: 3.7.1.v20110613\r\nBundle-Name: OSGi System Bundle\r\n long continued name")),
		"opt/app/lib/jackson-core-2.9.8.jar": jar(t,
			manifest("Bundle-SymbolicName: com.fasterxml.jackson.core.jackson-core\r\nBundle-Version: 2.9.8")),
		"opt/app/lib/plain-lib-1.0.0.jar": jar(t, entry{name: "plain/Lib.class", data: []byte("x")}),
		"opt/app/lib/noversion.jar":       jar(t, entry{name: "x/Y.class", data: []byte("x")}),
		"opt/app/lib/bad-pom-1.1.jar": jar(t,
			entry{name: "META-INF/maven/g/a/pom.properties", data: []byte("groupId=g\nartifactId=a\n")}),
		"opt/app/app.jar": jar(t,
			manifest("Implementation-Title: fixture-boot-app\r\nImplementation-Version: 0.0.1-SNAPSHOT\r\nImplementation-Vendor-Id: com.example"),
			pom("com.example", "fixture-boot-app", "0.0.1-SNAPSHOT"),
			nested("BOOT-INF/lib/snakeyaml-1.26.jar", jar(t, pom("org.yaml", "snakeyaml", "1.26")), true),
			nested("BOOT-INF/lib/inner-deflated-2.0.jar", inner, false),
			nested("BOOT-INF/lib/shaded-1.0.jar", jar(t, pom("com.example", "shaded", "1.0"), pom("com.google.guava", "guava", "19.0"), pom("org.slf4j", "slf4j-api", "1.7.30")), true),
			nested("BOOT-INF/lib/corrupt-1.0.jar", []byte("PK\x03\x04 not really a zip"), true),
			nested("BOOT-INF/lib/", nil, true)),
		"opt/app/web.war": jar(t,
			nested("WEB-INF/lib/jackson-databind-2.9.8.jar", jar(t, pom("com.fasterxml.jackson.core", "jackson-databind", "2.9.8")), false),
			entry{name: "WEB-INF/web.xml", data: []byte("<web-app/>")}),
		"opt/app/broken.jar": []byte("this is not a zip file at all"),
		// 20 central-directory entries over one deflate stream: refused.
		"opt/app/lib/overlap-1.0.jar": overlappingZip(zeroStream(t, 64<<10), 64<<10, 20, func(i int) string { return fmt.Sprintf("META-INF/maven/g/a%d/pom.properties", i) }),
	}
}

// TestFixtures checks that the committed archives under
// testdata/archives/root hold what fixtures() describes (entry names and
// contents, not bytes, so a new compress/flate does not break it), and
// rewrites them with -update.
func TestFixtures(t *testing.T) {
	root := filepath.Join("testdata", "archives", "root")
	for p, b := range fixtures(t) {
		fp := filepath.Join(root, filepath.FromSlash(p))
		if *update {
			if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(fp)
		if err != nil {
			t.Fatalf("%v (run with -update to generate)", err)
		}
		if d := cmp.Diff(contents(t, b), contents(t, have)); d != "" {
			t.Errorf("%s differs from its generator (-generated +committed):\n%s", p, d)
		}
	}
}

// contents lists an archive's entries recursively as "name: content" (or
// the raw bytes when it is not a zip).
func contents(t *testing.T, b []byte) []string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return []string{fmt.Sprintf("raw %q", b)}
	}
	var out []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if isArchive(f.Name) {
			for _, s := range contents(t, data) {
				out = append(out, f.Name+"!"+s)
			}
			continue
		}
		out = append(out, fmt.Sprintf("%s: %q", f.Name, data))
	}
	sort.Strings(out)
	return out
}
