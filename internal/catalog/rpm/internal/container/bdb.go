package container

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/knqyf263/go-rpmdb/pkg/bdb"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
)

// IsBDBHash reports whether the first 16 bytes of a file carry the Berkeley
// DB hash magic (either byte order) at offset 12.
func IsBDBHash(head []byte) bool {
	m := binary.LittleEndian.Uint32(head[12:16])
	return m == bdb.HashMagicNumber || m == bdb.HashMagicNumberBE
}

// WalkBDB calls fn with every package header blob of a Berkeley DB hash
// database, as go-rpmdb's bdb reader finds them (every off-page value on the
// hash pages, in page order), but with every offset, count and overflow
// chain checked against the page and file sizes, so corrupt input is a
// warning or an error rather than a panic or an endless loop. A damaged
// hash page or entry is skipped with a warning added to w and the walk goes
// on; only a file whose metadata page cannot be read is an error. Each page
// belongs to at most one overflow chain, so the blobs handed out add up to
// at most the file size.
func WalkBDB(ctx context.Context, r io.ReaderAt, size int64, w *warn.List, fn func([]byte) error) error {
	metaBuf := make([]byte, 512)
	if size < int64(len(metaBuf)) {
		return fmt.Errorf("file of %d bytes is shorter than the metadata page", size)
	}
	if _, err := r.ReadAt(metaBuf, 0); err != nil {
		return fmt.Errorf("read metadata page: %w", err)
	}
	meta, err := bdb.ParseHashMetadataPage(metaBuf)
	if err != nil {
		return fmt.Errorf("metadata page: %w", err)
	}
	pageSize := int64(meta.PageSize)
	switch pageSize {
	case 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536:
	default:
		return fmt.Errorf("metadata page: unexpected page size %d", meta.PageSize)
	}
	last := int64(meta.LastPageNo)
	if (last+1)*pageSize > size {
		have := size / pageSize
		w.Addf("metadata page says %d pages of %d bytes but the file has only %d bytes (truncated?); the %d pages present are read", last+1, pageSize, size, have)
		last = have - 1
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if meta.Swapped {
		order = binary.BigEndian
	}
	page := make([]byte, pageSize)
	chainPage := make([]byte, pageSize)
	owner := make([]uint32, last+1) // which value's chain holds each page (0: none)
	var value uint32
	for pn := int64(0); pn <= last; pn++ {
		if pn%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if _, err := r.ReadAt(page, pn*pageSize); err != nil {
			return fmt.Errorf("read page %d: %w", pn, err)
		}
		hp, err := bdb.ParseHashPage(page, meta.Swapped)
		if err != nil {
			w.Addf("page %d: %v; skipped", pn, err)
			continue
		}
		if hp.PageType != bdb.HashUnsortedPageType && hp.PageType != bdb.HashPageType {
			continue
		}
		entries := int64(hp.NumEntries)
		if entries%2 != 0 {
			w.Addf("hash page %d: odd entry count %d (keys and values come in pairs); page skipped", pn, entries)
			continue
		}
		if bdb.PageHeaderSize+entries*bdb.HashIndexEntrySize > pageSize {
			w.Addf("hash page %d: %d entries do not fit in a %d byte page; page skipped", pn, entries, pageSize)
			continue
		}
		// The index holds key, value, key, value... offsets: take the values.
		for i := int64(1); i < entries; i += 2 {
			at := bdb.PageHeaderSize + i*bdb.HashIndexEntrySize
			off := int64(order.Uint16(page[at:]))
			if off < bdb.PageHeaderSize || off >= pageSize {
				w.Addf("hash page %d: entry %d at offset %d is outside the page; skipped", pn, i, off)
				continue
			}
			if page[off] != bdb.HashOffIndexPageType {
				continue // an inline value (key 0, the next-instance counter)
			}
			if off+bdb.HashOffPageSize > pageSize {
				w.Addf("hash page %d: entry %d at offset %d runs past the page; skipped", pn, i, off)
				continue
			}
			entry, err := bdb.ParseHashOffPageEntry(page[off:off+bdb.HashOffPageSize], meta.Swapped)
			if err != nil {
				w.Addf("hash page %d: entry %d: %v; skipped", pn, i, err)
				continue
			}
			value++
			blob, err := overflowChain(r, chainPage, owner, value, int64(entry.PageNo), last, pageSize, meta.Swapped)
			if err != nil {
				var re readError
				if errors.As(err, &re) {
					return err
				}
				w.Addf("hash page %d: entry %d: %v; skipped", pn, i, err)
				continue
			}
			if err := fn(blob); err != nil {
				return err
			}
		}
	}
	return nil
}

// readError is a ReadAt failure, which ends a walk (the other problems skip
// one record).
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

// overflowChain concatenates the overflow pages of one value, starting at
// page start, claiming each page for value in owner: a page already claimed
// (by this chain: a loop; by another: shared pages) is an error.
func overflowChain(r io.ReaderAt, buf []byte, owner []uint32, value uint32, start, last, pageSize int64, swapped bool) ([]byte, error) {
	var data []byte
	for pn := start; pn != 0; {
		if pn > last {
			return nil, fmt.Errorf("overflow chain from page %d points to page %d, past the last page %d", start, pn, last)
		}
		switch owner[pn] {
		case 0:
			owner[pn] = value
		case value:
			return nil, fmt.Errorf("overflow chain from page %d loops", start)
		default:
			return nil, fmt.Errorf("overflow chain from page %d reaches page %d, which another value's chain holds", start, pn)
		}
		if _, err := r.ReadAt(buf, pn*pageSize); err != nil {
			return nil, readError{fmt.Errorf("read overflow page %d: %w", pn, err)}
		}
		op, err := bdb.ParseHashPage(buf, swapped)
		if err != nil {
			return nil, fmt.Errorf("overflow page %d: %w", pn, err)
		}
		if op.PageType != bdb.OverflowPageType {
			return nil, fmt.Errorf("overflow chain from page %d reaches page %d of type %d, not an overflow page", start, pn, op.PageType)
		}
		d := buf[bdb.PageHeaderSize:]
		if op.NextPageNo == 0 {
			n := int64(op.FreeAreaOffset)
			if bdb.PageHeaderSize+n > pageSize {
				return nil, fmt.Errorf("overflow page %d: length %d runs past the page", pn, n)
			}
			d = d[:n]
		}
		if int64(len(data)+len(d)) > MaxHeaderSize {
			return nil, fmt.Errorf("value from page %d is larger than %d bytes", start, MaxHeaderSize)
		}
		data = append(data, d...)
		pn = int64(op.NextPageNo)
	}
	return data, nil
}
