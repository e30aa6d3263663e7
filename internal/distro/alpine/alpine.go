// Package alpine describes Alpine Linux for Stowaway: detection, releases
// and end-of-life dates (https://alpinelinux.org/releases/), apk versions,
// and secdb records named by the apk origin.
package alpine

import (
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/version"
)

// Descriptor returns Alpine's descriptor.
func Descriptor() distro.Descriptor {
	return distro.Descriptor{
		ID:           "alpine",
		Name:         "Alpine Linux",
		ReleaseFiles: []distro.ReleaseFile{{Path: "etc/alpine-release", Pattern: regexp.MustCompile(`^\s*(\d+\.\d+[^\s]*)`)}},
		Release:      release,
		Releases: []distro.Release{
			{Name: "3.16", EOL: distro.Date(2024, 5, 23)},
			{Name: "3.17", EOL: distro.Date(2024, 11, 22)},
			{Name: "3.18", EOL: distro.Date(2025, 5, 9)},
			{Name: "3.19", EOL: distro.Date(2025, 11, 1)},
			{Name: "3.20", EOL: distro.Date(2026, 4, 1)},
			{Name: "3.21", EOL: distro.Date(2026, 11, 1)},
			{Name: "edge"},
		},
		Version:       version.APK{},
		AdvisoryNames: distro.NameOrigin,
		AdvisoryURL:   func(id string) string { return "https://security.alpinelinux.org/vuln/" + id },
	}
}

// release is "3.19" for "3.19.1" and "edge" for pre-releases.
func release(v string) string {
	if strings.Contains(v, "_alpha") || strings.Contains(v, "_beta") || strings.Contains(v, "_rc") || v == "edge" {
		return "edge"
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}
