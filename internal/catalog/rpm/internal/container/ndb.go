package container

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
)

// The NDB ("Packages.db") layout, from rpm's lib/backend/ndb/rpmpkg.c: a 32
// byte header, then slot pages of 4096 bytes (the header takes the first two
// 16 byte slots of the first page), each slot pointing at a blob of 16 byte
// blocks: a 16 byte blob header, the package header, and a tail.
const (
	ndbHeaderMagic = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic   = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic   = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbPageSize    = 4096
	ndbSlotSize    = 16
	ndbBlockSize   = 16
	ndbMaxPages    = 2048 // go-rpmdb's sanity limit
)

// WalkNDB calls fn with every package header blob of an NDB database, in
// slot order, checking every slot and blob against the file size. A damaged
// slot or blob is skipped with a warning added to w and the walk goes on;
// only a file whose header cannot be read is an error. The blobs handed out
// add up to at most the file size: once slots share blobs past that, the
// rest are skipped.
func WalkNDB(ctx context.Context, r io.ReaderAt, size int64, w *warn.List, fn func([]byte) error) error {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(hdr[0:]) != ndbHeaderMagic {
		return fmt.Errorf("bad header magic %#x", le.Uint32(hdr[0:]))
	}
	if v := le.Uint32(hdr[4:]); v != 0 {
		return fmt.Errorf("unsupported NDB version %d", v)
	}
	pages := int64(le.Uint32(hdr[12:]))
	if pages == 0 || pages > ndbMaxPages {
		return fmt.Errorf("slot page count %d out of range 1..%d", pages, ndbMaxPages)
	}
	if pages*ndbPageSize > size {
		have := size / ndbPageSize
		if have == 0 {
			return fmt.Errorf("%d slot pages do not fit in %d bytes (truncated?)", pages, size)
		}
		w.Addf("%d slot pages do not fit in %d bytes (truncated?); the %d pages present are read", pages, size, have)
		pages = have
	}
	slots := make([]byte, pages*ndbPageSize)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return fmt.Errorf("read slot pages: %w", err)
	}
	var emitted int64
	for i, at := 0, int64(2*ndbSlotSize); at < int64(len(slots)); i, at = i+1, at+ndbSlotSize {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s := slots[at : at+ndbSlotSize]
		if m := le.Uint32(s[0:]); m != ndbSlotMagic {
			w.Addf("slot %d: bad magic %#x; skipped", i, m)
			continue
		}
		pkgIndex, blkOffset := le.Uint32(s[4:]), int64(le.Uint32(s[8:]))
		if pkgIndex == 0 {
			continue // a free slot
		}
		off := blkOffset * ndbBlockSize
		if off+ndbBlockSize > size {
			w.Addf("slot %d (package %d): blob at offset %d is past the end of the file; skipped", i, pkgIndex, off)
			continue
		}
		var bh [ndbBlockSize]byte
		if _, err := r.ReadAt(bh[:], off); err != nil {
			return fmt.Errorf("slot %d (package %d): read blob header: %w", i, pkgIndex, err)
		}
		if m := le.Uint32(bh[0:]); m != ndbBlobMagic {
			w.Addf("slot %d (package %d): bad blob magic %#x; skipped", i, pkgIndex, m)
			continue
		}
		if p := le.Uint32(bh[4:]); p != pkgIndex {
			w.Addf("slot %d (package %d): blob belongs to package %d; skipped", i, pkgIndex, p)
			continue
		}
		n := int64(le.Uint32(bh[12:]))
		if n > MaxHeaderSize {
			w.Addf("slot %d (package %d): blob of %d bytes is larger than %d; skipped", i, pkgIndex, n, MaxHeaderSize)
			continue
		}
		if off+ndbBlockSize+n > size {
			w.Addf("slot %d (package %d): blob of %d bytes runs past the end of the file; skipped", i, pkgIndex, n)
			continue
		}
		if emitted+n > size {
			w.Addf("slot %d (package %d): blobs add up to more than the file size (slots share blobs); skipped", i, pkgIndex)
			continue
		}
		emitted += n
		blob := make([]byte, n)
		if _, err := r.ReadAt(blob, off+ndbBlockSize); err != nil {
			return fmt.Errorf("slot %d (package %d): read blob: %w", i, pkgIndex, err)
		}
		if err := fn(blob); err != nil {
			return err
		}
	}
	return nil
}

// NDBImage builds an NDB database holding the given header blobs, as
// packages 1, 2, ... The checksum and blob tail are left zero: neither rpm's
// readers used here nor go-rpmdb check them.
func NDBImage(blobs ...[]byte) []byte {
	le := binary.LittleEndian
	slotsNeeded := len(blobs) + 2
	pages := (slotsNeeded + ndbPageSize/ndbSlotSize - 1) / (ndbPageSize / ndbSlotSize)
	out := make([]byte, pages*ndbPageSize)
	le.PutUint32(out[0:], ndbHeaderMagic)
	le.PutUint32(out[12:], uint32(pages))
	for at := 2 * ndbSlotSize; at < len(out); at += ndbSlotSize {
		le.PutUint32(out[at:], ndbSlotMagic)
	}
	for i, b := range blobs {
		blocks := (ndbBlockSize + len(b) + ndbBlockSize + ndbBlockSize - 1) / ndbBlockSize // header, blob, tail
		slot := out[(2+i)*ndbSlotSize:]
		le.PutUint32(slot[4:], uint32(i+1))
		le.PutUint32(slot[8:], uint32(len(out)/ndbBlockSize))
		le.PutUint32(slot[12:], uint32(blocks))
		blob := make([]byte, blocks*ndbBlockSize)
		le.PutUint32(blob[0:], ndbBlobMagic)
		le.PutUint32(blob[4:], uint32(i+1))
		le.PutUint32(blob[12:], uint32(len(b)))
		copy(blob[ndbBlockSize:], b)
		out = append(out, blob...)
	}
	return out
}
