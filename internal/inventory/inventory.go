// Package inventory holds the scanner's central data types: the packages found
// in an image (its SBOM), the detected operating system and where each package
// came from. It is the lowest layer of Stowaway and imports nothing of ours.
package inventory

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Type says which package manager or ecosystem a package belongs to. The values
// double as PURL types where one exists. What an ecosystem's type means for
// matching (OSV ecosystem, version scheme, names) is its descriptor's
// (package ecosystem).
type Type string

// OS package types: the package formats. A language ecosystem's type is
// declared by its package (internal/ecosystem/<name>).
const (
	TypeDeb Type = "deb"
	TypeAPK Type = "apk"
	TypeRPM Type = "rpm"
)

// IsOS reports whether packages of this type are installed by the operating
// system's package manager (BASIC scanning) rather than a language tool.
func (t Type) IsOS() bool { return t == TypeDeb || t == TypeAPK || t == TypeRPM }

// Package is one installed package.
//
// Version is the full version as the package's own version scheme compares it:
// dpkg "[epoch:]upstream[-revision]", rpm "[epoch:]version-release" (Epoch is
// also given on its own), apk "1.2.3-r4", and the ecosystem's version string for
// language packages.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Type    Type   `json:"type"`
	// Epoch is the rpm or dpkg epoch (0 when absent).
	Epoch int `json:"epoch,omitempty"`
	// Release is the rpm release (the part after the last '-').
	Release string `json:"release,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// SourceName and SourceVersion name the source package: dpkg Source,
	// rpm SOURCERPM (name and version-release parsed out of the file name),
	// and the apk origin (apk keeps no separate origin version, so
	// SourceVersion is the package version).
	SourceName    string `json:"sourceName,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	// Module is the rpm modularity label (name:stream:version:context).
	Module   string   `json:"module,omitempty"`
	Licenses []string `json:"licenses,omitempty"`
	// PURL is the package URL; Finalize fills it in when a cataloger left it empty.
	PURL string `json:"purl"`
	// Path is the file the package was read from: the package DB for OS
	// packages, the manifest, lockfile, archive or binary for language packages.
	// A package inside a nested archive has "outer.jar!inner.jar" paths.
	Path string `json:"path"`
	// Layer is the diffID of the layer that holds Path in the squashed image.
	Layer string `json:"layer,omitempty"`
	// Cataloger is the name of the cataloger that found the package.
	Cataloger string `json:"cataloger"`
	// CPEs are the package's CPE 2.3 names, set by catalogers that know
	// them (the binary classifier); NVD's configurations name products so.
	CPEs []string `json:"cpes,omitempty"`
}

// OSStatus says whether the image's operating system can be scanned.
type OSStatus string

// Operating-system statuses. The names follow ECR's scan statuses where one fits.
const (
	// OSSupported: a release we have advisory data for.
	OSSupported OSStatus = "SUPPORTED"
	// OSUnsupported: a recognised distribution or release with no feed
	// coverage, such as an end-of-life release (ECR's UNSUPPORTED_IMAGE).
	OSUnsupported OSStatus = "UNSUPPORTED_IMAGE"
	// OSUnknown: release files present but the distribution is not one we know.
	OSUnknown OSStatus = "UNKNOWN_OS"
	// OSNone: no operating system release files at all (scratch, distroless
	// without os-release, or a directory of lockfiles).
	OSNone OSStatus = "NO_OS"
)

// Distro is the detected operating system.
type Distro struct {
	// ID is the normalized distribution id: alpine, debian, ubuntu, rhel,
	// centos, ol, amzn, or whatever os-release ID said for others.
	ID string `json:"id"`
	// VersionID is the full version as the release files give it (3.19.1, 12,
	// 22.04, 8.1, 2023).
	VersionID string `json:"versionId,omitempty"`
	// Release is the part of the version that selects advisory data: alpine
	// "3.19", debian "12", ubuntu "22.04", rhel "9", amzn "2023".
	Release    string `json:"release,omitempty"`
	Codename   string `json:"codename,omitempty"`
	PrettyName string `json:"prettyName,omitempty"`
	// Status and Reason say whether the release is scannable and why not.
	Status OSStatus `json:"status"`
	Reason string   `json:"reason,omitempty"`
}

// Namespace is the advisory namespace of the distro, such as "debian:12", or ""
// when the distro has no release.
func (d *Distro) Namespace() string {
	if d == nil || d.ID == "" || d.Release == "" {
		return ""
	}
	return d.ID + ":" + d.Release
}

// Layer describes one image layer.
type Layer struct {
	Digest    string `json:"digest,omitempty"` // compressed blob digest
	DiffID    string `json:"diffId"`           // uncompressed digest
	Size      int64  `json:"size,omitempty"`   // compressed size
	MediaType string `json:"mediaType,omitempty"`
}

// Source describes what was scanned.
type Source struct {
	// Ref is the source as the user gave it, normalized with its kind prefix.
	Ref  string `json:"ref"`
	Kind string `json:"kind"` // registry, docker-archive, oci-layout, dir
	// Digest is the manifest digest, ImageID the config digest (both empty for dir:).
	Digest       string   `json:"digest,omitempty"`
	ImageID      string   `json:"imageId,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	OS           string   `json:"os,omitempty"`
	Architecture string   `json:"architecture,omitempty"`
	Variant      string   `json:"variant,omitempty"`
	// Author is the image config's author field (empty for dir:).
	Author string  `json:"author,omitempty"`
	Layers []Layer `json:"layers,omitempty"`
}

// CatalogerInfo names a cataloger and its version; both go into cache keys, so
// a new version invalidates cached results.
type CatalogerInfo struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// Inventory is everything known about an image's contents: the SBOM.
type Inventory struct {
	Source     Source          `json:"source"`
	Distro     *Distro         `json:"distro"`
	Packages   []Package       `json:"packages"`
	Catalogers []CatalogerInfo `json:"catalogers"`
	// Relationships is the dependency graph, as the files record it (see
	// graph.go), sorted by path, from and to.
	Relationships []Relationship `json:"relationships,omitempty"`
	// Warnings are problems that did not stop cataloging, such as one
	// malformed package.json, each naming the file.
	Warnings []string `json:"warnings,omitempty"`
	// OSDatabaseProblems say why the OS packages of a detected OS could not
	// be read (no package database; one behind a symlink that leaves the
	// root). Each is also a warning; a scan's status description carries
	// them, so that no OS findings is never a silent success.
	OSDatabaseProblems []string  `json:"osDatabaseProblems,omitempty"`
	CreatedAt          time.Time `json:"createdAt"`
	// SymbolTables are the symbol tables of the Go binaries found, by path
	// (see SymbolTable): kept for matching, not part of the SBOM.
	SymbolTables map[string]*SymbolTable `json:"-"`
}

// Clean makes every text field of p valid UTF-8 without NUL bytes: each
// invalid byte and each NUL becomes U+FFFD. An image's package databases
// hold whatever bytes their author wrote; stores (PostgreSQL text columns),
// JSON consumers and terminals take text. A name so changed matches no
// advisory, as the raw bytes would not have.
func (p *Package) Clean() {
	for _, s := range []*string{&p.Name, &p.Version, &p.Release, &p.Arch, &p.SourceName, &p.SourceVersion, &p.Module, &p.PURL, &p.Path, &p.Layer, &p.Cataloger} {
		*s = CleanText(*s)
	}
	for i := range p.Licenses {
		p.Licenses[i] = CleanText(p.Licenses[i])
	}
	for i := range p.CPEs {
		p.CPEs[i] = CleanText(p.CPEs[i])
	}
}

// CleanText is s as valid UTF-8 with no NUL byte (see Package.Clean).
func CleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
