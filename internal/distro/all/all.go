// Package all is the explicit list of Stowaway's distribution descriptors
// (see package distro). A new distribution is one package under
// internal/distro and one line here; TestAllListed fails when a descriptor
// package is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/distro"
	"github.com/stowaway-scanner/stowaway/internal/distro/alpine"
	"github.com/stowaway-scanner/stowaway/internal/distro/amazon"
	"github.com/stowaway-scanner/stowaway/internal/distro/centos"
	"github.com/stowaway-scanner/stowaway/internal/distro/debian"
	"github.com/stowaway-scanner/stowaway/internal/distro/oracle"
	"github.com/stowaway-scanner/stowaway/internal/distro/others"
	"github.com/stowaway-scanner/stowaway/internal/distro/rhel"
	"github.com/stowaway-scanner/stowaway/internal/distro/ubuntu"
)

// Distros returns every distribution descriptor. The order is the order in
// which fallback release files are probed: a distribution whose images also
// carry another's release file comes first (Oracle Linux's images have a
// redhat-release).
func Distros() distro.List {
	l := distro.List{
		alpine.Descriptor(),
		oracle.Descriptor(),
		centos.Descriptor(),
		rhel.Descriptor(),
		amazon.Descriptor(),
		debian.Descriptor(),
		ubuntu.Descriptor(),
	}
	return append(l, others.Descriptors()...)
}
