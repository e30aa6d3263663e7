package oracle

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// FuzzParse feeds arbitrary bytes as the uncompressed OVAL document.
func FuzzParse(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "com.oracle.elsa-all.xml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		st, err := NewWithOptions(Options{MaxFileSize: 1 << 20}).Parse(context.Background(), fstest.MapFS{"com.oracle.elsa-all.xml": {Data: data}}, func(a *advisory.Advisory) error {
			n++
			if a.ID == "" || a.Source != "oracle" {
				t.Fatalf("bad advisory %+v", a)
			}
			for _, af := range a.Affected {
				if af.Namespace == "" || af.Package == "" || len(af.Ranges) != 1 || af.Ranges[0].Events[1].Fixed == "" {
					t.Fatalf("bad entry %+v", af)
				}
			}
			return nil
		})
		if err == nil && st.Records != n {
			t.Fatalf("Records = %d, emitted %d", st.Records, n)
		}
	})
}
