package rpm

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	// The "sqlite" database/sql driver, pure Go. go-rpmdb's own sqlite
	// reader opens the same driver name.
	_ "modernc.org/sqlite"
)

// walkSQLite calls fn with every package header blob of an rpm SQLite
// database. SQLite needs a file: the database is copied into dir (a private
// directory the caller removes) and opened read-only and immutable, so no
// journal or lock files are made and nothing is written.
func walkSQLite(ctx context.Context, r io.ReaderAt, size int64, dir string, fn func([]byte) error) error {
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
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return fmt.Errorf("read Packages row: %w", err)
		}
		if len(blob) > MaxHeaderSize {
			return fmt.Errorf("header of %d bytes is larger than %d", len(blob), MaxHeaderSize)
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
