package indexer

import (
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
)

// benchOptions runs every registered cataloger, as `stowaway sbom` does.
func benchOptions() Options {
	return Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), OS: all.OS(), Language: all.Language()}
}
