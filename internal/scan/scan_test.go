package scan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
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
	npm := inventory.Package{Name: "lodash", Version: "4.17.15", Type: npm.Type}
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

// TestEndOfLifeStatus: a release past its descriptor's end of life keeps
// its findings and says that they are informational; the day is the one
// Options.Now gives.
func TestEndOfLifeStatus(t *testing.T) {
	deb := inventory.Package{Name: "bash", Version: "5.2", Type: inventory.TypeDeb}
	rpm := inventory.Package{Name: "bash", Version: "4.2-1.el7", Type: inventory.TypeRPM}
	sup := func(id, rel string) *inventory.Distro {
		return &inventory.Distro{ID: id, Release: rel, VersionID: rel, Status: inventory.OSSupported}
	}
	db := fakeDB{namespaces: map[string]bool{"debian:10": true, "debian:12": true, "ubuntu:18.04": true, "rhel:7": true}}
	day := func(y int, m time.Month, d int) func() time.Time {
		return func() time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	}
	tests := []struct {
		name   string
		distro *inventory.Distro
		pkg    inventory.Package
		now    func() time.Time
		want   string // "" for no end-of-life note
	}{
		{"debian 10 after its LTS", sup("debian", "10"), deb, day(2026, 12, 2), "Debian 10 reached end of life after 2024-06-30 (LTS ended): findings for a discontinued OS are informational."},
		{"debian 10 on its last day", sup("debian", "10"), deb, day(2024, 6, 30), ""},
		{"debian 12 supported", sup("debian", "12"), deb, day(2026, 12, 2), ""},
		{"ubuntu 18.04 on ESM", sup("ubuntu", "18.04"), deb, day(2026, 12, 2), "Ubuntu 18.04 reached end of life after 2023-05-31 (standard support ended; ESM data is used): findings for a discontinued OS are informational."},
		{"centos 7", sup("centos", "7"), rpm, day(2026, 12, 2), "CentOS Linux 7 reached end of life after 2024-06-30 (support ended)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: tc.distro, Packages: []inventory.Package{tc.pkg}}
			s, err := Inventory(context.Background(), inv, db, Options{Now: tc.now})
			if err != nil {
				t.Fatal(err)
			}
			if s.Status != StatusComplete {
				t.Fatalf("status %s %q, want COMPLETE", s.Status, s.StatusDescription)
			}
			has := strings.Contains(s.StatusDescription, "discontinued")
			if tc.want == "" && has || tc.want != "" && !strings.Contains(s.StatusDescription, tc.want) {
				t.Errorf("description %q, want end-of-life note %q", s.StatusDescription, tc.want)
			}
		})
	}
	// An unknown OS keeps its status and reason.
	unk := &inventory.Distro{ID: "plan9", VersionID: "4", Status: inventory.OSUnknown, Reason: `unknown operating system "plan9" (version "4")`}
	s, err := Inventory(context.Background(), &inventory.Inventory{Distro: unk, Packages: []inventory.Package{deb}}, db, Options{Now: day(2026, 12, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusUnsupported || s.StatusDescription != "UnsupportedImageError: "+unk.Reason {
		t.Errorf("unknown OS: %s %q", s.Status, s.StatusDescription)
	}
}
