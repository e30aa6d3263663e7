// Package all is the explicit list of Stowaway's language ecosystem
// descriptors (see package ecosystem). A new ecosystem is one package under
// internal/ecosystem and one line here; TestAllListed fails when a
// descriptor package is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/ecosystem"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/cargo"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/generic"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/golang"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/nuget"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
)

// Ecosystems returns every ecosystem descriptor.
func Ecosystems() ecosystem.List {
	return ecosystem.List{
		pypi.Descriptor(),
		npm.Descriptor(),
		maven.Descriptor(),
		nuget.Descriptor(),
		rubygems.Descriptor(),
		cargo.Descriptor(),
		golang.Descriptor(),
		composer.Descriptor(),
		generic.Descriptor(),
	}
}
