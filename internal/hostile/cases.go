package hostile

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
)

// Case is one hostile image and what a scan of it must do.
type Case struct {
	Name string
	// Before, when set, is scanned first with the same layer cache (and, in
	// `serve`, pushed first): the attacker's image of a poisoning pair, or
	// the clean image an attacker hides behind. BeforeErr is what its scan
	// must fail with ("" when it completes).
	Before    func() (v1.Image, error)
	BeforeErr string
	// Image is the image whose scan is judged.
	Image func() (v1.Image, error)
	// Err is the error the scan must fail with: the full text of the cause
	// (the CLI prefixes the source). Empty when the scan must complete.
	Err string
	// Clean, when set, is the image without the attack: the scan must
	// report exactly the findings of Clean scanned alone with no cache.
	Clean func() (v1.Image, error)
	// Findings are "ID package" pairs the completed scan must report (all of
	// them, and no others).
	Findings []string
	// Warnings are texts the CLI's warnings (stderr) must contain.
	Warnings []string
	// Description are texts the scan's status description (ECR's
	// imageScanStatus.description, in the CLI's JSON and in serve) must
	// contain.
	Description []string
	// Enhanced scans language packages too.
	Enhanced bool
	// Heavy marks cases that cost seconds (a 1 GiB expansion): run once per
	// path, not once per source form.
	Heavy bool
}

const osRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"

// apkRecord is one package of lib/apk/db/installed.
func apkRecord(name, version, origin string) string {
	return fmt.Sprintf("C:Q1fixture%s=\nP:%s\nV:%s\nA:x86_64\nS:1000\nI:2000\nT:%s fixture\nL:MIT\no:%s\n\n", name, name, version, name, origin)
}

// alpineRoot is an Alpine 3.19 root whose apk DB holds the given records.
func alpineRoot(records ...string) []Entry {
	return []Entry{
		Dir("etc/"), File("etc/os-release", osRelease), File("etc/alpine-release", "3.19.1\n"),
		Dir("lib/"), Dir("lib/apk/"), Dir("lib/apk/db/"), File("lib/apk/db/installed", strings.Join(records, "")),
	}
}

// Vulnerable is an Alpine layer with busybox 1.36.1-r15 (BusyboxCVE).
func Vulnerable() Layer {
	return GzipLayer(alpineRoot(apkRecord("busybox", "1.36.1-r15", "busybox"), apkRecord("busybox-binsh", "1.36.1-r15", "busybox"))...)
}

// Harmless is an Alpine layer with busybox 1.36.1-r17 (fixed).
func Harmless() Layer {
	return GzipLayer(alpineRoot(apkRecord("busybox", "1.36.1-r17", "busybox"), apkRecord("busybox-binsh", "1.36.1-r17", "busybox"))...)
}

// VulnerableFindings are the findings of Vulnerable.
var VulnerableFindings = []string{BusyboxCVE + " busybox", BusyboxCVE + " busybox-binsh"}

func imageOf(layers ...Layer) func() (v1.Image, error) {
	return func() (v1.Image, error) { return Image(layers...) }
}

// DigestErr is the text of a layer whose content is not the claimed diffID.
func DigestErr(index, of int, claimed, actual string) string {
	return fmt.Sprintf("layer %d of %d: layer %s: the image config claims diffID %s, but the layer's uncompressed content is %s", index, of, claimed, claimed, actual)
}

// lazy is an image whose layers are built when it is asked for: the heavy
// cases cost seconds to build.
func lazy(layers ...func() Layer) func() (v1.Image, error) {
	return func() (v1.Image, error) {
		var ls []Layer
		for _, l := range layers {
			ls = append(ls, l())
		}
		return Image(ls...)
	}
}

// The heavy layers, built once per process.
var (
	nest4096  = sync.OnceValue(func() Layer { return Nest(4096) })
	nest16384 = sync.OnceValue(func() Layer { return Nest(16384) })
	bomb      = sync.OnceValue(gzipBomb)
)

// Nest is a path-depth bomb: depth nested directories, each with a file,
// above an Alpine root. The tar is streamed into gzip: at 16384 levels its
// names alone are 512 MiB.
func Nest(depth int) Layer {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	write := func(h *tar.Header, body string) {
		h.Format, h.ModTime = tar.FormatPAX, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := tw.WriteHeader(h); err != nil {
			panic(fmt.Sprintf("hostile: nest: %v", err))
		}
		tw.Write([]byte(body))
	}
	for _, e := range alpineRoot(apkRecord("busybox", "1.36.1-r15", "busybox")) {
		if e.Type == tar.TypeDir {
			write(&tar.Header{Name: e.Name, Typeflag: tar.TypeDir, Mode: 0o755}, "")
		} else {
			write(&tar.Header{Name: e.Name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.Body))}, e.Body)
		}
	}
	var p strings.Builder
	for i := 0; i < depth; i++ {
		p.WriteString("d/")
		write(&tar.Header{Name: p.String(), Typeflag: tar.TypeDir, Mode: 0o755}, "")
		write(&tar.Header{Name: p.String() + "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}, "x")
	}
	tw.Close()
	zw.Close()
	return Layer{Blob: buf.Bytes()}
}

// gzipBomb is a layer of one file of zeros that expands past the 1 GiB ratio
// floor at about 1000:1.
func gzipBomb() Layer {
	const size = 1<<30 + 64<<20
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	var zb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&zb, gzip.BestCompression)
	zw.Write(tb.Bytes())
	zero := make([]byte, 1<<20)
	for i := 0; i < size>>20; i++ {
		zw.Write(zero)
	}
	zw.Write(make([]byte, 1024)) // the tar end
	zw.Close()
	return Layer{Blob: zb.Bytes()}
}

// sparse is a tar of the Alpine root plus a PAX 1.0 sparse file of the
// given logical size holding one byte (Go's tar writer cannot write one).
func sparse(name string, size int64) Layer {
	var out bytes.Buffer
	base := Tar(alpineRoot(apkRecord("busybox", "1.36.1-r15", "busybox"))...)
	out.Write(base[:len(base)-1024]) // without the end-of-archive blocks
	rec := func(k, v string) string {
		line := " " + k + "=" + v + "\n"
		n := len(line)
		for {
			l := len(strconv.Itoa(n+len(strconv.Itoa(n)))) + len(line)
			if l == n {
				break
			}
			n = l
		}
		return strconv.Itoa(n) + line
	}
	pax := rec("GNU.sparse.major", "1") + rec("GNU.sparse.minor", "0") + rec("GNU.sparse.name", name) + rec("GNU.sparse.realsize", strconv.FormatInt(size, 10))
	smap := []byte("1\n" + strconv.FormatInt(size-1, 10) + "\n1\n")
	body := append(append(smap, make([]byte, 512-len(smap))...), 'x')
	out.Write(ustar("PaxHeaders/x", 'x', int64(len(pax))))
	out.Write(pad512([]byte(pax)))
	out.Write(ustar("GNUSparseFile.0/x", '0', int64(len(body))))
	out.Write(pad512(body))
	out.Write(make([]byte, 1024))
	return Layer{Blob: Gzip(out.Bytes())}
}

func pad512(b []byte) []byte {
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

func ustar(name string, typ byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:], name)
	copy(h[100:], "0000644\x00")
	copy(h[108:], "0000000\x00")
	copy(h[116:], "0000000\x00")
	sz := strconv.FormatInt(size, 8)
	copy(h[124:], strings.Repeat("0", 11-len(sz))+sz+"\x00")
	copy(h[136:], "00000000000\x00")
	h[156] = typ
	copy(h[257:], "ustar\x0000")
	copy(h[148:], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	cs := strconv.FormatInt(int64(sum), 8)
	copy(h[148:], strings.Repeat("0", 6-len(cs))+cs+"\x00 ")
	return h
}

// Cases is the suite. Cases that depend on the matcher's and the
// catalogers' handling of malformed records are in LanguageCases.
func Cases() []Case {
	vuln, harmless := Vulnerable(), Harmless()
	poisoner := harmless
	poisoner.DiffID = vuln.TrueDiffID() // claims the victim's layer
	hider := vuln
	hider.DiffID = harmless.TrueDiffID() // claims a clean layer seen before
	forged := vuln
	forged.DiffID = Digest([]byte("no layer has this content"))
	truncated := Layer{Blob: Gzip(Tar(append(alpineRoot(apkRecord("busybox", "1.36.1-r15", "busybox")), File("big", strings.Repeat("x", 1<<20)))...))}
	truncated.DiffID = truncated.TrueDiffID()
	truncated.Blob = truncated.Blob[:len(truncated.Blob)/2]
	inRoot := GzipLayer(append(alpineRoot(), // the real DB elsewhere, the DB path a link to it
		Dir("usr/"), Dir("usr/share/"), Dir("usr/share/apkdb/"),
		File("usr/share/apkdb/installed", apkRecord("busybox", "1.36.1-r15", "busybox")+apkRecord("busybox-binsh", "1.36.1-r15", "busybox")))...)
	inRoot = GzipLayer(relink(inRoot, "/usr/share/apkdb/installed")...)
	outOfRoot := GzipLayer(relink(GzipLayer(alpineRoot()...), "../../../../../etc/shadow")...)

	return []Case{
		{
			Name:   "cache poisoning: the attacker's image claims the victim's layer",
			Before: imageOf(poisoner), BeforeErr: DigestErr(1, 1, vuln.TrueDiffID(), harmless.TrueDiffID()),
			Image: imageOf(vuln), Clean: imageOf(vuln), Findings: VulnerableFindings,
		},
		{
			Name:   "hiding behind a clean layer seen before",
			Before: imageOf(harmless),
			Image:  imageOf(hider), Err: DigestErr(1, 1, harmless.TrueDiffID(), vuln.TrueDiffID()),
		},
		{
			Name:  "forged diffID",
			Image: imageOf(forged), Err: DigestErr(1, 1, forged.DiffID, vuln.TrueDiffID()),
		},
		{
			Name:  "forged diffID of an upper layer",
			Image: imageOf(harmless, forged), Err: DigestErr(2, 2, forged.DiffID, vuln.TrueDiffID()),
		},
		{
			Name:  "4096-level directory nest",
			Image: lazy(nest4096), Err: "path depth 1025 exceeds the limit of 1024",
		},
		{
			Name:  "16384-level directory nest",
			Image: lazy(nest16384), Err: "path depth 1025 exceeds the limit of 1024", Heavy: true,
		},
		{
			Name:  "entry climbing out of the root",
			Image: imageOf(GzipLayer(append(alpineRoot(), File("../../../tmp/pwned", "x"))...)), Err: `entry "../../../tmp/pwned" climbs out of the image root`,
		},
		{
			Name:  "hard link out of the root",
			Image: imageOf(GzipLayer(append(alpineRoot(), Entry{Name: "etc/shadow-copy", Type: tar.TypeLink, Link: "../../../etc/shadow"})...)), Err: "hard link etc/shadow-copy: entry \"../../../etc/shadow\" climbs out of the image root",
		},
		{
			Name: "symlink loop at the release file",
			Image: imageOf(GzipLayer(Symlink("etc/os-release", "../usr/lib/os-release"), Symlink("usr/lib/os-release", "/etc/os-release"),
				File("lib/apk/db/installed", apkRecord("busybox", "1.36.1-r15", "busybox")))), Err: "too many levels of symbolic links",
		},
		{
			Name:  "release file linked out of the root",
			Image: imageOf(GzipLayer(Symlink("etc/os-release", "../../../../../etc/os-release"), File("lib/apk/db/installed", apkRecord("busybox", "1.36.1-r15", "busybox")))),
			Err:   "etc/os-release -> ../../../../../etc/os-release: symlink leads out of the image root",
		},
		{
			Name:  "truncated layer",
			Image: imageOf(truncated), Err: "truncated tar stream: unexpected EOF",
		},
		{
			Name:  "sparse 10 GiB package DB",
			Image: imageOf(sparse("lib/apk/db/installed", 10<<30)), Err: "lib/apk/db/installed: file size 10.0 GiB exceeds the limit of 1.0 GiB",
		},
		{
			Name:  "sparse 10 GiB file nobody reads",
			Image: imageOf(sparse("var/log/lastlog", 10<<30)), Clean: imageOf(GzipLayer(alpineRoot(apkRecord("busybox", "1.36.1-r15", "busybox"))...)),
			Findings: []string{BusyboxCVE + " busybox"},
		},
		{
			Name:  "package DB linked inside the root",
			Image: imageOf(inRoot), Clean: imageOf(vuln), Findings: VulnerableFindings,
			Warnings: []string{"lib/apk/db/installed is a symlink to /usr/share/apkdb/installed: read through the link"},
		},
		{
			Name:        "package DB linked out of the root",
			Image:       imageOf(outOfRoot),
			Warnings:    []string{"lib/apk/db/installed is a symlink to ../../../../../etc/shadow, which leads out of the image root: not followed, so OS packages from it cannot be scanned"},
			Description: []string{"OS packages were not scanned: lib/apk/db/installed is a symlink to ../../../../../etc/shadow, which leads out of the image root", "alpine 3.19.1 detected but no OS package database was found"},
		},
		{
			Name: "garbage package DB records around a real one",
			Image: imageOf(GzipLayer(alpineRoot("P:\x00\xff\xfe garbage\nV:\nnot a field at all\n\n" +
				apkRecord("busybox", "1.36.1-r15", "busybox") + strings.Repeat("x", 2<<20) + "\n\n" + apkRecord("busybox-binsh", "1.36.1-r15", "busybox"))...)),
			Findings: VulnerableFindings,
			Warnings: []string{`apk: lib/apk/db/installed: line 3: want "K:value", got "not a field at all"; skipped`,
				"apk: lib/apk/db/installed: line 15: 2097152 bytes, longer than the 1048576 byte limit; skipped"},
		},
		{
			Name:  "gzip bomb",
			Image: lazy(bomb), Err: "decompression bomb suspected", Heavy: true,
		},
	}
}

// relink rewrites the apk DB entry of a layer into a symlink to target.
func relink(l Layer, target string) []Entry {
	var out []Entry
	tr := tar.NewReader(gzipReader(l.Blob))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var body bytes.Buffer
		body.ReadFrom(tr)
		if h.Name == "lib/apk/db/installed" {
			out = append(out, Symlink(h.Name, target))
			continue
		}
		out = append(out, Entry{Name: h.Name, Type: h.Typeflag, Link: h.Linkname, Body: body.String()})
	}
	return out
}

func gzipReader(b []byte) *gzip.Reader {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		panic(fmt.Sprintf("hostile: %v", err))
	}
	return zr
}

// LanguageCases are the cases about malformed package records: versions
// their scheme cannot parse beside vulnerable packages. The scan completes,
// the vulnerable packages' findings are reported and the degraded packages
// are named.
func LanguageCases() []Case {
	root := alpineRoot(
		apkRecord("musl", "1.2.4-r2", "musl"),
		apkRecord("libfoo", "1.2.4_r2", "libfoo"),
	)
	lang := []Entry{
		Dir("app/"), Dir("app/node_modules/"),
		File("app/node_modules/lodash/package.json", `{"name":"lodash","version":"4.17.15"}`),
		File("app/node_modules/left-pad/package.json", `{"name":"left-pad","version":"latest"}`),
		File("app/node_modules/debug/package.json", `{"name":"debug","version":"git+https://github.com/debug-js/debug.git#4.3.4"}`),
		File("usr/lib/python3.11/site-packages/requests-2.10.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: requests\nVersion: 2.10.0 beta\n"),
		File("srv/Gemfile.lock", "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (-)\n    sinatra (2.0.5)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  sinatra\n"),
	}
	return []Case{{
		Name:     "unparseable versions beside vulnerable packages",
		Image:    imageOf(GzipLayer(root...), GzipLayer(lang...)),
		Enhanced: true,
		Findings: []string{MuslCVE + " musl", LodashCVE + " lodash",
			LibfooCVE + " libfoo", LeftPadID + " left-pad", DebugCVE + " debug", RequestCVE + " requests", RackCVE + " rack"},
		Warnings: []string{`libfoo "1.2.4_r2"`, `left-pad "latest"`, `debug "git+https://github.com/debug-js/debug.git#4.3.4"`, `requests "2.10.0 beta"`, `rack "-"`},
		Description: []string{`5 packages have versions that could not be compared (findings for them have status UNKNOWN_VERSION): `,
			`left-pad "latest" (app/node_modules/left-pad/package.json)`, `libfoo "1.2.4_r2" (lib/apk/db/installed)`, `rack "-" (srv/Gemfile.lock)`,
			`requests "2.10.0 beta" (usr/lib/python3.11/site-packages/requests-2.10.0.dist-info/METADATA)`},
	}, {
		Name: "overlapping-entry zip beside a normal jar",
		Image: imageOf(Vulnerable(), GzipLayer(Dir("opt/"), Dir("opt/app/"),
			File("opt/app/bomb.jar", string(OverlappingZip(100<<20, 2000))),
			File("opt/app/lib/commons-text-1.9.jar", string(Jar("org.apache.commons", "commons-text", "1.9"))))),
		Enhanced: true,
		Findings: VulnerableFindings,
		Warnings: []string{`java: opt/app/bomb.jar: refused: entries share compressed bytes: 1999 entries overlap others (first "BOOT-INF/lib/x0000.jar" and "BOOT-INF/lib/x0001.jar")`},
	}}
}
