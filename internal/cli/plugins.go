package cli

import (
	"fmt"
	"io"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
)

// catalogers returns the OS and language catalogers.
func catalogers() (osCats, langCats []catalog.FileCataloger) {
	return all.OS(), all.Language()
}

// descriptorNames are Stowaway's distribution and ecosystem descriptors,
// for the packages that name packages, advisories and fix channels.
func descriptorNames() names.Names {
	return names.Names{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}
}

func encoder(format string) (func(io.Writer, *inventory.Inventory) error, error) {
	f, err := sbom.ParseFormat(format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return func(w io.Writer, inv *inventory.Inventory) error { return sbom.Encode(w, inv, f, descriptorNames()) }, nil
}
