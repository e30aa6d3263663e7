package osv

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
)

// Limits on untrusted archives. osv.dev's largest ecosystem dump holds
// about 250k records, none over a few MB.
const (
	MaxEntries    = 1 << 20   // entries per archive
	MaxEntrySize  = 32 << 20  // uncompressed bytes per record
	MaxTotalSize  = 8 << 30   // uncompressed bytes per archive
	MaxMemArchive = 512 << 20 // archive read into memory when the fs.File cannot ReadAt
)

// entryFunc receives one archive entry. A non-nil entryErr means the entry
// could not be read (it is counted as malformed); a returned error aborts.
// data is valid until fn returns: the walkers read every entry into one
// reused buffer.
type entryFunc func(name string, data []byte, entryErr error) error

// walkArchive calls fn for every *.json entry of the zip or tar.bz2 file
// name in fsys, a tar.bz2 decompressed by dec. Entries are read one at a
// time, each bounded.
func walkArchive(ctx context.Context, fsys fs.FS, name string, dec bz2.Decompressor, fn entryFunc) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	switch {
	case strings.HasSuffix(name, ".zip"):
		return walkZip(ctx, f, fn)
	case strings.HasSuffix(name, ".tar.bz2"):
		// The decompressor runs ahead of the tar reader (a goroutine or
		// a child process): bzip2 is most of the cost.
		rc, err := dec.NewReader(ctx, f, name)
		if err != nil {
			return err
		}
		defer rc.Close()
		return walkTar(ctx, bufio.NewReaderSize(rc, 1<<20), fn)
	}
	return fmt.Errorf("unknown archive type")
}

func walkZip(ctx context.Context, f fs.File, fn entryFunc) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	ra, ok := f.(io.ReaderAt)
	size := fi.Size()
	if !ok {
		b, err := io.ReadAll(io.LimitReader(f, MaxMemArchive+1))
		if err != nil {
			return err
		}
		if len(b) > MaxMemArchive {
			return fmt.Errorf("zip exceeds %d bytes", MaxMemArchive)
		}
		ra, size = bytes.NewReader(b), int64(len(b))
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	if len(zr.File) > MaxEntries {
		return fmt.Errorf("zip: %d entries, more than %d", len(zr.File), MaxEntries)
	}
	var total int64
	var reuse []byte
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if zf.FileInfo().IsDir() || !wanted(zf.Name) {
			continue
		}
		data, err := readZipEntry(zf, &total, &reuse)
		if errors.Is(err, errTotal) {
			return err
		}
		if err := fn(zf.Name, data, err); err != nil {
			return err
		}
	}
	return nil
}

var errTotal = fmt.Errorf("archive exceeds %d uncompressed bytes", int64(MaxTotalSize))

func readZipEntry(zf *zip.File, total *int64, reuse *[]byte) ([]byte, error) {
	if zf.UncompressedSize64 > MaxEntrySize {
		return nil, fmt.Errorf("entry of %d bytes exceeds %d", zf.UncompressedSize64, MaxEntrySize)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readBounded(rc, total, int64(zf.UncompressedSize64), reuse)
	return data, err
}

// sizeHintCap bounds the buffer readBounded allocates up front from an
// entry header's size, which a hostile archive can inflate.
const sizeHintCap = 1 << 20

// readBounded reads one entry, which may not exceed MaxEntrySize (the
// header's size is not trusted) nor push *total over MaxTotalSize, into
// *reuse (the previous entry's buffer, which it overwrites and keeps the
// grown one in). hint, the header's size, sizes the buffer (up to
// sizeHintCap), so that a record is read without regrowing it.
func readBounded(r io.Reader, total *int64, hint int64, reuse *[]byte) ([]byte, error) {
	b := (*reuse)[:0]
	if want := min(max(hint, 0), sizeHintCap) + bytes.MinRead; int64(cap(b)) < want {
		b = make([]byte, 0, want)
	}
	buf := bytes.NewBuffer(b)
	_, err := buf.ReadFrom(io.LimitReader(r, MaxEntrySize+1))
	data := buf.Bytes()
	*reuse = data
	*total += int64(len(data))
	if *total > MaxTotalSize {
		return nil, errTotal
	}
	if err != nil {
		return nil, err
	}
	if len(data) > MaxEntrySize {
		return nil, fmt.Errorf("entry exceeds %d bytes", MaxEntrySize)
	}
	return data, nil
}

func walkTar(ctx context.Context, r io.Reader, fn entryFunc) error {
	tr := tar.NewReader(r)
	var total int64
	var reuse []byte
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= MaxEntries {
			return fmt.Errorf("tar: more than %d entries", MaxEntries)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg || !wanted(hdr.Name) {
			continue
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		var data []byte
		if hdr.Size > MaxEntrySize {
			err = fmt.Errorf("entry of %d bytes exceeds %d", hdr.Size, MaxEntrySize)
		} else {
			data, err = readBounded(tr, &total, hdr.Size, &reuse)
			if errors.Is(err, errTotal) {
				return err
			}
		}
		if err := fn(name, data, err); err != nil {
			return err
		}
	}
}

// wanted says whether an archive entry is read: JSON records, except the
// malicious-package (MAL-*) records, which are skipped unread.
func wanted(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasPrefix(path.Base(name), "MAL-")
}
