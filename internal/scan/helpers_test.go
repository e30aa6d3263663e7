package scan_test

import (
	"context"

	"github.com/stowaway-scanner/stowaway/internal/source"
)

func resolve(p string) (*source.Source, error) {
	return source.Resolve(context.Background(), p, source.Options{})
}
