package rpm

import (
	"fmt"
	"os"
	"path/filepath"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/stowaway-scanner/stowaway/internal/catalog/rpm/internal/container"
)

// headerParser decodes header blobs with go-rpmdb, one at a time, through a
// scratch file that holds a one-package NDB database (go-rpmdb only opens
// paths and keeps its header decoder unexported).
type headerParser struct {
	path string
	f    *os.File
}

func newHeaderParser(dir string) (*headerParser, error) {
	p := filepath.Join(dir, "header.db")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	return &headerParser{path: p, f: f}, nil
}

func (h *headerParser) close() { h.f.Close() }

// parse decodes one header blob. A panic inside go-rpmdb becomes an error.
func (h *headerParser) parse(blob []byte) (pi *rpmdb.PackageInfo, err error) {
	if err := container.CheckHeader(blob); err != nil {
		return nil, err
	}
	img := container.NDBImage(blob)
	if err := h.f.Truncate(0); err != nil {
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	if _, err := h.f.WriteAt(img, 0); err != nil {
		return nil, fmt.Errorf("scratch file: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			pi, err = nil, fmt.Errorf("decode header: go-rpmdb panicked: %v", r)
		}
	}()
	db, err := rpmdb.Open(h.path)
	if err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	defer db.Close()
	pkgs, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	if len(pkgs) != 1 {
		return nil, fmt.Errorf("decode header: got %d packages from one header", len(pkgs))
	}
	return pkgs[0], nil
}
