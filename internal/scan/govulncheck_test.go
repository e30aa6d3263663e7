package scan_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// govulncheckVersion is the peer this test compares symbol presence with.
const govulncheckVersion = "v1.9.0"

// govulncheckBinary returns a govulncheck built with `go install` into a
// cache directory ($STOWAWAY_CI_CACHE, else the user cache dir), or
// $STOWAWAY_GOVULNCHECK when set; it skips when it cannot be built (no
// module proxy).
func govulncheckBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STOWAWAY_GOVULNCHECK"); p != "" {
		return p
	}
	cache := os.Getenv("STOWAWAY_CI_CACHE")
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			t.Skipf("no cache directory for govulncheck: %v", err)
		}
		cache = filepath.Join(d, "stowaway-ci")
	}
	bin := filepath.Join(cache, "govulncheck-"+govulncheckVersion)
	exe := filepath.Join(bin, "govulncheck")
	if _, err := os.Stat(exe); err == nil {
		return exe
	}
	cmd := exec.Command("go", "install", "golang.org/x/vuln/cmd/govulncheck@"+govulncheckVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "CGO_ENABLED=0")
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build govulncheck %s (needs the Go module proxy): %v\n%s", govulncheckVersion, err, out)
	}
	return exe
}

// goVulnDB converts osv/Go/all.zip into the layout govulncheck's -db
// file://DIR reads (the v1 database schema, golang.org/x/vuln's
// internal/client): index/db.json {modified}, index/modules.json
// [{path, vulns[{id, modified}]}] and ID/<id>.json, one OSV record each.
// Only the Go vulnerability database's own GO- records are served, as
// vuln.go.dev does (osv.dev's Go dump also holds GHSA records, which list
// no symbols).
func goVulnDB(t *testing.T, allZip string) (string, map[string]bool) {
	t.Helper()
	zr, err := zip.OpenReader(allZip)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	dir := t.TempDir()
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	type vuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
	}
	modules := map[string][]vuln{}
	pairs := map[string]bool{} // "<id> <module>" of every record
	var newest time.Time
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "GO-") || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID       string    `json:"id"`
			Modified time.Time `json:"modified"`
			Affected []struct {
				Package struct {
					Name string `json:"name"`
				} `json:"package"`
			} `json:"affected"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ID", rec.ID+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if rec.Modified.After(newest) {
			newest = rec.Modified
		}
		seen := map[string]bool{}
		for _, a := range rec.Affected {
			if m := a.Package.Name; m != "" && !seen[m] {
				seen[m] = true
				pairs[rec.ID+" "+m] = true
				modules[m] = append(modules[m], vuln{rec.ID, rec.Modified})
			}
		}
	}
	type module struct {
		Path  string `json:"path"`
		Vulns []vuln `json:"vulns"`
	}
	var idx []module
	for p, vs := range modules {
		sort.Slice(vs, func(i, j int) bool { return vs[i].ID < vs[j].ID })
		idx = append(idx, module{p, vs})
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i].Path < idx[j].Path })
	for name, v := range map[string]any{"index/db.json": map[string]time.Time{"modified": newest}, "index/modules.json": idx} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, pairs
}

// govulncheckLevel is how precisely govulncheck reported a (vulnerability,
// module): "symbol" (a vulnerable symbol is in the binary: its binary
// mode's "called"), "package" (a vulnerable package is imported, none of
// its vulnerable symbols), "module" (only the module is required), or
// "omitted" (the entry affects the module's version but was dropped: its
// vulnerable packages are for other platforms).
type govulncheckLevel string

// runGovulncheck runs govulncheck -mode=binary -json on bin and returns the
// most precise level per "<id> <module>".
func runGovulncheck(t *testing.T, exe, db, bin string) map[string]govulncheckLevel {
	t.Helper()
	cmd := exec.Command(exe, "-mode=binary", "-db", "file://"+db, "-json", bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTELEMETRY=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) { // exit 3 means "vulnerabilities found" in text mode
			t.Fatalf("govulncheck %s: %v\n%s", bin, err, stderr.Bytes())
		}
	}
	rank := map[govulncheckLevel]int{"omitted": 0, "module": 1, "package": 2, "symbol": 3}
	out := map[string]govulncheckLevel{}
	dec := json.NewDecoder(&stdout)
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Module   string `json:"module"`
					Package  string `json:"package"`
					Function string `json:"function"`
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("govulncheck %s: output: %v\n%s", bin, err, stderr.Bytes())
		}
		if msg.Finding != nil && len(msg.Finding.Trace) > 0 {
			tr := msg.Finding.Trace[0]
			lvl := govulncheckLevel("module")
			switch {
			case tr.Function != "":
				lvl = "symbol"
			case tr.Package != "":
				lvl = "package"
			}
			k := msg.Finding.OSV + " " + tr.Module
			if rank[lvl] > rank[out[k]] {
				out[k] = lvl
			}
		}
	}
	return out
}

// goFinding is one of our findings on a Go package, by GO id and module.
type goFinding struct {
	id, module, version string
	presence            match.SymbolPresence
	symbols             []string
	reason              string
}

// ourGoFindings scans a directory holding the binary and returns the Go
// findings by "<GO id> <module>".
func ourGoFindings(t *testing.T, db *scan.VulnDB, dir string, pairs map[string]bool) (map[string]goFinding, *report.Scan) {
	t.Helper()
	src, err := resolve("dir:" + dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Image(context.Background(), src, db, scan.Options{Enhanced: true, OS: all.OS(), Language: all.Language()})
	if err != nil {
		t.Fatal(err)
	}
	return goFindingsOf(res, pairs), res
}

// goFindingsOf keys each Go finding by the GO records among its ids that
// name its module (pairs): a finding merged through a CVE can also list
// the GO record of another module (CVE-2023-44487 in x/net and in grpc).
func goFindingsOf(res *report.Scan, pairs map[string]bool) map[string]goFinding {
	out := map[string]goFinding{}
	for _, f := range res.Findings {
		if f.Package.Type != "golang" {
			continue
		}
		for _, id := range append([]string{f.ID}, f.Related...) {
			if strings.HasPrefix(id, "GO-") && pairs[id+" "+f.Package.Name] {
				out[id+" "+f.Package.Name] = goFinding{id, f.Package.Name, f.Package.Version, f.SymbolPresence, f.VulnerableSymbols, f.SymbolPresenceReason}
			}
		}
	}
	return out
}

// peerProgram is a Go program built against vulnerable module versions.
type peerProgram struct {
	name    string
	require []string // "module version"
	src     string
}

var peerPrograms = []peerProgram{
	{"text-parse", []string{"golang.org/x/text v0.3.5"}, `package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() {
	t, err := language.Parse(os.Args[len(os.Args)-1])
	fmt.Println(t, err)
}
`},
	{"text-tag-only", []string{"golang.org/x/text v0.3.5"}, `package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English.String()) }
`},
	{"crypto-autocert", []string{"golang.org/x/crypto v0.0.0-20220314234659-1baeb1ce4c0b", "golang.org/x/net v0.0.0-20211112202133-69e39bad7dc2", "golang.org/x/text v0.3.6"}, `package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/crypto/ssh"
)

func main() {
	_, err := autocert.DirCache("/tmp/x").Get(context.Background(), "k")
	_, perr := ssh.ParsePublicKey(nil)
	fmt.Println(err, perr)
	if len(os.Args) > 5 {
		_, _, _, err := ssh.NewServerConn(nil, &ssh.ServerConfig{})
		fmt.Println(err)
	}
}
`},
}

// buildPeer builds p twice (with its symbol table, and with -s -w) into
// dir/<name>/full/app and dir/<name>/stripped/app.
func buildPeer(t *testing.T, dir string, p peerProgram) (full, stripped string) {
	t.Helper()
	src := filepath.Join(dir, p.name, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mod := "module example.com/" + p.name + "\n\ngo 1.22\n\nrequire (\n"
	for _, r := range p.require {
		mod += "\t" + r + "\n"
	}
	mod += ")\n"
	for name, body := range map[string]string{"go.mod": mod, "main.go": p.src} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	full = filepath.Join(dir, p.name, "full", "app")
	stripped = filepath.Join(dir, p.name, "stripped", "app")
	for _, args := range [][]string{{"build", "-o", full, "."}, {"build", "-ldflags=-s -w", "-o", stripped, "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("cannot build %s against %v (needs the Go module proxy): %v\n%s", p.name, p.require, err, out)
		}
	}
	return full, stripped
}

// peerRow is one line of the comparison table.
type peerRow struct {
	binary, key string
	peer        govulncheckLevel
	ours        goFinding
}

func writePeerTable(t *testing.T, rows []peerRow) {
	t.Helper()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "BINARY\tVULN\tMODULE\tGOVULNCHECK\tSTOWAWAY\tSYMBOLS FOUND")
	for _, r := range rows {
		peer := string(r.peer)
		if peer == "" {
			peer = "-"
		}
		ours := string(r.ours.presence)
		if ours == "" {
			ours = "no finding"
		}
		syms := strings.Join(r.ours.symbols, ", ")
		if syms == "" {
			syms = "-"
		}
		id, mod, _ := strings.Cut(r.key, " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.binary, id, mod, peer, ours, syms)
	}
	tw.Flush()
	t.Logf("symbol presence against govulncheck %s -mode=binary:\n%s", govulncheckVersion, b.String())
}

// TestSymbolPresenceAgainstGovulncheck: on Go binaries built here against
// vulnerable module versions, every (vulnerability, module) that
// govulncheck reports at symbol level is PRESENT for us, and every one it
// reports only at module or package level, or omits for its platform, is
// NOT_PRESENT; the same holds for the stripped (-s -w) builds, where
// govulncheck itself falls back to module precision. On the shared
// lang-java-go.tar binary (stripped) the table is logged and the findings
// must be the same (vulnerability, module) pairs.
func TestSymbolPresenceAgainstGovulncheck(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	images := testutil.Shared(t, "images")
	exe := govulncheckBinary(t)
	db := realDB(t)
	vdb, pairs := goVulnDB(t, filepath.Join(feeds, "osv", "Go", "all.zip"))
	dir := t.TempDir()
	var rows []peerRow

	for _, p := range peerPrograms {
		full, stripped := buildPeer(t, dir, p)
		peer := runGovulncheck(t, exe, vdb, full)
		oursFull, _ := ourGoFindings(t, db, filepath.Dir(full), pairs)
		oursStripped, _ := ourGoFindings(t, db, filepath.Dir(stripped), pairs)
		keys := map[string]bool{}
		for k := range peer {
			keys[k] = true
		}
		for k := range oursFull {
			keys[k] = true
		}
		for _, k := range slices.Sorted(mapKeys(keys)) {
			lvl, ours := peer[k], oursFull[k]
			if lvl == "" {
				lvl = "omitted"
			}
			rows = append(rows, peerRow{p.name, k, lvl, ours})
			want := match.SymbolNotPresent
			if lvl == "symbol" {
				want = match.SymbolPresent
			}
			if ours.presence != want {
				t.Errorf("%s: %s: govulncheck says %s, we say %q (%s), want %s", p.name, k, lvl, ours.presence, ours.reason, want)
			}
			if s := oursStripped[k]; s.presence != ours.presence || !slices.Equal(s.symbols, ours.symbols) {
				t.Errorf("%s: %s: stripped build %s %v, full build %s %v", p.name, k, s.presence, s.symbols, ours.presence, ours.symbols)
			}
		}
	}

	// The shared image's binary: -trimpath -s -w, so govulncheck has no
	// symbols and reports every affecting vulnerability at symbol level
	// (its stripped-binary fallback, golang/go#57764), while we read the
	// pclntab and its inline trees.
	extract := filepath.Join(dir, "lang-java-go")
	src, err := resolve(filepath.Join(images, "lang-java-go.tar"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Image(context.Background(), src, db, scan.Options{Enhanced: true, OS: all.OS(), Language: all.Language()})
	if err != nil {
		t.Fatal(err)
	}
	ours := goFindingsOf(res, pairs)
	if err := os.MkdirAll(extract, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(extract, "vulnapp")
	if err := copyImageFile(filepath.Join(images, "lang-java-go.tar"), "usr/local/bin/vulnapp", bin); err != nil {
		t.Fatal(err)
	}
	peer := runGovulncheck(t, exe, vdb, bin)
	keys := map[string]bool{}
	for k := range peer {
		keys[k] = true
	}
	for k := range ours {
		keys[k] = true
	}
	for _, k := range slices.Sorted(mapKeys(keys)) {
		lvl := peer[k]
		if lvl == "" {
			lvl = "omitted"
		}
		rows = append(rows, peerRow{"lang-java-go vulnapp", k, lvl, ours[k]})
		if ours[k].presence == "" {
			t.Errorf("vulnapp: %s: govulncheck reports it (%s), we have no finding", k, lvl)
		}
		if peer[k] == "" && ours[k].presence != match.SymbolNotPresent {
			t.Errorf("vulnapp: %s: govulncheck omits it, we say %s", k, ours[k].presence)
		}
	}
	writePeerTable(t, rows)
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// copyImageFile copies one file out of a docker archive's layers (the last
// layer that has it) with the exec bit.
func copyImageFile(archive, name, dst string) error {
	src, err := resolve(archive)
	if err != nil {
		return err
	}
	layers, err := src.Image.Layers()
	if err != nil {
		return err
	}
	var data []byte
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		b, ok, err := tarFile(rc, name)
		rc.Close()
		if err != nil {
			return err
		}
		if ok {
			data = b
		}
	}
	if data == nil {
		return fmt.Errorf("%s: no %s", archive, name)
	}
	return os.WriteFile(dst, data, 0o755)
}

// tarFile reads the regular file name out of a layer tar.
func tarFile(r io.Reader, name string) ([]byte, bool, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if strings.TrimPrefix(h.Name, "./") == name && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			return b, err == nil, err
		}
	}
}

// TestSymbolPresenceSharedImages counts, per shared language image, the Go
// findings by symbol presence (the README's false-alarm figures): the
// lang-java-go binary's findings are decided from its symbols, go.mod and
// go.sum findings (lang-lockfiles) stay UNKNOWN, and so does every Go
// finding when the inventory comes without its binaries' symbols (a scan
// of an SBOM).
func TestSymbolPresenceSharedImages(t *testing.T) {
	images := testutil.Shared(t, "images")
	db := realDB(t)
	ctx := context.Background()
	for _, tc := range []struct {
		image      string
		notPresent int // at least
		decided    bool
	}{
		{"lang-java-go.tar", 1, true},
		{"lang-lockfiles.tar", 0, false},
		{"lang-python-node.oci", 0, false},
	} {
		src, err := resolve(filepath.Join(images, tc.image))
		if err != nil {
			t.Fatal(err)
		}
		res, err := scan.Image(ctx, src, db, scan.Options{Enhanced: true, OS: all.OS(), Language: all.Language()})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[match.SymbolPresence]int{}
		for _, f := range res.Findings {
			if f.Package.Type == "golang" {
				if f.SymbolPresence == "" {
					t.Errorf("%s: %s on %s has no symbol presence", tc.image, f.ID, f.Package.Name)
				}
				counts[f.SymbolPresence]++
			} else if f.SymbolPresence != "" {
				t.Errorf("%s: %s on %s (%s) has symbol presence %s", tc.image, f.ID, f.Package.Name, f.Package.Type, f.SymbolPresence)
			}
		}
		t.Logf("%s: %d findings, %d on Go packages: %d PRESENT, %d NOT_PRESENT, %d UNKNOWN", tc.image, len(res.Findings),
			counts[match.SymbolPresent]+counts[match.SymbolNotPresent]+counts[match.SymbolUnknown], counts[match.SymbolPresent], counts[match.SymbolNotPresent], counts[match.SymbolUnknown])
		if counts[match.SymbolNotPresent] < tc.notPresent {
			t.Errorf("%s: %d NOT_PRESENT findings, want at least %d", tc.image, counts[match.SymbolNotPresent], tc.notPresent)
		}
		if !tc.decided && counts[match.SymbolPresent]+counts[match.SymbolNotPresent] > 0 {
			t.Errorf("%s: Go findings not from a binary were decided: %v", tc.image, counts)
		}
		// The same inventory without the symbol tables: an SBOM.
		inv := *res.Inventory
		inv.SymbolTables = nil
		again, err := scan.Inventory(ctx, &inv, db, scan.Options{Enhanced: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range again.Findings {
			if f.Package.Type == "golang" && f.SymbolPresence != match.SymbolUnknown {
				t.Errorf("%s as an SBOM: %s on %s is %s, want UNKNOWN", tc.image, f.ID, f.Package.Name, f.SymbolPresence)
			}
		}
	}
}
