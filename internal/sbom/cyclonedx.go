package sbom

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/uuid"
	packageurl "github.com/package-url/packageurl-go"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

// cdxSpecDefault is the CycloneDX version Encode writes.
const cdxSpecDefault = cdx.SpecVersion1_6

// toolName names Stowaway in the tool lists of both formats.
const toolName = "stowaway"

// CycloneDX property names. They are part of Stowaway's SBOM format: Decode
// reads them back, so they must not change.
const (
	// On metadata.component (the image).
	propImageKind   = "stowaway:image:kind"
	propImageID     = "stowaway:image:id"
	propImageTag    = "stowaway:image:tag" // repeated, in order
	propImageOS     = "stowaway:image:os"
	propImageArch   = "stowaway:image:architecture"
	propImageAuthor = "stowaway:image:author"
	propImageVar    = "stowaway:image:variant"
	propImageLayerP = "stowaway:image:layer:" // + "<index>:diffID|digest|size|mediaType"

	// On metadata.
	propCataloger   = "stowaway:cataloger:"          // + name; value = version
	propWarning     = "stowaway:warning"             // repeated, in order
	propOSDBProblem = "stowaway:os-database-problem" // repeated, in order

	// On the operating-system component; on metadata, together with
	// versionID and prettyName, when the distro has no id and so no
	// operating-system component (NO_OS, UNKNOWN_OS).
	propDistroStatus     = "stowaway:distro:status"
	propDistroReason     = "stowaway:distro:reason"
	propDistroRelease    = "stowaway:distro:release"
	propDistroCodename   = "stowaway:distro:codename"
	propDistroVersionID  = "stowaway:distro:versionID"
	propDistroPrettyName = "stowaway:distro:prettyName"

	// On package components. Type is written only when it differs from the
	// purl's type (today they are always equal).
	propPkgType          = "stowaway:package:type"
	propPkgEpoch         = "stowaway:package:epoch"
	propPkgRelease       = "stowaway:package:release"
	propPkgArch          = "stowaway:package:arch"
	propPkgSourceName    = "stowaway:package:sourceName"
	propPkgSourceVersion = "stowaway:package:sourceVersion"
	propPkgModule        = "stowaway:package:module"
	propPkgPath          = "stowaway:package:path"
	propPkgLayer         = "stowaway:package:layerDiffID"
	propPkgCataloger     = "stowaway:package:cataloger"
	propPkgCPE           = "stowaway:package:cpe" // the CPEs after the first (the component's cpe), in order
)

// encodeCycloneDX writes inv (already normalized) as CycloneDX JSON of the
// given spec version.
func encodeCycloneDX(w io.Writer, inv *inventory.Inventory, spec cdx.SpecVersion, opts Options) error {
	bom, err := buildCycloneDX(inv, opts)
	if err != nil {
		return err
	}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, spec); err != nil {
		return fmt.Errorf("sbom: encode cyclonedx: %w", err)
	}
	return nil
}

func buildCycloneDX(inv *inventory.Inventory, opts Options) (*cdx.BOM, error) {
	id, err := contentID(inv)
	if err != nil {
		return nil, err
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + id.String()

	src := inv.Source
	image := cdx.Component{
		BOMRef:     imageBOMRef(src),
		Type:       cdx.ComponentTypeContainer,
		Name:       src.Ref,
		Version:    src.Digest,
		PackageURL: imagePURL(src),
	}
	var ip props
	ip.add(propImageKind, src.Kind)
	ip.add(propImageID, src.ImageID)
	for _, t := range src.Tags {
		ip.addAlways(propImageTag, t)
	}
	ip.add(propImageOS, src.OS)
	ip.add(propImageArch, src.Architecture)
	ip.add(propImageVar, src.Variant)
	ip.add(propImageAuthor, src.Author)
	for i, l := range src.Layers {
		p := propImageLayerP + strconv.Itoa(i) + ":"
		ip.addAlways(p+"diffID", l.DiffID)
		ip.add(p+"digest", l.Digest)
		if l.Size != 0 {
			ip.add(p+"size", strconv.FormatInt(l.Size, 10))
		}
		ip.add(p+"mediaType", l.MediaType)
	}
	image.Properties = ip.ptr()

	tool := cdx.Component{Type: cdx.ComponentTypeApplication, Name: toolName, Version: opts.ToolVersion}
	var mp props
	for _, c := range inv.Catalogers {
		mp.addAlways(propCataloger+c.Name, strconv.Itoa(c.Version))
	}
	for _, w := range inv.Warnings {
		mp.addAlways(propWarning, w)
	}
	for _, w := range inv.OSDatabaseProblems {
		mp.addAlways(propOSDBProblem, w)
	}
	var components []cdx.Component
	if d := inv.Distro; d != nil {
		if d.ID == "" {
			mp.add(propDistroVersionID, d.VersionID)
			mp.add(propDistroPrettyName, d.PrettyName)
			distroProps(&mp, d)
		} else {
			components = append(components, osComponent(d))
		}
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp:  formatCDXTime(inv.CreatedAt),
		Tools:      &cdx.ToolsChoice{Components: &[]cdx.Component{tool}},
		Component:  &image,
		Properties: mp.ptr(),
	}

	refs := bomRefs(inv.Packages)
	for i, p := range inv.Packages {
		components = append(components, packageComponent(p, refs[i], opts.Names))
	}
	files, deps := cdxDependencies(inv, image.BOMRef, refs)
	components = append(components, files...)
	if len(components) > 0 {
		bom.Components = &components
	}
	if len(deps) > 0 {
		bom.Dependencies = &deps
	}
	return bom, nil
}

// fileRefPrefix starts the bom-ref of a file component: the project root
// of a lockfile's dependency graph.
const fileRefPrefix = "file:"

// cdxDependencies is the dependency graph of inv (relationships already
// pruned to its packages) as CycloneDX dependencies: each package's
// bom-ref dependsOn the packages it needs; a file component per lockfile
// that names its project's direct dependencies stands for that project
// (the relationships' root) and dependsOn them; the image dependsOn those
// files. Packages without edges are left out.
func cdxDependencies(inv *inventory.Inventory, imageRef string, refs []string) ([]cdx.Component, []cdx.Dependency) {
	if len(inv.Relationships) == 0 {
		return nil, nil
	}
	type key struct{ path, name, version string }
	byKey := make(map[key]string, len(inv.Packages))
	for i, p := range inv.Packages {
		file, _, _ := strings.Cut(p.Path, "!")
		k := key{file, p.Name, p.Version}
		if _, ok := byKey[k]; !ok {
			byKey[k] = refs[i]
		}
	}
	out := map[string][]string{}
	var files []cdx.Component
	var roots []string
	for _, r := range inv.Relationships {
		to, ok := byKey[key{r.Path, r.To.Name, r.To.Version}]
		if !ok {
			continue
		}
		from := fileRefPrefix + r.Path
		if !r.From.IsRoot() {
			if from, ok = byKey[key{r.Path, r.From.Name, r.From.Version}]; !ok {
				continue
			}
		} else if _, seen := out[from]; !seen {
			files = append(files, cdx.Component{BOMRef: from, Type: cdx.ComponentTypeFile, Name: r.Path})
			roots = append(roots, from)
		}
		out[from] = append(out[from], to)
	}
	if len(roots) > 0 {
		out[imageRef] = roots
	}
	deps := make([]cdx.Dependency, 0, len(out))
	for ref, on := range out {
		slices.Sort(on)
		on = slices.Compact(on)
		deps = append(deps, cdx.Dependency{Ref: ref, Dependencies: &on})
	}
	slices.SortFunc(deps, func(a, b cdx.Dependency) int { return strings.Compare(a.Ref, b.Ref) })
	return files, deps
}

func osComponent(d *inventory.Distro) cdx.Component {
	var p props
	distroProps(&p, d)
	ref := "os:" + d.ID
	if d.VersionID != "" {
		ref += "@" + d.VersionID
	}
	return cdx.Component{
		BOMRef:      ref,
		Type:        cdx.ComponentTypeOS,
		Name:        d.ID,
		Version:     d.VersionID,
		Description: d.PrettyName,
		Properties:  p.ptr(),
	}
}

// distroProps adds the distro fields that have no standard place.
func distroProps(p *props, d *inventory.Distro) {
	p.add(propDistroRelease, d.Release)
	p.add(propDistroCodename, d.Codename)
	p.addAlways(propDistroStatus, string(d.Status))
	p.add(propDistroReason, d.Reason)
}

func packageComponent(p inventory.Package, ref string, names names.Names) cdx.Component {
	c := cdx.Component{
		BOMRef:     ref,
		Type:       cdx.ComponentTypeLibrary,
		Name:       p.Name,
		Version:    p.Version,
		PackageURL: p.PURL,
		Licenses:   cdxLicenses(p.Licenses),
	}
	if group, name, ok := names.ComponentGroup(p); ok {
		c.Group, c.Name = group, name
	}
	var pp props
	if pu, err := packageurl.FromString(p.PURL); err != nil || pu.Type != string(p.Type) {
		pp.add(propPkgType, string(p.Type))
	}
	if p.Epoch != 0 {
		pp.add(propPkgEpoch, strconv.Itoa(p.Epoch))
	}
	pp.add(propPkgRelease, p.Release)
	pp.add(propPkgArch, p.Arch)
	pp.add(propPkgSourceName, p.SourceName)
	pp.add(propPkgSourceVersion, p.SourceVersion)
	pp.add(propPkgModule, p.Module)
	pp.add(propPkgPath, p.Path)
	pp.add(propPkgLayer, p.Layer)
	pp.add(propPkgCataloger, p.Cataloger)
	if len(p.CPEs) > 0 {
		c.CPE = p.CPEs[0]
		for _, e := range p.CPEs[1:] {
			pp.add(propPkgCPE, e)
		}
	}
	c.Properties = pp.ptr()
	return c
}

// cdxLicenses maps license strings to CycloneDX license choices; see the
// package doc. The schema allows either license objects or exactly one
// expression, so an expression is only used for a lone string.
func cdxLicenses(ls []string) *cdx.Licenses {
	if len(ls) == 0 {
		return nil
	}
	out := make(cdx.Licenses, 0, len(ls))
	for _, l := range ls {
		switch {
		case isSPDXID(l):
			out = append(out, cdx.LicenseChoice{License: &cdx.License{ID: l}})
		case len(ls) == 1 && isCompound(l) && isSPDXExpression(l):
			out = append(out, cdx.LicenseChoice{Expression: l})
		default:
			out = append(out, cdx.LicenseChoice{License: &cdx.License{Name: l}})
		}
	}
	return &out
}

// bomRefs gives each package a unique bom-ref: its PURL, with "#2", "#3"
// ... appended to the second and later packages that share one (the same
// package found at two paths). Packages are sorted, so this is deterministic.
func bomRefs(pkgs []inventory.Package) []string {
	seen := make(map[string]int, len(pkgs))
	refs := make([]string, len(pkgs))
	for i, p := range pkgs {
		seen[p.PURL]++
		refs[i] = p.PURL
		if n := seen[p.PURL]; n > 1 {
			refs[i] = p.PURL + "#" + strconv.Itoa(n)
		}
	}
	return refs
}

// imagePURL is the pkg:oci purl of a registry image pinned by digest, or ""
// for other sources (an archive or directory has no repository to name).
func imagePURL(src inventory.Source) string {
	if src.Kind != "registry" || src.Digest == "" {
		return ""
	}
	ref, err := name.ParseReference(src.Ref, name.WeakValidation)
	if err != nil {
		return ""
	}
	repo := ref.Context()
	path := repo.RepositoryStr()
	q := packageurl.Qualifiers{{Key: "repository_url", Value: repo.RegistryStr() + "/" + path}}
	if tag, ok := ref.(name.Tag); ok {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: tag.TagStr()})
	}
	return packageurl.NewPackageURL("oci", "", path[strings.LastIndexByte(path, '/')+1:], src.Digest, q, "").ToString()
}

func imageBOMRef(src inventory.Source) string {
	if src.Digest != "" {
		return "image:" + src.Digest
	}
	return "image:" + src.Ref
}

// contentID is a name-based UUID (v5) derived from the image digest and a
// hash of the whole inventory, so that the same inventory always gets the
// same id and different contents get different ids.
func contentID(inv *inventory.Inventory) (uuid.UUID, error) {
	b, err := json.Marshal(inv)
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("sbom: hash inventory: %w", err)
	}
	sum := sha256.Sum256(b)
	return uuid.NewSHA1(uuid.NameSpaceURL, fmt.Appendf(nil, "stowaway:%s:%s:%x", inv.Source.Ref, inv.Source.Digest, sum)), nil
}

func formatCDXTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// props builds a property list, skipping empty values unless told otherwise.
type props []cdx.Property

func (p *props) add(name, value string) {
	if value != "" {
		*p = append(*p, cdx.Property{Name: name, Value: value})
	}
}

func (p *props) addAlways(name, value string) {
	*p = append(*p, cdx.Property{Name: name, Value: value})
}

func (p props) ptr() *[]cdx.Property {
	if len(p) == 0 {
		return nil
	}
	s := []cdx.Property(p)
	return &s
}

// propList reads a component's properties.
func propList(p *[]cdx.Property) []cdx.Property {
	if p == nil {
		return nil
	}
	return *p
}

// decodeCycloneDX turns a CycloneDX JSON document into an inventory. It reads
// Stowaway's properties when present and falls back to the standard fields
// (purl, name, version, licenses) for SBOMs written by other tools.
func decodeCycloneDX(b []byte, names names.Names) (*inventory.Inventory, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("sbom: decode cyclonedx: %w", err)
	}
	inv := &inventory.Inventory{}
	if md := bom.Metadata; md != nil {
		if md.Timestamp != "" {
			t, err := time.Parse(time.RFC3339Nano, md.Timestamp)
			if err != nil {
				return nil, fmt.Errorf("sbom: decode cyclonedx: metadata.timestamp: %w", err)
			}
			inv.CreatedAt = t
		}
		if c := md.Component; c != nil {
			src, err := decodeImage(c)
			if err != nil {
				return nil, err
			}
			inv.Source = src
		}
		for _, p := range propList(md.Properties) {
			switch {
			case strings.HasPrefix(p.Name, propCataloger):
				v, err := strconv.Atoi(p.Value)
				if err != nil {
					return nil, fmt.Errorf("sbom: decode cyclonedx: property %s: version %q: %w", p.Name, p.Value, err)
				}
				inv.Catalogers = append(inv.Catalogers, inventory.CatalogerInfo{Name: strings.TrimPrefix(p.Name, propCataloger), Version: v})
			case p.Name == propWarning:
				inv.Warnings = append(inv.Warnings, p.Value)
			case p.Name == propOSDBProblem:
				inv.OSDatabaseProblems = append(inv.OSDatabaseProblems, p.Value)
			case strings.HasPrefix(p.Name, "stowaway:distro:"):
				if inv.Distro == nil {
					inv.Distro = &inventory.Distro{}
				}
				setDistroProp(inv.Distro, p)
			}
		}
	}
	var skipped []string
	refs := map[string]int{}        // a package component's bom-ref: its index in inv.Packages
	fileRefs := map[string]string{} // a file component's bom-ref: its path
	var walk func(cs *[]cdx.Component) error
	walk = func(cs *[]cdx.Component) error {
		if cs == nil {
			return nil
		}
		for i := range *cs {
			c := &(*cs)[i]
			switch {
			case c.Type == cdx.ComponentTypeOS:
				if inv.Distro == nil || inv.Distro.ID == "" {
					inv.Distro = decodeDistro(c)
				}
			case c.PackageURL != "":
				p, err := decodePackage(c, names)
				if err != nil {
					return err
				}
				if c.BOMRef != "" {
					refs[c.BOMRef] = len(inv.Packages)
				}
				inv.Packages = append(inv.Packages, p)
			case c.Type == cdx.ComponentTypeFile:
				if c.BOMRef != "" {
					fileRefs[c.BOMRef] = c.Name
				}
			case c.Type != cdx.ComponentTypeContainer && c.Type != cdx.ComponentTypeFile:
				skipped = append(skipped, c.Name)
			}
			if err := walk(c.Components); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(bom.Components); err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		inv.Warnings = append(inv.Warnings, fmt.Sprintf("sbom: %d components without a purl were skipped (first: %q)", len(skipped), skipped[0]))
	}
	if bom.Dependencies != nil {
		imageRef := ""
		if bom.Metadata != nil && bom.Metadata.Component != nil {
			imageRef = bom.Metadata.Component.BOMRef
		}
		inv.Relationships = decodeDependencies(*bom.Dependencies, inv.Packages, refs, fileRefs, imageRef)
	}
	return inv, nil
}

// decodeDependencies reads a CycloneDX dependency graph back into
// relationships where the inventory's model holds it: between packages of
// one file, from a file component (Stowaway's project root) to packages of
// that file, and from the metadata component (another tool's root) to a
// package, taken as a direct dependency within that package's file.
// Edges between packages of different files, or naming unknown bom-refs,
// are dropped; at most MaxRelationshipsPerFile edges per file are kept.
func decodeDependencies(deps []cdx.Dependency, pkgs []inventory.Package, refs map[string]int, fileRefs map[string]string, imageRef string) []inventory.Relationship {
	perFile := map[string]int{}
	var rels []inventory.Relationship
	for _, d := range deps {
		if d.Dependencies == nil {
			continue
		}
		for _, on := range *d.Dependencies {
			ti, ok := refs[on]
			if !ok {
				continue
			}
			to := pkgs[ti]
			file, _, _ := strings.Cut(to.Path, "!")
			r := inventory.Relationship{Path: file, To: inventory.RefOf(to)}
			if fi, ok := refs[d.Ref]; ok {
				from := pkgs[fi]
				if ff, _, _ := strings.Cut(from.Path, "!"); ff != file {
					continue
				}
				r.From = inventory.RefOf(from)
			} else if path, ok := fileRefs[d.Ref]; ok {
				if path != file {
					continue
				}
			} else if d.Ref != imageRef || imageRef == "" {
				continue
			}
			if perFile[file] >= inventory.MaxRelationshipsPerFile {
				continue
			}
			perFile[file]++
			rels = append(rels, r)
		}
	}
	rels = inventory.SortRelationships(rels)
	if len(rels) == 0 {
		return nil
	}
	return rels
}

func decodeImage(c *cdx.Component) (inventory.Source, error) {
	src := inventory.Source{Ref: c.Name, Digest: c.Version}
	layer := func(i int) *inventory.Layer {
		for len(src.Layers) <= i {
			src.Layers = append(src.Layers, inventory.Layer{})
		}
		return &src.Layers[i]
	}
	for _, p := range propList(c.Properties) {
		switch p.Name {
		case propImageKind:
			src.Kind = p.Value
		case propImageID:
			src.ImageID = p.Value
		case propImageTag:
			src.Tags = append(src.Tags, p.Value)
		case propImageOS:
			src.OS = p.Value
		case propImageArch:
			src.Architecture = p.Value
		case propImageVar:
			src.Variant = p.Value
		case propImageAuthor:
			src.Author = p.Value
		default:
			rest, ok := strings.CutPrefix(p.Name, propImageLayerP)
			if !ok {
				continue
			}
			idx, field, ok := strings.Cut(rest, ":")
			i, err := strconv.Atoi(idx)
			// Layer indexes are dense and in order; refuse wild ones rather
			// than allocate for them.
			if !ok || err != nil || i < 0 || i > len(src.Layers) {
				return src, fmt.Errorf("sbom: decode cyclonedx: image property %q: bad layer index", p.Name)
			}
			l := layer(i)
			switch field {
			case "diffID":
				l.DiffID = p.Value
			case "digest":
				l.Digest = p.Value
			case "size":
				n, err := strconv.ParseInt(p.Value, 10, 64)
				if err != nil {
					return src, fmt.Errorf("sbom: decode cyclonedx: image property %q: %w", p.Name, err)
				}
				l.Size = n
			case "mediaType":
				l.MediaType = p.Value
			}
		}
	}
	return src, nil
}

// decodeDistro reads an operating-system component. Without Stowaway's
// properties (an SBOM from another tool) it runs Stowaway's own OS detection
// over an os-release made of the component's name and version, so that the
// release, namespace and support status come out as a scan would give them.
func decodeDistro(c *cdx.Component) *inventory.Distro {
	d := &inventory.Distro{ID: c.Name, VersionID: c.Version, PrettyName: c.Description}
	stowaway := false
	for _, p := range propList(c.Properties) {
		setDistroProp(d, p)
		stowaway = stowaway || p.Name == propDistroStatus
	}
	if stowaway {
		return d
	}
	// Decode classifies it (Status "").
	return &inventory.Distro{ID: c.Name, VersionID: c.Version, PrettyName: c.Description}
}

func setDistroProp(d *inventory.Distro, p cdx.Property) {
	switch p.Name {
	case propDistroRelease:
		d.Release = p.Value
	case propDistroCodename:
		d.Codename = p.Value
	case propDistroStatus:
		d.Status = inventory.OSStatus(p.Value)
	case propDistroReason:
		d.Reason = p.Value
	case propDistroVersionID:
		d.VersionID = p.Value
	case propDistroPrettyName:
		d.PrettyName = p.Value
	}
}

func decodePackage(c *cdx.Component, names names.Names) (inventory.Package, error) {
	pu, err := packageurl.FromString(c.PackageURL)
	if err != nil {
		return inventory.Package{}, fmt.Errorf("sbom: decode cyclonedx: component %q: purl: %w", c.BOMRef, err)
	}
	p := inventory.Package{
		Name:    c.Name,
		Version: c.Version,
		Type:    inventory.Type(pu.Type),
		PURL:    c.PackageURL,
	}
	if c.Licenses != nil {
		for _, l := range *c.Licenses {
			switch {
			case l.Expression != "":
				p.Licenses = append(p.Licenses, l.Expression)
			case l.License != nil && l.License.ID != "":
				p.Licenses = append(p.Licenses, l.License.ID)
			case l.License != nil && l.License.Name != "":
				p.Licenses = append(p.Licenses, l.License.Name)
			}
		}
	}
	if c.CPE != "" {
		p.CPEs = append(p.CPEs, c.CPE)
	}
	stowaway := false
	for _, pr := range propList(c.Properties) {
		if strings.HasPrefix(pr.Name, "stowaway:package:") {
			stowaway = true
		}
		switch pr.Name {
		case propPkgType:
			p.Type = inventory.Type(pr.Value)
		case propPkgEpoch:
			n, err := strconv.Atoi(pr.Value)
			if err != nil {
				return p, fmt.Errorf("sbom: decode cyclonedx: component %q: epoch: %w", c.BOMRef, err)
			}
			p.Epoch = n
		case propPkgRelease:
			p.Release = pr.Value
		case propPkgArch:
			p.Arch = pr.Value
		case propPkgSourceName:
			p.SourceName = pr.Value
		case propPkgSourceVersion:
			p.SourceVersion = pr.Value
		case propPkgModule:
			p.Module = pr.Value
		case propPkgPath:
			p.Path = pr.Value
		case propPkgLayer:
			p.Layer = pr.Value
		case propPkgCPE:
			p.CPEs = append(p.CPEs, pr.Value)
		case propPkgCataloger:
			p.Cataloger = pr.Value
		}
	}
	// The name last: joining a group depends on the type, which a property
	// may have set.
	if p.Name == "" {
		p.Name = names.PackageName(pu)
	}
	if c.Group != "" && c.Name != "" {
		p.Name = names.JoinName(p.Type, c.Group, c.Name)
	}
	if !stowaway {
		// Another tool's SBOM: take what the purl says.
		fromPURLQualifiers(&p, pu)
	}
	return p, nil
}
