package vulndb

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/feed"
)

var benchRows = flag.Int("vulndb.benchrows", 1_000_000, "affected rows in the synthetic benchmark DB")

// synthetic generates advisories with `rows` affected rows in total, shaped
// like the real feeds: 24 namespaces, 8,000 packages each, four affected
// entries per advisory (one package in four namespaces), a ~300-byte
// description and CVSS; package "hot" gets ~2,000 records per namespace
// (like linux in Debian), the rest are spread evenly.
func synthetic(rows int) func(emit func(*advisory.Advisory) error) error {
	nss := []string{"debian:11", "debian:12", "ubuntu:20.04", "ubuntu:22.04", "ubuntu:24.04", "alpine:3.18",
		"alpine:3.19", "alpine:3.20", "rhel:8", "rhel:9", "amzn:2", "amzn:2023", "osv:PyPI", "osv:npm", "osv:Maven",
		"osv:Go", "osv:crates.io", "osv:RubyGems", "osv:NuGet", "osv:Packagist", "rhel:7", "ol:8", "ol:9", "debian:13"}
	const pkgs = 8000
	desc := strings.Repeat("A flaw was found in the parser that allows a remote attacker to cause a denial of service. ", 3)
	return func(emit func(*advisory.Advisory) error) error {
		n := rows / 4
		for i := range n {
			a := &advisory.Advisory{
				ID: fmt.Sprintf("CVE-%d-%05d", 2000+i%25, i), Aliases: []string{fmt.Sprintf("GHSA-%06d", i)},
				Description: desc, Severity: "MEDIUM", VendorSeverity: "medium",
				CVSS:       []advisory.CVSS{{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5, Source: "nvd"}},
				References: []string{fmt.Sprintf("https://security-tracker.example/CVE-%d", i)},
				Published:  time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
			}
			r := uint64(i+1) * 0x9E3779B97F4A7C15
			pkg := fmt.Sprintf("pkg%d", (r>>20)%pkgs)
			if i%16 == 0 {
				pkg = "hot"
			}
			base := int((r >> 40) % uint64(len(nss)))
			for k := range 4 {
				a.Affected = append(a.Affected, advisory.Affected{
					Namespace: nss[(base+k*6)%len(nss)], Package: pkg, Kind: advisory.KindSource, Status: advisory.StatusFixed,
					Ranges: []advisory.Range{{Events: []advisory.Event{{Introduced: "0"}, {Fixed: fmt.Sprintf("1.%d.%d-1", i%50, k)}}}},
				})
			}
			if err := emit(a); err != nil {
				return err
			}
		}
		return nil
	}
}

// BenchmarkLookup measures Lookup of one (namespace, package) on a DB of
// -vulndb.benchrows synthetic affected rows (1M by default; the build takes
// a while and is reported once).
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	start := time.Now()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	rep, err := Update(ctx, dir, []feed.Updater{&fakeUpdater{name: "synthetic", version: "1", gen: synthetic(*benchRows)}}, noSource, UpdateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fi, _ := os.Stat(rep.Path)
	b.Logf("build: %d advisories, %d affected rows in %v; file %.1f MiB; Go heap now %.1f MiB (sys %.1f MiB)",
		rep.Sources[0].Advisories, rep.Sources[0].Affected, time.Since(start).Round(time.Millisecond),
		float64(fi.Size())/(1<<20), float64(ms.HeapAlloc)/(1<<20), float64(ms.Sys)/(1<<20))
	db, err := Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct{ name, ns, pkg string }{
		{"typical", "debian:12", "pkg4242"}, // ~5 records, the median pair
		{"hot", "debian:12", "hot"},
		{"miss", "debian:12", "no-such-package"},
	} {
		recs, err := db.Lookup(ctx, c.ns, c.pkg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s-%drecords", c.name, len(recs)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := db.Lookup(ctx, c.ns, c.pkg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel-typical", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i++
				if _, err := db.Lookup(ctx, "ubuntu:22.04", fmt.Sprintf("pkg%d", i%8000)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

var buildRows = flag.Int("vulndb.buildrows", 200_000, "affected rows in BenchmarkBuild's synthetic source")

// BenchmarkBuild measures Update from scratch of one synthetic source of
// -vulndb.buildrows affected rows (the writer's cost: generating and
// encoding the records is a small part of it). The context can be
// canceled, as the CLI's is: the driver then watches it on every Exec.
func BenchmarkBuild(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		dir := b.TempDir()
		rep, err := Update(ctx, dir, []feed.Updater{&fakeUpdater{name: "synthetic", version: "1", gen: synthetic(*buildRows)}}, noSource, UpdateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(rep.Path)
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}
