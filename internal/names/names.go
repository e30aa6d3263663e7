// Package names answers, from the distribution and ecosystem descriptors
// handed to it, what shared code needs to say about a package, an advisory
// or a fix in a distribution's or an ecosystem's own terms: package URLs
// (the distribution's PURL namespace, the ecosystem's name rules) and the
// package names read back from them, the CycloneDX component group, the
// package manager Inspector names (by the file a package came from), the database behind an advisory id, and the
// service behind a fix channel. It holds no distribution's or ecosystem's
// name itself.
package names

import (
	"strconv"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Names are the descriptors names are taken from (internal/distro/all and
// internal/ecosystem/all list Stowaway's). The zero value knows none and
// falls back on generic answers.
type Names struct {
	Distros    distro.List
	Ecosystems ecosystem.List
}

// purlNamespace is the PURL namespace of OS packages of the distribution
// with inventory id id: its descriptor's, or the id itself.
func (n Names) purlNamespace(id string) string {
	for i := range n.Distros {
		if d := &n.Distros[i]; d.ID == id && d.PURLNamespace != "" {
			return d.PURLNamespace
		}
	}
	return id
}

// PURL builds the package URL of p, qualified with the distro for OS
// packages.
func (n Names) PURL(p inventory.Package, d *inventory.Distro) string {
	var q packageurl.Qualifiers
	add := func(k, v string) {
		if v != "" {
			q = append(q, packageurl.Qualifier{Key: k, Value: v})
		}
	}
	namespace, name, version := "", p.Name, p.Version
	if p.Type.IsOS() {
		distroID := ""
		if d != nil {
			distroID = d.ID
		}
		namespace = n.purlNamespace(distroID)
		add("arch", p.Arch)
		if p.Type == inventory.TypeRPM {
			// PURL rpm versions carry no epoch; it is a qualifier.
			if i := strings.IndexByte(version, ':'); i >= 0 {
				version = version[i+1:]
			}
			if p.Epoch != 0 {
				add("epoch", strconv.Itoa(p.Epoch))
			}
		}
		if d != nil && d.ID != "" {
			v := d.VersionID
			if v == "" {
				v = d.Release
			}
			add("distro", strings.TrimSuffix(d.ID+"-"+v, "-"))
		}
		if p.SourceName != "" && p.SourceName != p.Name {
			add("upstream", p.SourceName)
		}
	} else if e, ok := n.Ecosystems.ByType(p.Type); ok {
		namespace, name = e.SplitName(name)
	}
	return packageurl.NewPackageURL(string(p.Type), namespace, name, version, q, "").ToString()
}

// JoinName is the package name of a namespace and a name of type t, as
// its ecosystem joins them ("/" for a type no descriptor has).
func (n Names) JoinName(t inventory.Type, namespace, name string) string {
	if e, ok := n.Ecosystems.ByType(t); ok {
		return e.JoinName(namespace, name)
	}
	return (&ecosystem.Descriptor{}).JoinName(namespace, name)
}

// PackageName is the inventory name of a purl: the name, prefixed with the
// namespace for language ecosystems (the namespace of an OS package is its
// distribution).
func (n Names) PackageName(pu packageurl.PackageURL) string {
	if pu.Namespace == "" || inventory.Type(pu.Type).IsOS() {
		return pu.Name
	}
	return n.JoinName(inventory.Type(pu.Type), pu.Namespace, pu.Name)
}

// ComponentGroup splits p's name into a CycloneDX component group and name
// when its ecosystem writes the namespace as the group; ok is false
// otherwise.
func (n Names) ComponentGroup(p inventory.Package) (group, name string, ok bool) {
	e, found := n.Ecosystems.ByType(p.Type)
	if !found || !e.ComponentGroup {
		return "", p.Name, false
	}
	group, name = e.SplitName(p.Name)
	return group, name, group != ""
}

// osPackageManager is Inspector's package manager of every operating
// system package, whatever its format.
const osPackageManager = "OS"

// PackageManager is the name Inspector (and ECR's enhanced findings) give
// the package manager of p: OS for every operating-system package, for a
// language package the one its ecosystem's descriptor names for the file
// it was read from (ecosystem.Descriptor.ManagerOf). ok is false for a
// type no descriptor has.
func (n Names) PackageManager(p inventory.Package) (string, bool) {
	if p.Type.IsOS() {
		return osPackageManager, true
	}
	if e, ok := n.Ecosystems.ByType(p.Type); ok {
		if m := e.ManagerOf(p.Path); m != "" {
			return m, true
		}
	}
	return "", false
}

// Advisory ids that belong to no distribution or ecosystem, and the
// database of any other id.
var commonIDPrefixes = []ecosystem.IDPrefix{{Prefix: "CVE-", Database: "NVD"}, {Prefix: "GHSA-", Database: "GitHub Advisory Database"}}

const defaultDatabase = "OSV"

// AdvisoryDatabase names the database an advisory id comes from: CVE and
// GHSA ids first, then the descriptors' own prefixes (ecosystems, then
// distributions), else OSV.
func (n Names) AdvisoryDatabase(id string) string {
	for _, x := range commonIDPrefixes {
		if strings.HasPrefix(id, x.Prefix) {
			return x.Database
		}
	}
	for _, e := range n.Ecosystems {
		for _, x := range e.AdvisoryIDPrefixes {
			if strings.HasPrefix(id, x.Prefix) {
				return x.Database
			}
		}
	}
	for _, d := range n.Distros {
		for _, x := range d.AdvisoryIDPrefixes {
			if strings.HasPrefix(id, x.Prefix) {
				return x.Database
			}
		}
	}
	return defaultDatabase
}

// FixChannel describes a fix channel as the distribution that declares it
// does, or in generic words ("a separate channel") when none does.
func (n Names) FixChannel(ch advisory.FixChannel) distro.FixChannel {
	for _, d := range n.Distros {
		for _, c := range d.FixChannels {
			if c.Channel == ch {
				return c
			}
		}
	}
	return distro.FixChannel{Channel: ch, Service: "a separate channel", Enable: "enable " + string(ch)}
}
