package scan_test

// The oracles below derive expected findings straight from the raw upstream
// feed files in ../shared/feeds, with their own minimal decoding and the
// reference version comparators, sharing no code with Stowaway's feed
// parsers, DB or matcher. They answer: which CVE ids affect this installed
// package, and with which status?

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	apkver "github.com/knqyf263/go-apk-version"
	debver "github.com/knqyf263/go-deb-version"
	rpmver "github.com/knqyf263/go-rpm-version"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// expectation is the oracle's verdict for one CVE on one package.
type expectation struct {
	Status string // FIXABLE, UNFIXED, WILL_NOT_FIX
	Fixed  string
}

type oracle interface {
	expect(p inventory.Package) (map[string]expectation, error)
}

var cveRE = regexp.MustCompile(`CVE-\d{4}-\d{4,}`)

// ---- Alpine secdb ----

type alpineOracle struct {
	// origin -> fixed version -> ids
	fixes map[string]map[string][]string
}

func newAlpineOracle(feeds, release string) (*alpineOracle, error) {
	o := &alpineOracle{fixes: map[string]map[string][]string{}}
	for _, repo := range []string{"main", "community"} {
		b, err := os.ReadFile(filepath.Join(feeds, "alpine", "secdb", "v"+release, repo+".json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var doc struct {
			Packages []struct {
				Pkg struct {
					Name     string              `json:"name"`
					Secfixes map[string][]string `json:"secfixes"`
				} `json:"pkg"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, err
		}
		for _, p := range doc.Packages {
			if o.fixes[p.Pkg.Name] == nil {
				o.fixes[p.Pkg.Name] = map[string][]string{}
			}
			for v, ids := range p.Pkg.Secfixes {
				o.fixes[p.Pkg.Name][v] = append(o.fixes[p.Pkg.Name][v], ids...)
			}
		}
	}
	return o, nil
}

func (o *alpineOracle) expect(p inventory.Package) (map[string]expectation, error) {
	out := map[string]expectation{}
	origin := p.SourceName
	if origin == "" {
		origin = p.Name
	}
	inst, err := apkver.NewVersion(p.Version)
	if err != nil {
		return nil, fmt.Errorf("installed %q: %w", p.Version, err)
	}
	never := map[string]bool{}
	for v, ids := range o.fixes[origin] {
		if v == "0" {
			for _, id := range ids {
				for _, c := range cveRE.FindAllString(id, -1) {
					never[c] = true
				}
			}
		}
	}
	for v, ids := range o.fixes[origin] {
		if v == "0" {
			continue
		}
		fixed, err := apkver.NewVersion(v)
		if err != nil {
			continue // the feed's own junk; Stowaway reports it as malformed
		}
		if !inst.LessThan(fixed) {
			continue
		}
		for _, id := range ids {
			for _, c := range cveRE.FindAllString(id, -1) {
				if never[c] {
					continue
				}
				if old, ok := out[c]; ok {
					if of, _ := apkver.NewVersion(old.Fixed); fixed.LessThan(of) {
						out[c] = expectation{"FIXABLE", v}
					}
					continue
				}
				out[c] = expectation{"FIXABLE", v}
			}
		}
	}
	return out, nil
}

// ---- Debian OSV ----

type osvRecord struct {
	ID       string   `json:"id"`
	Details  string   `json:"details"`
	Aliases  []string `json:"aliases"`
	Related  []string `json:"related"`
	Affected []struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string              `json:"type"`
			Events []map[string]string `json:"events"`
		} `json:"ranges"`
		EcosystemSpecific struct {
			Urgency string `json:"urgency"`
		} `json:"ecosystem_specific"`
	} `json:"affected"`
}

// cves are the CVE ids a Debian record stands for: its own id, or for a
// DSA/DLA/DTSA the CVEs it names.
func (r osvRecord) cves() []string {
	if strings.HasPrefix(r.ID, "CVE-") {
		return []string{r.ID}
	}
	var out []string
	for _, id := range append(append([]string{}, r.Aliases...), r.Related...) {
		if strings.HasPrefix(id, "CVE-") {
			out = append(out, id)
		}
	}
	return out
}

type debianOracle struct {
	// source package -> records naming it for the release
	recs map[string][]osvRecord
	eco  string
}

// newDebianOracles reads each Debian OSV bundle once and returns an oracle
// per release: Debian 10 from the frozen 2024 bundle, the others from the
// current one. It collects into rejected the CVE records whose details are
// the CVE program's rejection notice.
func newDebianOracles(feeds string, releases []string, wanted, rejected map[string]bool) (map[string]*debianOracle, error) {
	out := map[string]*debianOracle{}
	byBundle := map[string][]string{}
	for _, r := range releases {
		out[r] = &debianOracle{recs: map[string][]osvRecord{}, eco: "Debian:" + r}
		b := "Debian-all.osv.tar.bz2"
		if r == "10" {
			b = "Debian-10-2024-06-29.osv.tar.bz2"
		}
		byBundle[b] = append(byBundle[b], r)
	}
	for bundle, rels := range byBundle {
		f, err := os.Open(filepath.Join(feeds, "debian", "osv", bundle))
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(bzip2.NewReader(bufio.NewReaderSize(f, 1<<20)))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			var r osvRecord
			if err := json.NewDecoder(tr).Decode(&r); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", bundle, h.Name, err)
			}
			if strings.HasPrefix(r.ID, "CVE-") && rejectNotice(r.Details) {
				rejected[r.ID] = true
			}
			for _, rel := range rels {
				o := out[rel]
				filed := map[string]bool{}
				for _, a := range r.Affected {
					if a.Package.Ecosystem == o.eco && wanted[a.Package.Name] && !filed[a.Package.Name] {
						filed[a.Package.Name] = true
						o.recs[a.Package.Name] = append(o.recs[a.Package.Name], r)
					}
				}
			}
		}
		f.Close()
	}
	return out, nil
}

func (o *debianOracle) expect(p inventory.Package) (map[string]expectation, error) {
	src, ver := p.SourceName, p.SourceVersion
	if src == "" {
		src = p.Name
	}
	if ver == "" {
		ver = p.Version
	}
	inst, err := debver.NewVersion(ver)
	if err != nil {
		return nil, err
	}
	// Per CVE: the lowest fix above the installed version wins; without
	// one, an affected entry with no fix is UNFIXED, or WILL_NOT_FIX when
	// Debian marks the release end-of-life for the package.
	fixes := map[string]debver.Version{}
	fixStr := map[string]string{}
	open := map[string]string{}
	for _, r := range o.recs[src] {
		ids := r.cves()
		for _, a := range r.Affected {
			if a.Package.Ecosystem != o.eco || a.Package.Name != src {
				continue
			}
			for _, rg := range a.Ranges {
				if rg.Type != "ECOSYSTEM" {
					continue
				}
				introduced, fixed := "", ""
				for _, e := range rg.Events {
					if v, ok := e["introduced"]; ok {
						introduced = v
					}
					if v, ok := e["fixed"]; ok {
						fixed = v
					}
				}
				if introduced != "" && introduced != "0" {
					iv, err := debver.NewVersion(introduced)
					if err == nil && inst.LessThan(iv) {
						continue
					}
				}
				for _, id := range ids {
					if fixed == "" {
						st := "UNFIXED"
						if a.EcosystemSpecific.Urgency == "end-of-life" {
							st = "WILL_NOT_FIX"
						}
						if open[id] == "" || st == "UNFIXED" {
							open[id] = st
						}
						continue
					}
					fv, err := debver.NewVersion(fixed)
					if err != nil || !inst.LessThan(fv) {
						continue
					}
					if old, ok := fixes[id]; !ok || fv.LessThan(old) {
						fixes[id], fixStr[id] = fv, fixed
					}
				}
			}
		}
	}
	out := map[string]expectation{}
	for id, st := range open {
		out[id] = expectation{st, ""}
	}
	for id := range fixes {
		out[id] = expectation{"FIXABLE", fixStr[id]}
	}
	return out, nil
}

// ---- Red Hat CVE JSON (RHEL 7/8/9, CentOS 7) ----

type rhRecord struct {
	Name            string   `json:"name"`
	Details         []string `json:"details"`
	AffectedRelease []struct {
		CPE     string `json:"cpe"`
		Package string `json:"package"`
	} `json:"affected_release"`
	PackageState []struct {
		CPE         string `json:"cpe"`
		FixState    string `json:"fix_state"`
		PackageName string `json:"package_name"`
	} `json:"package_state"`
}

type redhatOracle struct {
	major string
	recs  map[string][]rhRecord // source package -> records
}

var rhNEVRA = regexp.MustCompile(`^(.+)-(\d+):([^-]+)-([^-]+)$`)

// newRedHatOracles reads the Red Hat bundle once for every major release,
// and the mirror's VEX documents, which replace a CVE's bundle record on a
// main stream they judge (redhatVEXRecords).
// It collects into rejected the records whose details Red Hat marks
// rejected ("[REJECTED CVE] ...", "This CVE ID has been rejected ...").
func newRedHatOracles(feeds string, majors []string, wanted, rejected map[string]bool) (map[string]*redhatOracle, error) {
	f, err := os.Open(filepath.Join(feeds, "redhat", "securitydata", "cve.tar.gz"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]*redhatOracle{}
	for _, m := range majors {
		out[m] = &redhatOracle{major: m, recs: map[string][]rhRecord{}}
	}
	vex, err := redhatVEXRecords(feeds)
	if err != nil {
		return nil, err
	}
	inBundle := map[string]bool{}
	tr := tar.NewReader(zr)
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var r rhRecord
		if err := json.NewDecoder(tr).Decode(&r); err != nil {
			continue
		}
		if len(r.Details) > 0 && (strings.HasPrefix(r.Details[0], "[REJECTED CVE]") || strings.HasPrefix(r.Details[0], "This CVE ID has been rejected") || rejectNotice(r.Details[0])) {
			rejected[r.Name] = true
		}
		inBundle[r.Name] = true
		for _, o := range out {
			if v, ok := vex[r.Name]; ok && o.judges(v) {
				o.add(v, wanted) // VEX outranks the CVE API
				continue
			}
			o.add(r, wanted)
		}
	}
	for id, v := range vex {
		if inBundle[id] {
			continue
		}
		for _, o := range out {
			o.add(v, wanted)
		}
	}
	return out, nil
}

// judges reports whether r has an entry for the oracle's main stream.
func (o *redhatOracle) judges(r rhRecord) bool {
	for _, a := range r.AffectedRelease {
		if o.mainStream(a.CPE) {
			return true
		}
	}
	for _, s := range r.PackageState {
		if o.mainStream(s.CPE) {
			return true
		}
	}
	return false
}

// add files r under every wanted package it names on the main stream.
func (o *redhatOracle) add(r rhRecord, wanted map[string]bool) {
	names := map[string]bool{}
	for _, a := range r.AffectedRelease {
		if m := rhNEVRA.FindStringSubmatch(a.Package); m != nil && o.mainStream(a.CPE) {
			names[m[1]] = true
		}
	}
	for _, s := range r.PackageState {
		if o.mainStream(s.CPE) {
			names[s.PackageName] = true
		}
	}
	for n := range names {
		if wanted[n] {
			o.recs[n] = append(o.recs[n], r)
		}
	}
}

// mainStream accepts cpe:/o:redhat:enterprise_linux:N and its ::variants.
func (o *redhatOracle) mainStream(cpe string) bool {
	for _, pre := range []string{"cpe:/o:redhat:enterprise_linux:" + o.major, "cpe:/a:redhat:enterprise_linux:" + o.major} {
		if cpe == pre || strings.HasPrefix(cpe, pre+"::") {
			return true
		}
	}
	return false
}

func distTag(rel string) string {
	i := strings.Index(rel, "el")
	if i < 0 {
		return ""
	}
	t := rel[i:]
	if j := strings.IndexAny(t, ".+"); j >= 0 {
		t = t[:j]
	}
	return t
}

func (o *redhatOracle) expect(p inventory.Package) (map[string]expectation, error) {
	if p.Module != "" {
		return map[string]expectation{}, nil // modular content: not sampled
	}
	src := p.SourceName
	if src == "" {
		src = p.Name
	}
	inst := rpmver.NewVersion(fmt.Sprintf("%d:%s-%s", p.Epoch, strings.TrimPrefix(versionOnly(p), ""), p.Release))
	instTag := distTag(p.Release)
	out := map[string]expectation{}
	for _, r := range o.recs[src] {
		var fixes []rpmver.Version
		var fixStr []string
		for _, a := range r.AffectedRelease {
			m := rhNEVRA.FindStringSubmatch(a.Package)
			if m == nil || m[1] != src || !o.mainStream(a.CPE) || strings.Contains(a.Package, "module+") {
				continue
			}
			fixes = append(fixes, rpmver.NewVersion(m[2]+":"+m[3]+"-"+m[4]))
			fixStr = append(fixStr, m[2]+":"+m[3]+"-"+m[4])
		}
		if len(fixes) > 0 {
			// A fix in the installed stream decides; otherwise any fix
			// above the installed version makes it affected.
			sameTag := -1
			for i, s := range fixStr {
				if distTag(s[strings.LastIndexByte(s, '-')+1:]) == instTag {
					sameTag = i
				}
			}
			if sameTag >= 0 {
				if inst.LessThan(fixes[sameTag]) {
					out[r.Name] = expectation{"FIXABLE", fixStr[sameTag]}
				}
				continue
			}
			// Report the lowest fix above the installed version.
			lowest := -1
			for i, f := range fixes {
				if inst.LessThan(f) && (lowest < 0 || f.LessThan(fixes[lowest])) {
					lowest = i
				}
			}
			if lowest >= 0 {
				out[r.Name] = expectation{"FIXABLE", fixStr[lowest]}
			}
			continue
		}
		for _, s := range r.PackageState {
			if s.PackageName != src || !o.mainStream(s.CPE) {
				continue
			}
			switch s.FixState {
			case "Affected", "Fix deferred", "Under investigation":
				out[r.Name] = expectation{"UNFIXED", ""}
			case "Will not fix", "Out of support scope":
				out[r.Name] = expectation{"WILL_NOT_FIX", ""}
			}
		}
	}
	return out, nil
}

// versionOnly strips epoch and release from an rpm Version field.
func versionOnly(p inventory.Package) string {
	v := p.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	if p.Release != "" {
		v = strings.TrimSuffix(v, "-"+p.Release)
	}
	return v
}

// ---- Amazon Linux updateinfo ----

type amazonOracle struct {
	// binary package name -> fixes
	fixes map[string][]amazonFix
}

type amazonFix struct {
	evr  string
	arch string
	cves []string
}

func newAmazonOracle(feeds, release string) (*amazonOracle, error) {
	dir := "al2"
	if release == "2023" {
		dir = "al2023"
	}
	o := &amazonOracle{fixes: map[string][]amazonFix{}}
	err := filepath.Walk(filepath.Join(feeds, "amazon", dir), func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || filepath.Base(path) != "updateinfo.xml.gz" {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		var doc struct {
			Updates []struct {
				ID   string `xml:"id"`
				Refs []struct {
					Type string `xml:"type,attr"`
					ID   string `xml:"id,attr"`
				} `xml:"references>reference"`
				Pkgs []struct {
					Name    string `xml:"name,attr"`
					Epoch   string `xml:"epoch,attr"`
					Version string `xml:"version,attr"`
					Release string `xml:"release,attr"`
					Arch    string `xml:"arch,attr"`
				} `xml:"pkglist>collection>package"`
			} `xml:"update"`
		}
		if err := xml.NewDecoder(zr).Decode(&doc); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, u := range doc.Updates {
			var cves []string
			for _, r := range u.Refs {
				if r.Type == "cve" {
					cves = append(cves, r.ID)
				}
			}
			for _, p := range u.Pkgs {
				e := p.Epoch
				if e == "" {
					e = "0"
				}
				o.fixes[p.Name] = append(o.fixes[p.Name], amazonFix{evr: e + ":" + p.Version + "-" + p.Release, arch: p.Arch, cves: cves})
			}
		}
		return nil
	})
	return o, err
}

func (o *amazonOracle) expect(p inventory.Package) (map[string]expectation, error) {
	inst := rpmver.NewVersion(fmt.Sprintf("%d:%s-%s", p.Epoch, versionOnly(p), p.Release))
	out := map[string]expectation{}
	for _, f := range o.fixes[p.Name] {
		if f.arch != p.Arch && f.arch != "noarch" && p.Arch != "noarch" {
			continue
		}
		fv := rpmver.NewVersion(f.evr)
		if !inst.LessThan(fv) {
			continue
		}
		for _, c := range f.cves {
			if old, ok := out[c]; ok && !fv.LessThan(rpmver.NewVersion(old.Fixed)) {
				continue
			}
			out[c] = expectation{"FIXABLE", f.evr}
		}
	}
	return out, nil
}

// ---- Ubuntu CVE tracker (UCT JSON) ----

type ubuntuOracle struct {
	codename string
	// source package -> cve -> pocket -> (status, note)
	recs map[string]map[string]map[string][2]string
}

// newUbuntuOracles reads the UCT bundle once for every release. It also
// collects into rejected the CVE ids whose tracker description is the CVE
// program's rejection notice.
func newUbuntuOracles(feeds string, codenames []string, wanted, rejected map[string]bool) (map[string]*ubuntuOracle, error) {
	f, err := os.Open(filepath.Join(feeds, "ubuntu", "ubuntu-cve-tracker", "uct-cve-json.tar.bz2"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]*ubuntuOracle{}
	for _, c := range codenames {
		out[c] = &ubuntuOracle{codename: c, recs: map[string]map[string]map[string][2]string{}}
	}
	tr := tar.NewReader(bzip2.NewReader(bufio.NewReaderSize(f, 1<<20)))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(h.Name, ".json") {
			continue
		}
		var r struct {
			Candidate   string `json:"candidate"`
			Description string `json:"description"`
			Packages    map[string]map[string]struct {
				Status string `json:"status"`
				Note   string `json:"note"`
			} `json:"packages"`
		}
		if err := json.NewDecoder(tr).Decode(&r); err != nil {
			return nil, fmt.Errorf("uct %s: %w", h.Name, err)
		}
		if rejectNotice(r.Description) {
			rejected[r.Candidate] = true
		}
		for pocket, pkgs := range r.Packages {
			for codename, o := range out {
				if pocket != codename && !strings.HasSuffix(pocket, "/"+codename) && !strings.HasPrefix(pocket, codename+"/") {
					continue
				}
				for name, st := range pkgs {
					if !wanted[name] {
						continue
					}
					if o.recs[name] == nil {
						o.recs[name] = map[string]map[string][2]string{}
					}
					if o.recs[name][r.Candidate] == nil {
						o.recs[name][r.Candidate] = map[string][2]string{}
					}
					o.recs[name][r.Candidate][pocket] = [2]string{st.Status, st.Note}
				}
			}
		}
	}
	return out, nil
}

func (o *ubuntuOracle) expect(p inventory.Package) (map[string]expectation, error) {
	src, ver := p.SourceName, p.SourceVersion
	if src == "" {
		src = p.Name
	}
	if ver == "" {
		ver = p.Version
	}
	inst, err := debver.NewVersion(ver)
	if err != nil {
		return nil, err
	}
	out := map[string]expectation{}
	order := []string{"esm-infra/" + o.codename, o.codename + "/esm", "esm-infra-legacy/" + o.codename, "esm-apps/" + o.codename}
	for cve, pockets := range o.recs[src] {
		// The main pocket decides when it says released or not-affected.
		// Otherwise a fix in an ESM pocket (in this order) decides, then a
		// not-affected in any ESM pocket, then the main pocket's own
		// status; with no main-pocket entry (or DNE there), the first ESM
		// pocket that has one other than DNE.
		st, hasMain := pockets[o.codename]
		if !hasMain || (st[0] != "released" && st[0] != "not-affected") {
			picked := false
			for _, want := range []string{"released", "not-affected"} {
				for _, pocket := range order {
					if s, ok := pockets[pocket]; ok && !picked && s[0] == want {
						st, picked = s, true
					}
				}
			}
			if !picked && (!hasMain || st[0] == "DNE") {
				for _, pocket := range order {
					if s, ok := pockets[pocket]; ok && !picked && s[0] != "DNE" {
						st, picked = s, true
					}
				}
				if !picked {
					continue
				}
			}
		}
		switch st[0] {
		case "released":
			fv, err := debver.NewVersion(st[1])
			if err != nil {
				continue
			}
			if inst.LessThan(fv) {
				out[cve] = expectation{"FIXABLE", st[1]}
			}
		case "needed", "needs-triage", "active", "pending", "deferred":
			out[cve] = expectation{"UNFIXED", ""}
		case "ignored":
			out[cve] = expectation{"WILL_NOT_FIX", ""}
		}
	}
	return out, nil
}

// ---- Rejected CVE ids (NVD 1.1, Ubuntu OVAL; UCT and Debian above) ----

// rejectNotice is the oracle's own test for the CVE program's rejection
// text, in its CVE JSON 4 and 5 spellings.
func rejectNotice(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "** REJECT **") || strings.HasPrefix(s, "Rejected reason:")
}

var ovalRejectRE = regexp.MustCompile(`<title>(CVE-\d{4}-\d{4,})[^<]*</title>\s*<description>\s*(\*\* REJECT \*\*|Rejected reason:)`)

// ovalRejected adds to rejected the CVE ids of Ubuntu OVAL definitions
// whose description is the rejection notice.
func ovalRejected(feeds string, rejected map[string]bool) error {
	files, err := filepath.Glob(filepath.Join(feeds, "ubuntu", "oval-2021-08-31", "*.cve.oval.xml.bz2"))
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(bzip2.NewReader(bufio.NewReaderSize(f, 1<<20)))
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, m := range ovalRejectRE.FindAllSubmatch(b, -1) {
			rejected[string(m[1])] = true
		}
	}
	return nil
}

// nvdRejected adds to rejected the CVE ids whose English description in the
// NVD 1.1 feeds is the CVE program's rejection notice.
func nvdRejected(feeds string, rejected map[string]bool) error {
	files, err := filepath.Glob(filepath.Join(feeds, "nvd", "feeds", "json", "cve", "1.1", "nvdcve-1.1-*.json.gz"))
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			f.Close()
			return err
		}
		var doc struct {
			Items []struct {
				CVE struct {
					Meta struct {
						ID string `json:"ID"`
					} `json:"CVE_data_meta"`
					Description struct {
						Data []struct {
							Lang  string `json:"lang"`
							Value string `json:"value"`
						} `json:"description_data"`
					} `json:"description"`
				} `json:"cve"`
			} `json:"CVE_Items"`
		}
		err = json.NewDecoder(zr).Decode(&doc)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, it := range doc.Items {
			for _, d := range it.CVE.Description.Data {
				if d.Lang == "en" && rejectNotice(d.Value) {
					rejected[it.CVE.Meta.ID] = true
				}
			}
		}
	}
	return nil
}
