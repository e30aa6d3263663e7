// Package sbom writes an inventory.Inventory as a software bill of materials
// and reads one back.
//
// Formats:
//   - "cyclonedx": CycloneDX 1.6 JSON, built with github.com/CycloneDX/cyclonedx-go.
//   - "spdx": SPDX 2.3 JSON, built with github.com/spdx/tools-golang.
//   - "json": Stowaway's own format, the Inventory itself as indented JSON.
//
// Decode reads CycloneDX JSON (any 1.x that cyclonedx-go understands),
// Stowaway JSON and SPDX 2.x JSON, and tells them apart by their top-level
// keys. CycloneDX and Stowaway JSON written by Encode round-trip: decoding
// them gives back the inventory that was encoded (packages in Encode's order,
// empty slices as nil). SPDX has no place for every field, so it decodes with
// losses, listed in decodeSPDX.
//
// Policy choices:
//   - Output is deterministic for a given inventory. Packages are sorted by
//     (type, name, version, arch, path, layer, cataloger, purl); other lists
//     keep the inventory's order. Every timestamp comes from
//     Inventory.CreatedAt, and every identifier (CycloneDX serialNumber, SPDX
//     namespace) is derived from the image digest and a hash of the content,
//     never from a clock or a random source.
//   - Blank license strings are dropped.
//   - Every package carries a PURL. An empty PURL, or one that does not parse,
//     is replaced by names.Names.PURL(p, inv.Distro), with the descriptors
//     the caller hands over; Encode fails when that does not parse either
//     (a Type that is no valid purl type).
//   - Licenses: one entry per inventory license string. In CycloneDX a string
//     that is exactly an SPDX license id becomes {"id"}, a lone string that is
//     a valid SPDX expression becomes {"expression"}, and anything else is kept
//     verbatim as {"name"}. In SPDX the strings are ANDed into
//     licenseDeclared; those that are not valid SPDX expressions become
//     LicenseRef-* entries with the original text in
//     hasExtractedLicensingInfos. licenseConcluded is always NOASSERTION (we
//     declare what the package says; we do not conclude).
//   - Stowaway fields that have no standard place travel as CycloneDX
//     properties named "stowaway:...". The names are listed in cyclonedx.go and
//     are part of the format: renaming one breaks decoding of stored SBOMs.
//   - A registry image pinned by digest is named by a pkg:oci purl (CycloneDX
//     metadata.component.purl, an SPDX externalRef of the image package).
//   - SBOMs from other tools decode on a best-effort basis: packages come from
//     components with a purl (type, arch, epoch and source from the purl), and
//     the distro from the operating-system component run through Stowaway's
//     own OS detection, so its namespace and support status match a scan.
//   - Decode reads at most MaxDecodeSize bytes and fails clearly beyond that.
package sbom

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
)

// Format names an SBOM format.
type Format string

// The formats Encode writes.
const (
	CycloneDX Format = "cyclonedx"
	SPDX      Format = "spdx"
	JSON      Format = "json"
)

// Formats lists the formats Encode writes, default first.
func Formats() []Format { return []Format{CycloneDX, SPDX, JSON} }

// ParseFormat maps a user-given format name to a Format. Besides the Format
// values it accepts "cyclonedx-json", "cdx", "spdx-json" and "stowaway".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "cyclonedx", "cyclonedx-json", "cdx":
		return CycloneDX, nil
	case "spdx", "spdx-json":
		return SPDX, nil
	case "json", "stowaway":
		return JSON, nil
	}
	return "", fmt.Errorf("sbom: unknown format %q (want cyclonedx, spdx or json)", s)
}

// MaxDecodeSize is the largest document Decode reads. A CycloneDX SBOM of a
// large image with 20,000 packages is about 25 MiB.
const MaxDecodeSize = 256 << 20

// Options tune Encode.
type Options struct {
	// ToolVersion is Stowaway's version, recorded next to the tool name.
	ToolVersion string
	// Names are the distributions and ecosystems whose rules build a
	// missing PURL and name CycloneDX component groups.
	Names names.Names
}

// Encode writes inv to w in format, a missing PURL built with n. It does
// not modify inv.
func Encode(w io.Writer, inv *inventory.Inventory, format Format, n names.Names) error {
	return EncodeWith(w, inv, format, Options{Names: n})
}

// EncodeWith is Encode with options.
func EncodeWith(w io.Writer, inv *inventory.Inventory, format Format, opts Options) error {
	if inv == nil {
		return errors.New("sbom: encode: nil inventory")
	}
	n := normalize(inv, opts.Names)
	for _, p := range n.Packages {
		if _, err := packagePURL(p, n.Distro, opts.Names); err != nil {
			return fmt.Errorf("sbom: encode: %w", err)
		}
	}
	switch format {
	case CycloneDX:
		return encodeCycloneDX(w, n, cdxSpecDefault, opts)
	case SPDX:
		return encodeSPDX(w, n, opts)
	case JSON:
		return encodeJSON(w, n)
	}
	return fmt.Errorf("sbom: encode: unknown format %q", format)
}

// Decode reads an SBOM in any format Encode writes (SPDX with losses) and
// returns its inventory. An operating system that the document names
// without Stowaway's own status is classified by OS detection with
// n.Distros; package names are read from PURLs and CycloneDX groups with
// n.Ecosystems.
func Decode(r io.Reader, n names.Names) (*inventory.Inventory, error) {
	inv, err := decodeLimited(r, MaxDecodeSize, n)
	if err != nil {
		return nil, err
	}
	if d := inv.Distro; d != nil && d.Status == "" {
		inv.Distro = detectDistro(d.ID, d.VersionID, d.PrettyName, n.Distros)
	}
	return inv, nil
}

func decodeLimited(r io.Reader, limit int64, n names.Names) (*inventory.Inventory, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("sbom: decode: read: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("sbom: decode: document larger than the %d-byte limit", limit)
	}
	var sniff struct {
		BOMFormat   string  `json:"bomFormat"`
		SPDXVersion string  `json:"spdxVersion"`
		Source      present `json:"source"`
		Packages    present `json:"packages"`
	}
	if err := json.Unmarshal(b, &sniff); err != nil {
		return nil, fmt.Errorf("sbom: decode: not a JSON object: %w", err)
	}
	switch {
	case sniff.BOMFormat == "CycloneDX":
		return decodeCycloneDX(b, n)
	case sniff.BOMFormat != "":
		return nil, fmt.Errorf("sbom: decode: unknown bomFormat %q", sniff.BOMFormat)
	case sniff.SPDXVersion != "":
		return decodeSPDX(b, n)
	case bool(sniff.Source && sniff.Packages):
		return decodeJSON(b, n)
	}
	return nil, errors.New("sbom: decode: not a CycloneDX, SPDX or Stowaway JSON document (no bomFormat, spdxVersion or source+packages)")
}

// present records whether a JSON key was there, without keeping its value.
type present bool

func (p *present) UnmarshalJSON([]byte) error { *p = true; return nil }

// normalize returns a shallow copy of inv whose packages are sorted and all
// have a PURL that parses (built with names when missing), without the Go
// binaries' symbol tables (never part of an SBOM: see inventory.SymbolTable).
// inv itself is left alone.
func normalize(inv *inventory.Inventory, names names.Names) *inventory.Inventory {
	n := *inv
	n.SymbolTables = nil
	n.Packages = slices.Clone(inv.Packages)
	for i := range n.Packages {
		p := &n.Packages[i]
		if slices.ContainsFunc(p.Licenses, isBlank) {
			p.Licenses = slices.DeleteFunc(slices.Clone(p.Licenses), isBlank)
		}
		p.PURL, _ = packagePURL(*p, inv.Distro, names)
	}
	slices.SortStableFunc(n.Packages, comparePackages)
	n.Relationships = slices.Clone(inv.Relationships)
	n.PruneRelationships()
	return &n
}

// packagePURL returns p's PURL when it parses, else the one computed from p
// and the distro by names. It fails when that does not parse either (a
// Type that is not a valid purl type), returning it all the same.
func packagePURL(p inventory.Package, d *inventory.Distro, names names.Names) (string, error) {
	if p.PURL != "" {
		if _, err := packageurl.FromString(p.PURL); err == nil {
			return p.PURL, nil
		}
	}
	purl := names.PURL(p, d)
	if _, err := packageurl.FromString(purl); err != nil {
		return purl, fmt.Errorf("package %s %s (type %q): no valid purl: %w", p.Name, p.Version, p.Type, err)
	}
	return purl, nil
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// comparePackages is the order of packages in every format.
func comparePackages(a, b inventory.Package) int {
	return cmp.Or(
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.Arch, b.Arch),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Layer, b.Layer),
		cmp.Compare(a.Cataloger, b.Cataloger),
		cmp.Compare(a.PURL, b.PURL),
	)
}

// encodeJSON writes Stowaway's own format: the inventory, indented, in the
// struct's field order.
func encodeJSON(w io.Writer, inv *inventory.Inventory) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	if err := e.Encode(inv); err != nil {
		return fmt.Errorf("sbom: encode json: %w", err)
	}
	return nil
}

func decodeJSON(b []byte, n names.Names) (*inventory.Inventory, error) {
	var inv inventory.Inventory
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&inv); err != nil {
		return nil, fmt.Errorf("sbom: decode json: %w", err)
	}
	for i, p := range inv.Packages {
		if p.Name == "" || p.Type == "" {
			return nil, fmt.Errorf("sbom: decode json: package %d: missing name or type", i)
		}
		if _, err := packagePURL(p, inv.Distro, n); err != nil {
			return nil, fmt.Errorf("sbom: decode json: package %d: %w", i, err)
		}
	}
	inv.PruneRelationships()
	return &inv, nil
}
