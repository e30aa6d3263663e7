// Package osdetect finds the operating system of a squashed image from its
// release files and maps it to an advisory namespace ("<id>:<release>").
// What it knows of each distribution comes from the descriptors it is
// given (package distro; the list is internal/distro/all).
//
// Files read, most trusted first: etc/os-release, usr/lib/os-release, then
// each descriptor's release files in list order. A distribution-specific
// file wins over os-release when it gives a more precise version
// ("3.19.1" over "3.19") or when os-release is missing.
//
// Every detected OS gets a status:
//   - SUPPORTED: a release its descriptor lists, with advisory data.
//   - UNSUPPORTED_IMAGE: a distribution we recognise whose release has no
//     feed coverage (end-of-life releases, a descriptor without releases),
//     with the reason.
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

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// maxReleaseFile bounds how much of a release file is read.
const maxReleaseFile = 64 << 10

// Detect reads the release files from fsys. It returns a Distro with status
// NO_OS when there are none; an error only when a release file exists but
// cannot be read (for instance a symlink that leaves the image root).
// The distributions, their release files and releases come from distros.
func Detect(fsys fs.FS, distros distro.List) (*inventory.Distro, error) {
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
		d.ID = strings.ToLower(strings.TrimSpace(osr["ID"]))
		if ds, ok := distros.ByID(d.ID); ok {
			d.ID = ds.ID
		}
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
	var probes []probe
	for _, ds := range distros {
		for _, f := range ds.ReleaseFiles {
			probes = append(probes, probe{f.Path, f.Pattern, ds.ID})
		}
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
	d.Release = strings.TrimSpace(d.VersionID)
	if ds, ok := distros.ByID(d.ID); ok {
		d.Release = ds.ReleaseOf(d.VersionID)
	}
	classify(d, distros)
	return d, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func classify(d *inventory.Distro, distros distro.List) {
	ds, known := distros.ByID(d.ID)
	if !known {
		d.Status = inventory.OSUnknown
		d.Reason = fmt.Sprintf("unknown operating system %q (version %q)", d.ID, d.VersionID)
		return
	}
	if len(ds.Releases) == 0 {
		d.Status = inventory.OSUnsupported
		d.Reason = fmt.Sprintf("%s %s is not covered by Stowaway's advisory feeds", ds.Name, d.VersionID)
		return
	}
	if d.Release == "" {
		d.Status = inventory.OSUnsupported
		d.Reason = fmt.Sprintf("%s release could not be determined from the release files", d.ID)
		return
	}
	if _, ok := ds.Lookup(d.Release); ok {
		d.Status = inventory.OSSupported
		return
	}
	d.Status = inventory.OSUnsupported
	if ds.UnsupportedReason != nil {
		d.Reason = ds.UnsupportedReason(d.Release, d.VersionID)
	}
	if d.Reason == "" {
		var rels []string
		for _, r := range ds.Releases {
			rels = append(rels, r.Name)
		}
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
