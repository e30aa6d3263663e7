package cli

import (
	"fmt"
	"io"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
)

// catalogers returns the OS and language catalogers.
func catalogers() (osCats, langCats []catalog.FileCataloger) {
	return all.OS(), all.Language()
}

func encoder(format string) (func(io.Writer, *inventory.Inventory) error, error) {
	f, err := sbom.ParseFormat(format)
	if err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	return func(w io.Writer, inv *inventory.Inventory) error { return sbom.Encode(w, inv, f) }, nil
}
