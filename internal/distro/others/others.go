// Package others describes the distributions Stowaway recognises but has no
// advisory data for: a scan of one is UNSUPPORTED_IMAGE with its name,
// rather than UNKNOWN_OS. Giving one of them feeds means moving it to a
// package of its own with releases.
package others

import "github.com/stowaway-scanner/stowaway/internal/distro"

// Descriptors returns the recognised-only distributions.
func Descriptors() []distro.Descriptor {
	major := map[string]bool{"rocky": true, "almalinux": true, "fedora": true}
	var out []distro.Descriptor
	for _, n := range []struct{ id, name string }{
		{"fedora", "Fedora"}, {"rocky", "Rocky Linux"}, {"almalinux", "AlmaLinux"},
		{"opensuse-leap", "openSUSE Leap"}, {"opensuse-tumbleweed", "openSUSE Tumbleweed"}, {"sles", "SUSE Linux Enterprise"},
		{"photon", "VMware Photon OS"}, {"wolfi", "Wolfi"}, {"chainguard", "Chainguard"}, {"mariner", "CBL-Mariner"},
		{"azurelinux", "Azure Linux"}, {"arch", "Arch Linux"}, {"gentoo", "Gentoo"}, {"void", "Void Linux"},
		{"nixos", "NixOS"}, {"clear-linux-os", "Clear Linux"}, {"busybox", "BusyBox"}, {"kali", "Kali Linux"},
		{"linuxmint", "Linux Mint"}, {"raspbian", "Raspbian"}, {"devuan", "Devuan"},
	} {
		d := distro.Descriptor{ID: n.id, Name: n.name}
		if major[n.id] {
			d.Release = distro.MajorRelease
		}
		out = append(out, d)
	}
	return out
}
