package rescan

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// BenchmarkRematch re-matches 200 stored inventories against the fixture
// DB: every inventory (full) and those a one-pair change affects.
// go run ./bench/rescan gives the fleet-scale figure against the real DB.
func BenchmarkRematch(b *testing.B) {
	f := newFixture(b, openSQLite(b))
	for i := range 200 {
		pk := "zlib=1.3-r0"
		if i%10 == 0 {
			pk = "busybox=1.36.1-r5"
		}
		f.scanImage(b, "prod-bench", f.clk.Now().Add(-time.Hour), alpineInv(fmt.Sprintf("sha256:%064x", i), pk, "openssl=3.1.4-r0"))
	}
	r := f.rescanner(b, "bench")
	for _, bc := range []struct {
		name  string
		pairs []vulndb.Pair
	}{{"full", nil}, {"one-pair", []vulndb.Pair{{Namespace: "alpine:3.19", Package: "busybox"}}}} {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				s, err := r.RematchPairs(context.Background(), bc.pairs)
				if err != nil {
					b.Fatal(err)
				}
				n += s.Rematched
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
