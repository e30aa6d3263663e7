package rescan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

func TestCodec(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	inv := alpineInv("sha256:a1", "busybox=1.36.1-r5", "openssl=3.1.4-r0")
	data, err := c.Encode(inv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inv, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	// A binary's symbol table, left out of the inventory's own JSON, is
	// stored beside it, so a rescan keeps symbol presence.
	inv.SymbolTables = map[string]*inventory.SymbolTable{"usr/bin/app": {
		Path: "usr/bin/app", GOOS: "linux", GOARCH: "amd64", Complete: true,
		Symbols: map[string][]string{"golang.org/x/text/language": {"Make", "Tag.String"}},
	}}
	if data, err = c.Encode(inv); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Decode(data); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inv, got); d != "" {
		t.Errorf("round trip with symbol tables (-want +got):\n%s", d)
	}
	enc, _ := zstd.NewWriter(nil)
	defer enc.Close()
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not zstd", "plain text", "decompress"},
		{"truncated", string(data[:len(data)/2]), "decompress"},
		{"zstd of broken JSON", string(enc.EncodeAll([]byte(`{"packages":[`), nil)), "decode inventory"},
		{"zstd of the wrong JSON", string(enc.EncodeAll([]byte(`[1,2]`), nil)), "decode inventory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Decode([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestCodecRefusesBombs: a stored inventory that decompresses past
// MaxInventorySize is refused, not allocated.
func TestCodecRefusesBombs(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	defer enc.Close()
	bomb := enc.EncodeAll(bytes.Repeat([]byte{' '}, MaxInventorySize+1<<20), nil)
	if _, err := c.Decode(bomb); err == nil {
		t.Fatalf("decoded a %d-byte bomb (%d bytes compressed)", MaxInventorySize+1<<20, len(bomb))
	}
}

// FuzzCodecDecode: a stored inventory decodes or fails with an error; what
// decodes encodes again.
func FuzzCodecDecode(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	good, _ := c.Encode(alpineInv("sha256:a1", "busybox=1.36.1-r5"))
	f.Add(good)
	enc, _ := zstd.NewWriter(nil)
	f.Add(enc.EncodeAll([]byte("{"), nil))
	enc.Close()
	f.Add([]byte("not zstd"))
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := c.Decode(b)
		if err != nil {
			return
		}
		if inv == nil {
			t.Fatal("nil inventory without an error")
		}
		if _, err := c.Encode(inv); err != nil {
			t.Fatalf("a decoded inventory does not encode: %v", err)
		}
	})
}

// TestCodecLargerThanWindow: an inventory whose JSON is several times the
// encoder's window round-trips, and a stored inventory encoded before with
// the default window still decodes.
func TestCodecLargerThanWindow(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for i := 0; i < 40000; i++ {
		pkgs = append(pkgs, fmt.Sprintf("package-number-%d=1.%d.%d-r%d", i, i%7, i%13, i%5))
	}
	inv := alpineInv("sha256:big", pkgs...)
	plain, err := json.Marshal(stored{Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) < 3*encoderWindow {
		t.Fatalf("inventory JSON is %d bytes, want more than 3 windows (%d)", len(plain), 3*encoderWindow)
	}
	data, err := c.Encode(inv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inv, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	old, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	defer old.Close()
	if got, err = c.Decode(old.EncodeAll(plain, nil)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inv, got); d != "" {
		t.Errorf("default-window encoding (-want +got):\n%s", d)
	}
}
