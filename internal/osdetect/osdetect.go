// Package osdetect finds the operating system of a squashed image from its
// release files and maps it to an advisory namespace ("debian:12").
//
// Files read, most trusted first: etc/os-release, usr/lib/os-release, then
// the distribution files etc/alpine-release, etc/oracle-release,
// etc/centos-release, etc/redhat-release, etc/system-release and
// etc/debian_version. A distribution-specific file wins over os-release when
// it gives a more precise version (alpine-release) or when os-release is
// missing (Oracle Linux 7 images often have none).
//
// Every detected OS gets a status:
//   - SUPPORTED: a release in the Supported table, with advisory data.
//   - UNSUPPORTED_IMAGE: a distribution we recognise whose release has no
//     feed coverage (end-of-life releases, CentOS Stream, Fedora ...), with
//     the reason.
//   - UNKNOWN_OS: release files that name a distribution we do not know.
//   - NO_OS: no release files at all.
package osdetect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// Wanted reports whether detection reads path; the squasher keeps these files.
func Wanted(path string) bool {
	switch path {
	case "etc/os-release", "usr/lib/os-release",
		"etc/alpine-release", "etc/oracle-release", "etc/centos-release",
		"etc/redhat-release", "etc/system-release", "etc/debian_version":
		return true
	}
	return false
}

// maxReleaseFile bounds how much of a release file is read.
const maxReleaseFile = 64 << 10

// Supported lists, per distribution id, the releases Stowaway has advisory
// data for.
func Supported() map[string][]string {
	return map[string][]string{
		"alpine": {"3.16", "3.17", "3.18", "3.19", "3.20", "3.21", "edge"},
		"debian": {"10", "11", "12", "13"},
		"ubuntu": {"14.04", "16.04", "18.04", "20.04", "22.04", "23.04", "24.04"},
		"rhel":   {"7", "8", "9"},
		"centos": {"7"},
		"ol":     {"7", "8", "9"},
		"amzn":   {"2", "2023"},
	}
}

// recognised are distributions we know but have no advisory data for.
var recognised = map[string]string{
	"fedora": "Fedora", "rocky": "Rocky Linux", "almalinux": "AlmaLinux",
	"opensuse-leap": "openSUSE Leap", "opensuse-tumbleweed": "openSUSE Tumbleweed", "sles": "SUSE Linux Enterprise",
	"photon": "VMware Photon OS", "wolfi": "Wolfi", "chainguard": "Chainguard", "mariner": "CBL-Mariner",
	"azurelinux": "Azure Linux", "arch": "Arch Linux", "gentoo": "Gentoo", "void": "Void Linux",
	"nixos": "NixOS", "clear-linux-os": "Clear Linux", "busybox": "BusyBox", "kali": "Kali Linux",
	"linuxmint": "Linux Mint", "raspbian": "Raspbian", "devuan": "Devuan",
}

// Detect reads the release files from fsys. It returns a Distro with status
// NO_OS when there are none; an error only when a release file exists but
// cannot be read (for instance a symlink that leaves the image root).
func Detect(fsys fs.FS) (*inventory.Distro, error) {
	read := func(name string) (string, bool, error) {
		f, err := fsys.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("osdetect: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxReleaseFile))
		if err != nil {
			return "", false, fmt.Errorf("osdetect: read %s: %w", name, err)
		}
		return string(b), true, nil
	}
	var osr map[string]string
	for _, name := range []string{"etc/os-release", "usr/lib/os-release"} {
		s, ok, err := read(name)
		if err != nil {
			return nil, err
		}
		if ok {
			osr = ParseOSRelease(s)
			break
		}
	}
	d := &inventory.Distro{}
	if osr != nil {
		d.ID = normalizeID(osr["ID"])
		d.VersionID = osr["VERSION_ID"]
		d.Codename = osr["VERSION_CODENAME"]
		d.PrettyName = osr["PRETTY_NAME"]
	}
	// Distribution files.
	type probe struct {
		file string
		re   *regexp.Regexp
		id   string
	}
	probes := []probe{
		{"etc/alpine-release", regexp.MustCompile(`^\s*(\d+\.\d+[^\s]*)`), "alpine"},
		{"etc/oracle-release", regexp.MustCompile(`Oracle Linux.* release (\d+(?:\.\d+)?)`), "ol"},
		{"etc/centos-release", regexp.MustCompile(`CentOS.* release (\d+(?:\.\d+)*)`), "centos"},
		{"etc/redhat-release", regexp.MustCompile(`Red Hat Enterprise Linux.* release (\d+(?:\.\d+)?)`), "rhel"},
		{"etc/system-release", regexp.MustCompile(`Amazon Linux (?:release |AMI release )?(\d+(?:\.\d+)*)`), "amzn"},
		{"etc/debian_version", regexp.MustCompile(`^\s*(\d+(?:\.\d+)*|[a-z]+/sid)`), "debian"},
	}
	for _, p := range probes {
		if d.ID != "" && d.ID != p.id {
			continue
		}
		s, ok, err := read(p.file)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		m := p.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		if d.ID == "" {
			d.ID = p.id
			d.PrettyName = strings.TrimSpace(firstLine(s))
		}
		// A more precise version (alpine-release 3.19.1 vs os-release 3.19)
		// or a missing VERSION_ID is taken from the distribution file.
		if d.VersionID == "" || (strings.HasPrefix(m[1], d.VersionID) && len(m[1]) > len(d.VersionID)) {
			d.VersionID = m[1]
		}
		break
	}
	if d.ID == "" {
		if osr == nil {
			d.Status = inventory.OSNone
			d.Reason = "no operating system release files (/etc/os-release, /usr/lib/os-release, /etc/*-release) found"
			return d, nil
		}
		d.Status = inventory.OSUnknown
		d.Reason = "os-release names no distribution ID"
		return d, nil
	}
	d.Release = release(d.ID, d.VersionID)
	classify(d)
	return d, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func normalizeID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	switch id {
	case "oracle", "oraclelinux":
		return "ol"
	case "redhat", "red-hat":
		return "rhel"
	case "amazon":
		return "amzn"
	}
	return id
}

// release derives the advisory release from a version.
func release(id, v string) string {
	v = strings.TrimSpace(v)
	switch id {
	case "alpine":
		if strings.Contains(v, "_alpha") || strings.Contains(v, "_beta") || strings.Contains(v, "_rc") || v == "edge" {
			return "edge"
		}
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			return parts[0] + "." + parts[1]
		}
		return v
	case "debian":
		if strings.HasSuffix(v, "/sid") {
			return "unstable"
		}
		return strings.SplitN(v, ".", 2)[0]
	case "ubuntu":
		return v
	case "rhel", "centos", "ol", "amzn", "rocky", "almalinux", "fedora":
		return strings.SplitN(v, ".", 2)[0]
	}
	return v
}

func classify(d *inventory.Distro) {
	rels, known := Supported()[d.ID]
	if !known {
		if name, ok := recognised[d.ID]; ok {
			d.Status = inventory.OSUnsupported
			d.Reason = fmt.Sprintf("%s %s is not covered by Stowaway's advisory feeds", name, d.VersionID)
			return
		}
		d.Status = inventory.OSUnknown
		d.Reason = fmt.Sprintf("unknown operating system %q (version %q)", d.ID, d.VersionID)
		return
	}
	if d.Release == "" {
		d.Status = inventory.OSUnsupported
		d.Reason = fmt.Sprintf("%s release could not be determined from the release files", d.ID)
		return
	}
	for _, r := range rels {
		if r == d.Release {
			d.Status = inventory.OSSupported
			return
		}
	}
	d.Status = inventory.OSUnsupported
	switch {
	case d.ID == "centos":
		d.Reason = fmt.Sprintf("CentOS %s is end-of-life or CentOS Stream, which has no advisory feed; only CentOS 7 (RHEL 7 data) is supported", d.VersionID)
	case d.Release == "unstable":
		d.Reason = "Debian testing/unstable has no stable security coverage"
	default:
		d.Reason = fmt.Sprintf("%s %s is end-of-life or not yet covered; supported releases: %s", d.ID, d.Release, strings.Join(rels, ", "))
	}
}

// ParseOSRelease parses os-release(5) content: KEY=value lines, values
// optionally quoted with shell-style escapes; comments and junk are
// skipped. A junk line of any length costs only that line: the keys after
// it are still read.
func ParseOSRelease(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		out[k] = unquote(strings.TrimSpace(v))
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			var b bytes.Buffer
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
					i++
				}
				b.WriteByte(v[i])
			}
			return b.String()
		}
	}
	return v
}
