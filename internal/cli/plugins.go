package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// catalogers returns the OS and language catalogers.
func catalogers() (osCats, langCats []catalog.FileCataloger) {
	return nil, nil
}

func encoder(format string) (func(io.Writer, *inventory.Inventory) error, error) {
	switch format {
	case "json":
		return func(w io.Writer, inv *inventory.Inventory) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(inv)
		}, nil
	}
	return nil, fmt.Errorf("unknown --format %q", format)
}
