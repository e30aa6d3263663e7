package container

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// CheckHeader verifies the lengths at the start of a header blob, so that
// go-rpmdb never sizes an allocation from a length the blob does not hold:
// it allocates the index before checking it against the data.
func CheckHeader(blob []byte) error {
	if len(blob) < 8 {
		return fmt.Errorf("header of %d bytes is too short", len(blob))
	}
	if len(blob) > MaxHeaderSize {
		return fmt.Errorf("header of %d bytes is larger than %d", len(blob), MaxHeaderSize)
	}
	il := int64(binary.BigEndian.Uint32(blob[0:]))
	dl := int64(binary.BigEndian.Uint32(blob[4:]))
	if il < 1 {
		return errors.New("header has no index entries")
	}
	if 8+16*il+dl > int64(len(blob)) {
		return fmt.Errorf("header claims %d index entries and %d data bytes but holds only %d bytes", il, dl, len(blob))
	}
	// go-rpmdb measures string entries by looking for count NULs, without
	// stopping when there is none (a loop of up to 2^32 turns) and without
	// checking that entries do not overlap (quadratic work). In a sound
	// header the strings of all entries are disjoint, so their NULs exist
	// and their lengths add up to at most dl: check exactly that, in O(dl).
	data := blob[8+16*il : 8+16*il+dl]
	var scanned int64
	for i := range il {
		e := blob[8+16*i:]
		typ, count := binary.BigEndian.Uint32(e[4:]), int64(binary.BigEndian.Uint32(e[12:]))
		off := int64(int32(binary.BigEndian.Uint32(e[8:])))
		if typ != rpmStringType && typ != rpmStringArrayType && typ != rpmI18NStringType {
			continue
		}
		if off < 0 || off >= dl {
			continue // go-rpmdb rejects the offset before reading strings
		}
		if count > dl-off {
			return fmt.Errorf("header entry %d: %d strings cannot fit in the %d bytes after offset %d", i, count, dl-off, off)
		}
		pos := off
		for range count {
			j := bytes.IndexByte(data[pos:], 0)
			if j < 0 {
				return fmt.Errorf("header entry %d: string at offset %d is not NUL-terminated", i, pos)
			}
			pos += int64(j) + 1
		}
		if scanned += pos - off; scanned > dl {
			return fmt.Errorf("header entry %d: string entries overlap (%d string bytes in %d data bytes)", i, scanned, dl)
		}
	}
	return nil
}

// rpm header data types holding NUL-terminated strings.
const (
	rpmStringType      = 6
	rpmStringArrayType = 8
	rpmI18NStringType  = 9
)
