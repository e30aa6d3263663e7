package advisory

import (
	"fmt"
	"strings"
)

// CPENamespace is the advisory namespace of packages identified by binary
// classification: they are matched against NVD's CPE configurations (the
// ranges in Advisory.CPE), never against a distribution's advisories.
const CPENamespace = "nvd:cpe"

// CPEAboveMark prefixes a range event's version that stands for "just
// above it": the introduced event ">1.2" of an NVD range with
// versionStartExcluding 1.2. version.CPE gives it that meaning.
const CPEAboveMark = ">"

// CPE names a product as NVD's CPE 2.3 dictionary does (part "a").
type CPE struct {
	Vendor  string `json:"vendor"`
	Product string `json:"product"`
}

// String is the pair as "vendor:product".
func (c CPE) String() string { return c.Vendor + ":" + c.Product }

// URI is the CPE 2.3 formatted string of the product at version v ("*"
// when v is empty).
func (c CPE) URI(v string) string {
	if v == "" {
		v = "*"
	}
	return "cpe:2.3:a:" + c.Vendor + ":" + c.Product + ":" + cpeEscape(v) + ":*:*:*:*:*:*:*"
}

// cpeEscape quotes the characters CPE 2.3's formatted string binding
// reserves in a version (letters, digits, '.', '_' and '-' stay).
func cpeEscape(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('\\')
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CPERange is one vulnerable cpeMatch entry of an NVD record's
// configurations, for a product of CPEProducts: an exact version
// (Version), or a range bounded by Start and End (either may be empty, an
// open bound), each inclusive or not, as NVD writes versionStartIncluding,
// versionStartExcluding, versionEndIncluding and versionEndExcluding. A
// range with no bound at all and no version means every version.
type CPERange struct {
	CPE
	Version        string `json:"version,omitempty"`
	Start          string `json:"start,omitempty"`
	StartExcluding bool   `json:"start_excluding,omitempty"`
	End            string `json:"end,omitempty"`
	EndIncluding   bool   `json:"end_including,omitempty"`
}

// MaxCPEVersionLen bounds a version in a CPERange.
const MaxCPEVersionLen = 128

// Valid says why r cannot be stored, or nil.
func (r CPERange) Valid() error {
	if r.Vendor == "" || r.Product == "" {
		return fmt.Errorf("cpe range: empty vendor or product")
	}
	if r.Version != "" && (r.Start != "" || r.End != "") {
		return fmt.Errorf("cpe range %s: an exact version and a range", r.CPE)
	}
	for _, v := range []string{r.Version, r.Start, r.End} {
		if len(v) > MaxCPEVersionLen || strings.ContainsAny(v, " \t\r\n\x00") {
			return fmt.Errorf("cpe range %s: version %.40q: longer than %d bytes or with white space", r.CPE, v, MaxCPEVersionLen)
		}
	}
	return nil
}

// CPEProduct is a product that Stowaway's binary classifier identifies by
// content, and the CPE products NVD lists its vulnerabilities under.
type CPEProduct struct {
	// Name is the inventory package name the classifier gives it (and its
	// package URL name, pkg:generic/<Name>@<version>).
	Name string
	CPEs []CPE
}

// CPEProducts is the one list of classified products and their CPEs: the
// binary classifier emits these names and CPEs, and the NVD updater keeps
// the configurations of these CPEs only.
func CPEProducts() []CPEProduct {
	return []CPEProduct{
		{"openssl", []CPE{{"openssl", "openssl"}}},
		{"curl", []CPE{{"haxx", "curl"}}},
		{"libcurl", []CPE{{"haxx", "libcurl"}, {"haxx", "curl"}}},
		{"busybox", []CPE{{"busybox", "busybox"}}},
		{"bash", []CPE{{"gnu", "bash"}}},
		{"node", []CPE{{"nodejs", "node.js"}}},
		{"python", []CPE{{"python", "python"}}},
		{"openjdk", []CPE{{"oracle", "openjdk"}}},
		{"go", []CPE{{"golang", "go"}}},
		{"redis", []CPE{{"redis", "redis"}, {"redislabs", "redis"}}},
		{"nginx", []CPE{{"f5", "nginx"}, {"nginx", "nginx"}}},
		{"httpd", []CPE{{"apache", "http_server"}}},
		{"postgresql", []CPE{{"postgresql", "postgresql"}}},
		{"mysql", []CPE{{"oracle", "mysql"}}},
		{"mariadb", []CPE{{"mariadb", "mariadb"}}},
		{"php", []CPE{{"php", "php"}}},
		{"ruby", []CPE{{"ruby-lang", "ruby"}}},
		{"perl", []CPE{{"perl", "perl"}}},
		{"haproxy", []CPE{{"haproxy", "haproxy"}}},
		{"memcached", []CPE{{"memcached", "memcached"}}},
		{"sqlite", []CPE{{"sqlite", "sqlite"}}},
		{"zlib", []CPE{{"zlib", "zlib"}, {"gnu", "zlib"}}},
	}
}

// CPEProductNamed returns the product with inventory name name.
func CPEProductNamed(name string) (CPEProduct, bool) {
	for _, p := range CPEProducts() {
		if p.Name == name {
			return p, true
		}
	}
	return CPEProduct{}, false
}

// CPESet is the set of "vendor:product" pairs of CPEProducts.
func CPESet() map[string]bool {
	s := map[string]bool{}
	for _, p := range CPEProducts() {
		for _, c := range p.CPEs {
			s[c.String()] = true
		}
	}
	return s
}
