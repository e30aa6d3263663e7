package rescan

import (
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// MaxInventorySize bounds a decompressed stored inventory.
const MaxInventorySize = 256 << 20

// Codec encodes inventories as zstd-compressed JSON, the format of the
// inventories table. It is safe for concurrent use.
type Codec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

// encoderWindow is the encoder's window. The codec lives as long as the
// server, and so does the encoder's history buffer, which zstd sizes from
// the window: 18 MiB of live heap at the default 8 MiB window, 3.7 MiB at
// 1 MiB. Most inventories are smaller than the window (their encoding is
// the same either way); a larger one loses a little ratio.
const encoderWindow = 1 << 20

// NewCodec builds a codec.
func NewCodec() (*Codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(encoderWindow))
	if err != nil {
		return nil, fmt.Errorf("rescan: zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxInventorySize))
	if err != nil {
		return nil, fmt.Errorf("rescan: zstd decoder: %w", err)
	}
	return &Codec{enc: enc, dec: dec}, nil
}

// stored is a stored inventory: the inventory's JSON (an SBOM's content)
// and, beside it, the symbol tables of its binaries, which the inventory
// never writes out but a rescan needs: without them every finding whose
// symbol presence was NOT_PRESENT at push would turn UNKNOWN at the first
// re-match (and count again under an admission policy's
// ignoreNotPresent). Inventories stored before carry none: their findings
// stay UNKNOWN until the image is scanned again.
type stored struct {
	*inventory.Inventory
	SymbolTables map[string]*inventory.SymbolTable `json:"symbolTables,omitempty"`
}

// Encode compresses inv's JSON.
func (c *Codec) Encode(inv *inventory.Inventory) ([]byte, error) {
	b, err := json.Marshal(stored{Inventory: inv, SymbolTables: inv.SymbolTables})
	if err != nil {
		return nil, fmt.Errorf("rescan: encode inventory: %w", err)
	}
	return c.enc.EncodeAll(b, make([]byte, 0, len(b)/4)), nil
}

// Decode reads a stored inventory.
func (c *Codec) Decode(data []byte) (*inventory.Inventory, error) {
	b, err := c.dec.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("rescan: decode inventory: decompress: %w", err)
	}
	v := stored{Inventory: &inventory.Inventory{}}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("rescan: decode inventory: %w", err)
	}
	v.Inventory.SymbolTables = v.SymbolTables
	return v.Inventory, nil
}
