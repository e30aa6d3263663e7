package binary

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// BenchmarkClassify classifies real files of the machine running it
// (skipped when absent): a 4.7 MB libcrypto, a 99 MB node, and 256 MiB of
// zeros named libssl.so (no ELF sections: the whole MaxScan is read).
func BenchmarkClassify(b *testing.B) {
	c := New()
	for _, tc := range []struct{ name, path string }{
		{"libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3"},
		{"node", "/usr/bin/node"},
		{"libssl.so.3", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var data []byte
			if tc.path == "" {
				data = make([]byte, MaxScan)
			} else {
				var err error
				if data, err = os.ReadFile(tc.path); err != nil {
					b.Skip(err)
				}
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.Classify(context.Background(), tc.name, bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
