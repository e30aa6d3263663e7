package rpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/knqyf263/go-rpmdb/pkg/bdb"
)

// isBDBHash reports whether the first 16 bytes of a file carry the Berkeley
// DB hash magic (either byte order) at offset 12.
func isBDBHash(head []byte) bool {
	m := binary.LittleEndian.Uint32(head[12:16])
	return m == bdb.HashMagicNumber || m == bdb.HashMagicNumberBE
}

// walkBDB calls fn with every package header blob of a Berkeley DB hash
// database, as go-rpmdb's bdb reader finds them (every off-page value on the
// hash pages, in page order), but with every offset, count and overflow
// chain checked against the page and file sizes, so corrupt input is an
// error rather than a panic or an endless loop.
func walkBDB(ctx context.Context, r io.ReaderAt, size int64, fn func([]byte) error) error {
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
		return fmt.Errorf("metadata page says %d pages of %d bytes but the file has only %d bytes (truncated?)", last+1, pageSize, size)
	}
	order := binary.ByteOrder(binary.LittleEndian)
	if meta.Swapped {
		order = binary.BigEndian
	}
	page := make([]byte, pageSize)
	chainPage := make([]byte, pageSize)
	var emitted int64 // bytes handed out; a sound file never exceeds its size
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
			return fmt.Errorf("page %d: %w", pn, err)
		}
		if hp.PageType != bdb.HashUnsortedPageType && hp.PageType != bdb.HashPageType {
			continue
		}
		entries := int64(hp.NumEntries)
		if entries%2 != 0 {
			return fmt.Errorf("hash page %d: odd entry count %d (keys and values come in pairs)", pn, entries)
		}
		if bdb.PageHeaderSize+entries*bdb.HashIndexEntrySize > pageSize {
			return fmt.Errorf("hash page %d: %d entries do not fit in a %d byte page", pn, entries, pageSize)
		}
		// The index holds key, value, key, value... offsets: take the values.
		for i := int64(1); i < entries; i += 2 {
			at := bdb.PageHeaderSize + i*bdb.HashIndexEntrySize
			off := int64(order.Uint16(page[at:]))
			if off < bdb.PageHeaderSize || off >= pageSize {
				return fmt.Errorf("hash page %d: entry %d at offset %d is outside the page", pn, i, off)
			}
			if page[off] != bdb.HashOffIndexPageType {
				continue // an inline value (key 0, the next-instance counter)
			}
			if off+bdb.HashOffPageSize > pageSize {
				return fmt.Errorf("hash page %d: entry %d at offset %d runs past the page", pn, i, off)
			}
			entry, err := bdb.ParseHashOffPageEntry(page[off:off+bdb.HashOffPageSize], meta.Swapped)
			if err != nil {
				return fmt.Errorf("hash page %d: entry %d: %w", pn, i, err)
			}
			blob, err := overflowChain(r, chainPage, int64(entry.PageNo), last, pageSize, meta.Swapped)
			if err != nil {
				return fmt.Errorf("hash page %d: entry %d: %w", pn, i, err)
			}
			if emitted += int64(len(blob)); emitted > size {
				return fmt.Errorf("hash page %d: overflow chains add up to more than the file size (pages shared between chains)", pn)
			}
			if err := fn(blob); err != nil {
				return err
			}
		}
	}
	return nil
}

// overflowChain concatenates the overflow pages of one value, starting at
// page start.
func overflowChain(r io.ReaderAt, buf []byte, start, last, pageSize int64, swapped bool) ([]byte, error) {
	var value []byte
	steps := int64(0)
	for pn := start; pn != 0; {
		if steps++; steps > last+1 {
			return nil, fmt.Errorf("overflow chain from page %d loops", start)
		}
		if pn > last {
			return nil, fmt.Errorf("overflow chain from page %d points to page %d, past the last page %d", start, pn, last)
		}
		if _, err := r.ReadAt(buf, pn*pageSize); err != nil {
			return nil, fmt.Errorf("read overflow page %d: %w", pn, err)
		}
		op, err := bdb.ParseHashPage(buf, swapped)
		if err != nil {
			return nil, fmt.Errorf("overflow page %d: %w", pn, err)
		}
		if op.PageType != bdb.OverflowPageType {
			return nil, fmt.Errorf("overflow chain from page %d reaches page %d of type %d, not an overflow page", start, pn, op.PageType)
		}
		data := buf[bdb.PageHeaderSize:]
		if op.NextPageNo == 0 {
			n := int64(op.FreeAreaOffset)
			if bdb.PageHeaderSize+n > pageSize {
				return nil, fmt.Errorf("overflow page %d: length %d runs past the page", pn, n)
			}
			data = data[:n]
		}
		if int64(len(value)+len(data)) > MaxHeaderSize {
			return nil, fmt.Errorf("value from page %d is larger than %d bytes", start, MaxHeaderSize)
		}
		value = append(value, data...)
		pn = int64(op.NextPageNo)
	}
	return value, nil
}
