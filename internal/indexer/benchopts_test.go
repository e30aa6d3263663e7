package indexer

import (
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
)

// benchOptions runs every registered cataloger, as `stowaway sbom` does.
func benchOptions() Options {
	return Options{Distros: distroall.Distros(), OS: all.OS(), Language: all.Language()}
}
