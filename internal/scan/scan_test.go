package scan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/scanstatus"
)

type fakeDB struct{ namespaces map[string]bool }

func (fakeDB) Candidates(context.Context, string, string) ([]match.Candidate, error) { return nil, nil }
func (fakeDB) Enrichment(context.Context, string) (*advisory.Advisory, error)        { return nil, nil }
func (fakeDB) Advisory(context.Context, string) ([]*advisory.Advisory, error)        { return nil, nil }
func (f fakeDB) HasNamespace(_ context.Context, ns string) (bool, error) {
	return f.namespaces[ns], nil
}
func (fakeDB) UpdatedAt(context.Context) (time.Time, error) { return time.Unix(0, 0), nil }

func TestInventoryStatus(t *testing.T) {
	deb := inventory.Package{Name: "bash", Version: "5.2", Type: inventory.TypeDeb}
	rpm := inventory.Package{Name: "bash", Version: "4.2-1.el7", Type: inventory.TypeRPM}
	npm := inventory.Package{Name: "lodash", Version: "4.17.15", Type: inventory.TypeNPM}
	sup := func(id, rel string) *inventory.Distro {
		return &inventory.Distro{ID: id, Release: rel, VersionID: rel, Status: inventory.OSSupported}
	}
	db := fakeDB{namespaces: map[string]bool{"debian:12": true, "rhel:7": true}}
	tests := []struct {
		name     string
		distro   *inventory.Distro
		pkgs     []inventory.Package
		enhanced bool
		status   scanstatus.Status
		desc     string
	}{
		{"supported with data", sup("debian", "12"), []inventory.Package{deb}, false, StatusComplete, "completed successfully"},
		{"centos 7 looks for rhel:7", sup("centos", "7"), []inventory.Package{rpm}, false, StatusComplete, "completed successfully"},
		{"supported but no data loaded", sup("ol", "8"), []inventory.Package{rpm}, false, StatusUnsupported, "holds no advisories for ol:8"},
		{"end of life", &inventory.Distro{ID: "debian", Release: "9", Status: inventory.OSUnsupported, Reason: "debian 9 is end-of-life"}, []inventory.Package{deb}, false, StatusUnsupported, "debian 9 is end-of-life"},
		{"no OS, basic", &inventory.Distro{Status: inventory.OSNone}, []inventory.Package{npm}, false, StatusUnsupported, "no operating system detected"},
		{"no OS, enhanced with language packages", &inventory.Distro{Status: inventory.OSNone}, []inventory.Package{npm}, true, StatusComplete, "language packages only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: tc.distro, Packages: tc.pkgs}
			s, err := Inventory(context.Background(), inv, db, Options{Enhanced: tc.enhanced})
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != tc.status || !strings.Contains(s.StatusDescription, tc.desc) {
				t.Errorf("status %s %q, want %s containing %q", s.Status, s.StatusDescription, tc.status, tc.desc)
			}
		})
	}
}
