package match

import (
	"context"
	"fmt"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// indexStore answers Candidates from a map, as the DB's index does.
type indexStore struct {
	byKey map[[2]string][]Candidate
}

func (s indexStore) Candidates(_ context.Context, ns, pkg string) ([]Candidate, error) {
	return s.byKey[[2]string{ns, pkg}], nil
}
func (indexStore) Enrichment(context.Context, string) (*advisory.Advisory, error) { return nil, nil }
func (indexStore) Advisory(context.Context, string) ([]*advisory.Advisory, error) { return nil, nil }

// benchInventory is a debian:12 inventory of n packages (each its own
// source package) with perPkg fixed advisories each, half of them above
// the installed version. version gives package i's installed version.
func benchInventory(n, perPkg int, version func(i int) string) (*inventory.Inventory, indexStore) {
	st := indexStore{byKey: map[[2]string][]Candidate{}}
	inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Status: inventory.OSSupported}}
	for i := range n {
		src := fmt.Sprintf("src%d", i)
		v := version(i)
		inv.Packages = append(inv.Packages, inventory.Package{Name: fmt.Sprintf("lib%d", i), Version: v, Type: inventory.TypeDeb, SourceName: src, SourceVersion: v, Path: "var/lib/dpkg/status"})
		for j := range perPkg {
			a := &advisory.Advisory{ID: fmt.Sprintf("CVE-2024-%d", i*perPkg+j), Source: "osv-Debian", Severity: "MEDIUM"}
			af := advisory.Affected{Namespace: "debian:12", Package: src, Kind: advisory.KindSource, Status: advisory.StatusFixed, Ranges: fixed(fmt.Sprintf("1.%d-%d", j, 1+j%3))}
			a.Affected = []advisory.Affected{af}
			k := [2]string{"debian:12", src}
			st.byKey[k] = append(st.byKey[k], Candidate{Advisory: a, Affected: af})
		}
	}
	return inv, st
}

// BenchmarkMatch matches 300 packages with 10 advisories each, without a
// memo: valid versions, and the same inventory with every version invalid
// (all degraded, every finding UNKNOWN_VERSION).
func BenchmarkMatch(b *testing.B) {
	for _, bc := range []struct {
		name    string
		version func(int) string
	}{
		{"valid", func(i int) string { return fmt.Sprintf("1.%d-1", 5+i%3) }},
		{"all-unparseable", func(i int) string { return fmt.Sprintf("1.%d 1", 5+i%3) }},
	} {
		inv, st := benchInventory(300, 10, bc.version)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Match(context.Background(), st, inv, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}); err != nil {
					b.Skipf("this matcher fails on unparseable versions: %v", err)
				}
			}
		})
	}
}
