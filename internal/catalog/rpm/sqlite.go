package rpm

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"

	// The "sqlite" database/sql driver, pure Go. go-rpmdb's own sqlite
	// reader opens the same driver name.
	_ "modernc.org/sqlite"
)

// walkSQLite calls fn with every package header blob of an rpm SQLite
// database; a row that cannot be read is skipped with a warning added to w. SQLite needs a file: the database is copied into dir (a private
// directory the caller removes) and opened read-only and immutable, so no
// journal or lock files are made and nothing is written.
func walkSQLite(ctx context.Context, r io.ReaderAt, size int64, dir string, w *warn.List, fn func([]byte) error) error {
	p := filepath.Join(dir, "rpmdb.sqlite")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy to a temporary file: %w", err)
	}
	_, err = io.Copy(f, io.NewSectionReader(r, 0, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy to a temporary file: %w", err)
	}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: p, RawQuery: "mode=ro&immutable=1"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, "SELECT blob FROM Packages")
	if err != nil {
		return fmt.Errorf("query Packages: %w", err)
	}
	defer rows.Close()
	for row := 1; rows.Next(); row++ {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			w.Addf("Packages row %d: %v; skipped", row, err)
			continue
		}
		if len(blob) > MaxHeaderSize {
			w.Addf("Packages row %d: header of %d bytes is larger than %d; skipped", row, len(blob), MaxHeaderSize)
			continue
		}
		if err := fn(blob); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read Packages: %w", err)
	}
	return nil
}
