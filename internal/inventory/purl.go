package inventory

import (
	"strconv"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// purlDistroNamespace maps a distro id to the PURL namespace that peers use.
var purlDistroNamespace = map[string]string{
	"rhel":   "redhat",
	"ol":     "oracle",
	"amzn":   "amazon",
	"centos": "centos",
}

// PURL builds the package URL of p, qualified with the distro for OS packages.
func PURL(p Package, d *Distro) string {
	var q packageurl.Qualifiers
	add := func(k, v string) {
		if v != "" {
			q = append(q, packageurl.Qualifier{Key: k, Value: v})
		}
	}
	namespace, name, version := "", p.Name, p.Version
	typ := string(p.Type)
	switch p.Type {
	case TypeDeb, TypeAPK, TypeRPM:
		distroID := ""
		if d != nil {
			distroID = d.ID
		}
		namespace = distroID
		if ns, ok := purlDistroNamespace[distroID]; ok {
			namespace = ns
		}
		add("arch", p.Arch)
		if p.Type == TypeRPM {
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
	case TypePyPI:
		name = strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(name))
	case TypeNPM:
		if strings.HasPrefix(name, "@") {
			if i := strings.IndexByte(name, '/'); i > 0 {
				namespace, name = name[:i], name[i+1:]
			}
		}
	case TypeMaven, TypeComposer, TypeGolang:
		sep := "/"
		if p.Type == TypeMaven {
			sep = ":"
		}
		if i := strings.LastIndex(name, sep); i > 0 {
			namespace, name = name[:i], name[i+1:]
		}
	}
	return packageurl.NewPackageURL(typ, namespace, name, version, q, "").ToString()
}
