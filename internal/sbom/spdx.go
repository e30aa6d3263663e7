package sbom

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	packageurl "github.com/package-url/packageurl-go"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/osdetect"
)

const (
	noAssertion = "NOASSERTION"
	// spdxNamespaceBase prefixes every document namespace Stowaway writes.
	spdxNamespaceBase = "https://stowaway-scanner.github.io/spdx/"
	spdxImageID       = "Image"
	// SPDX 2.3 JSON spells the purpose with an underscore.
	purposeOS = "OPERATING_SYSTEM"
)

// encodeSPDX writes inv (already normalized) as SPDX 2.3 JSON.
func encodeSPDX(w io.Writer, inv *inventory.Inventory, opts Options) error {
	doc, err := buildSPDX(inv, opts)
	if err != nil {
		return err
	}
	if err := spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("sbom: encode spdx: %w", err)
	}
	return nil
}

func buildSPDX(inv *inventory.Inventory, opts Options) (*v2_3.Document, error) {
	id, err := contentID(inv)
	if err != nil {
		return nil, err
	}
	src := inv.Source
	name := src.Ref
	if name == "" {
		name = "unnamed"
	}
	tool := toolName
	if opts.ToolVersion != "" {
		tool += "-" + opts.ToolVersion
	}
	doc := &v2_3.Document{
		SPDXVersion:       v2_3.Version,
		DataLicense:       v2_3.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: spdxNamespace(src, id.String()),
		CreationInfo: &v2_3.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: tool}},
			Created:  inv.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
	describes := func(a, b common.ElementID, rel string) {
		doc.Relationships = append(doc.Relationships, &v2_3.Relationship{
			RefA:         common.MakeDocElementID("", string(a)),
			RefB:         common.MakeDocElementID("", string(b)),
			Relationship: rel,
		})
	}
	image := &v2_3.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   spdxImageID,
		PackageVersion:          src.Digest,
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
	}
	if src.Digest != "" {
		if alg, hex, ok := strings.Cut(src.Digest, ":"); ok && strings.EqualFold(alg, "sha256") {
			image.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: hex}}
		}
	}
	if purl := imagePURL(src); purl != "" {
		image.PackageExternalReferences = []*v2_3.PackageExternalReference{{
			Category: common.CategoryPackageManager, RefType: common.TypePackageManagerPURL, Locator: purl,
		}}
	}
	doc.Packages = append(doc.Packages, image)
	describes("DOCUMENT", spdxImageID, common.TypeRelationshipDescribe)

	if d := inv.Distro; d != nil && d.ID != "" {
		osID := common.ElementID("OperatingSystem-" + sanitizeID(strings.Trim(d.ID+"-"+d.VersionID, "-")))
		doc.Packages = append(doc.Packages, &v2_3.Package{
			PackageName:             d.ID,
			PackageSPDXIdentifier:   osID,
			PackageVersion:          d.VersionID,
			PackageDescription:      d.PrettyName,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PrimaryPackagePurpose:   purposeOS,
		})
		describes(spdxImageID, osID, common.TypeRelationshipContains)
	}

	refs := newLicenseRefs(inv.Packages)
	used := map[common.ElementID]int{}
	for _, p := range inv.Packages {
		eid := common.ElementID("Package-" + sanitizeID(string(p.Type)+"-"+p.Name+"-"+p.Version))
		used[eid]++
		if n := used[eid]; n > 1 {
			eid = common.ElementID(string(eid) + "-" + strconv.Itoa(n))
		}
		pkg := &v2_3.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   eid,
			PackageVersion:          p.Version,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  refs.expression(p.Licenses),
			PackageCopyrightText:    noAssertion,
			PackageSourceInfo:       spdxSourceInfo(p),
			PackageExternalReferences: []*v2_3.PackageExternalReference{{
				Category: common.CategoryPackageManager,
				RefType:  common.TypePackageManagerPURL,
				Locator:  p.PURL,
			}},
		}
		for _, e := range p.CPEs {
			pkg.PackageExternalReferences = append(pkg.PackageExternalReferences, &v2_3.PackageExternalReference{
				Category: common.CategorySecurity, RefType: common.TypeSecurityCPE23Type, Locator: e,
			})
		}
		if p.Type.IsOS() {
			pkg.PrimaryPackagePurpose = "INSTALL"
		} else {
			pkg.PrimaryPackagePurpose = "LIBRARY"
		}
		doc.Packages = append(doc.Packages, pkg)
		describes(spdxImageID, eid, common.TypeRelationshipContains)
	}
	doc.OtherLicenses = refs.others()
	return doc, nil
}

// spdxNamespace is a URI unique to this document: the image's name plus a
// UUID derived from its digest and content.
func spdxNamespace(src inventory.Source, id string) string {
	name := src.Ref
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	if name = strings.Trim(sanitizeID(name), "-."); name == "" {
		name = "image"
	}
	return spdxNamespaceBase + name + "-" + id
}

// spdxSourceInfo says where a package was found, in a fixed shape that
// decodeSPDX reads back: "cataloger C; layer L; path P" with absent parts
// left out. The path comes last because only it may contain "; ".
func spdxSourceInfo(p inventory.Package) string {
	var parts []string
	if p.Cataloger != "" {
		parts = append(parts, "cataloger "+p.Cataloger)
	}
	if p.Layer != "" {
		parts = append(parts, "layer "+p.Layer)
	}
	if p.Path != "" {
		parts = append(parts, "path "+p.Path)
	}
	if len(parts) == 0 {
		return ""
	}
	return "found by stowaway: " + strings.Join(parts, "; ")
}

func parseSPDXSourceInfo(s string, p *inventory.Package) {
	s, ok := strings.CutPrefix(s, "found by stowaway: ")
	if !ok {
		return
	}
	if v, ok := strings.CutPrefix(s, "cataloger "); ok {
		p.Cataloger, s, _ = strings.Cut(v, "; ")
	}
	if v, ok := strings.CutPrefix(s, "layer "); ok {
		p.Layer, s, _ = strings.Cut(v, "; ")
	}
	if v, ok := strings.CutPrefix(s, "path "); ok {
		p.Path = v
	}
}

// licenseRefs assigns LicenseRef ids to the license strings of an inventory
// that are not valid SPDX expressions.
type licenseRefs struct {
	ids  map[string]string // text -> "LicenseRef-..."
	list []*v2_3.OtherLicense
}

func newLicenseRefs(pkgs []inventory.Package) *licenseRefs {
	var texts []string
	for _, p := range pkgs {
		for _, l := range p.Licenses {
			if !isSPDXExpression(l) {
				texts = append(texts, l)
			}
		}
	}
	slices.Sort(texts)
	texts = slices.Compact(texts)
	r := &licenseRefs{ids: map[string]string{}}
	taken := map[string]int{}
	for _, t := range texts {
		id := "LicenseRef-" + strings.Trim(sanitizeID(t), "-")
		if id == "LicenseRef-" {
			id += "unnamed"
		}
		taken[id]++
		if n := taken[id]; n > 1 {
			id += "-" + strconv.Itoa(n)
		}
		r.ids[t] = id
		r.list = append(r.list, &v2_3.OtherLicense{LicenseIdentifier: id, ExtractedText: t, LicenseName: t})
	}
	return r
}

// expression ANDs the license strings into one SPDX expression, compound
// parts in parentheses, or NOASSERTION when there are none.
func (r *licenseRefs) expression(ls []string) string {
	if len(ls) == 0 {
		return noAssertion
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		switch id, ok := r.ids[l]; {
		case ok:
			parts[i] = id
		case isCompound(l):
			parts[i] = "(" + l + ")"
		default:
			parts[i] = l
		}
	}
	return strings.Join(parts, " AND ")
}

func (r *licenseRefs) others() []*v2_3.OtherLicense { return r.list }

// decodeSPDX reads an SPDX 2.x JSON document. It keeps, per package: name,
// version, type, purl, declared licenses (split on top-level AND, LicenseRefs
// mapped back to their text), arch, epoch and source name (from the purl's
// qualifiers), and the cataloger, layer and path of Stowaway's sourceInfo.
// Lost: source version, rpm module, the image's layers, tags and ids, the
// cataloger list, the warnings and the sub-second part of the timestamp; the distro is re-derived from the
// operating-system package's name and version by Stowaway's OS detection.
// Packages without a purl are skipped with a warning.
func decodeSPDX(b []byte, names names.Names) (*inventory.Inventory, error) {
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("sbom: decode spdx: %w", err)
	}
	inv := &inventory.Inventory{}
	if ci := doc.CreationInfo; ci != nil && ci.Created != "" {
		t, err := time.Parse(time.RFC3339, ci.Created)
		if err != nil {
			return nil, fmt.Errorf("sbom: decode spdx: creationInfo.created: %w", err)
		}
		inv.CreatedAt = t
	}
	described := map[common.ElementID]bool{}
	for _, r := range doc.Relationships {
		if r != nil && r.Relationship == common.TypeRelationshipDescribe && r.RefA.ElementRefID == doc.SPDXIdentifier {
			described[r.RefB.ElementRefID] = true
		}
	}
	texts := map[string]string{}
	for _, o := range doc.OtherLicenses {
		if o != nil {
			texts[o.LicenseIdentifier] = o.ExtractedText
		}
	}
	var skipped []string
	for _, sp := range doc.Packages {
		if sp == nil {
			continue
		}
		purl := ""
		for _, ref := range sp.PackageExternalReferences {
			if ref != nil && ref.RefType == common.TypePackageManagerPURL {
				purl = ref.Locator
				break
			}
		}
		switch {
		case sp.PrimaryPackagePurpose == "CONTAINER" || (purl == "" && described[sp.PackageSPDXIdentifier]):
			if inv.Source.Ref == "" {
				inv.Source = inventory.Source{Ref: sp.PackageName, Digest: sp.PackageVersion}
			}
		case sp.PrimaryPackagePurpose == purposeOS || sp.PrimaryPackagePurpose == "OPERATING-SYSTEM":
			inv.Distro = &inventory.Distro{ID: sp.PackageName, VersionID: sp.PackageVersion, PrettyName: sp.PackageDescription} // Decode classifies it
		case purl != "":
			p, err := spdxPackage(sp, purl, texts, names)
			if err != nil {
				return nil, err
			}
			inv.Packages = append(inv.Packages, p)
		default:
			skipped = append(skipped, sp.PackageName)
		}
	}
	if len(skipped) > 0 {
		inv.Warnings = append(inv.Warnings, fmt.Sprintf("sbom: %d SPDX packages without a purl were skipped (first: %q)", len(skipped), skipped[0]))
	}
	return inv, nil
}

func spdxPackage(sp *v2_3.Package, purl string, texts map[string]string, names names.Names) (inventory.Package, error) {
	pu, err := packageurl.FromString(purl)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("sbom: decode spdx: package %q: purl: %w", sp.PackageSPDXIdentifier, err)
	}
	p := inventory.Package{Name: sp.PackageName, Version: sp.PackageVersion, Type: inventory.Type(pu.Type), PURL: purl}
	if p.Name == "" {
		p.Name = names.PackageName(pu)
	}
	if decl := sp.PackageLicenseDeclared; decl != "" && decl != noAssertion && decl != "NONE" {
		for _, part := range splitTopLevelAND(decl) {
			if t, ok := texts[part]; ok {
				part = t
			}
			p.Licenses = append(p.Licenses, part)
		}
	}
	for _, ref := range sp.PackageExternalReferences {
		if ref != nil && ref.RefType == common.TypeSecurityCPE23Type && ref.Locator != "" {
			p.CPEs = append(p.CPEs, ref.Locator)
		}
	}
	fromPURLQualifiers(&p, pu)
	parseSPDXSourceInfo(sp.PackageSourceInfo, &p)
	return p, nil
}

// fromPURLQualifiers fills arch, epoch, source name and rpm release from a
// purl, for SBOMs that carry no Stowaway properties.
func fromPURLQualifiers(p *inventory.Package, pu packageurl.PackageURL) {
	q := pu.Qualifiers.Map()
	if p.Arch == "" {
		p.Arch = q["arch"]
	}
	if p.SourceName == "" {
		p.SourceName = q["upstream"]
		// Some tools put the whole source RPM file name there.
		if base, ok := strings.CutSuffix(p.SourceName, ".src.rpm"); ok && p.Type == inventory.TypeRPM {
			if i := strings.LastIndexByte(base, '-'); i > 0 {
				if j := strings.LastIndexByte(base[:i], '-'); j > 0 {
					p.SourceName, p.SourceVersion = base[:j], base[j+1:]
				}
			}
		}
	}
	if e, err := strconv.Atoi(q["epoch"]); err == nil && p.Epoch == 0 {
		p.Epoch = e
	}
	if p.Version == "" {
		p.Version = pu.Version
	}
	if p.Type == inventory.TypeRPM {
		if p.Epoch != 0 && !strings.Contains(p.Version, ":") {
			p.Version = strconv.Itoa(p.Epoch) + ":" + p.Version
		}
		if p.Release == "" {
			if i := strings.LastIndexByte(p.Version, '-'); i >= 0 {
				p.Release = p.Version[i+1:]
			}
		}
	}
}

// splitTopLevelAND splits an SPDX expression on the ANDs outside
// parentheses and strips one pair of parentheses around each part.
func splitTopLevelAND(expr string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ' ':
			if depth == 0 && strings.HasPrefix(expr[i:], " AND ") {
				parts = append(parts, expr[start:i])
				start = i + len(" AND ")
				i = start - 1
			}
		}
	}
	parts = append(parts, expr[start:])
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && p[0] == '(' && p[len(p)-1] == ')' && balanced(p[1:len(p)-1]) {
			p = p[1 : len(p)-1]
		}
		parts[i] = p
	}
	return parts
}

func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// detectDistro runs Stowaway's OS detection over an os-release made of an
// SBOM's operating-system entry, so that the release, namespace and support
// status come out as a scan of the image would give them.
func detectDistro(id, versionID, pretty string, distros distro.List) *inventory.Distro {
	data := fmt.Sprintf("ID=%q\nVERSION_ID=%q\nPRETTY_NAME=%q\n", id, versionID, pretty)
	d, err := osdetect.Detect(fstest.MapFS{"etc/os-release": {Data: []byte(data)}}, distros)
	if err != nil || d == nil {
		return &inventory.Distro{ID: id, VersionID: versionID, PrettyName: pretty, Status: inventory.OSUnknown}
	}
	return d
}
