package match

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/composer"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/rubygems"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// recordingStore answers no candidates and records every lookup.
type recordingStore struct {
	mu   sync.Mutex
	keys map[Key]bool
}

func (r *recordingStore) Candidates(_ context.Context, ns, pkg string) ([]Candidate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys[Key{ns, pkg}] = true
	return nil, nil
}
func (r *recordingStore) Enrichment(context.Context, string) (*advisory.Advisory, error) {
	return nil, nil
}
func (r *recordingStore) Advisory(context.Context, string) ([]*advisory.Advisory, error) {
	return nil, nil
}

// TestKeysEqualsLookups checks Keys against the lookups Match really makes.
func TestKeysEqualsLookups(t *testing.T) {
	pkgs := []inventory.Package{
		{Name: "libssl3", Version: "3.0.11-1", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.11-1"},
		{Name: "openssl", Version: "3.0.11-1", Type: inventory.TypeDeb, SourceName: "openssl"},
		{Name: "bash", Version: "5.2-1", Type: inventory.TypeDeb},
		{Name: "Django_Rest", Version: "1.0", Type: pypi.Type},
		{Name: "Monolog/Monolog", Version: "2.0", Type: composer.Type},
		{Name: "lodash", Version: "4.17.20", Type: npm.Type},
		// Versions that no scheme parses are looked up all the same.
		{Name: "zlib1g", Version: "1:1.2.13 dfsg-1", Type: inventory.TypeDeb, SourceName: "zlib", SourceVersion: "1:1.2.13 dfsg-1"},
		{Name: "underscore", Version: "latest", Type: npm.Type},
		{Name: "Jinja2", Version: "2.10.0 beta", Type: pypi.Type},
		{Name: "rack", Version: "-", Type: rubygems.Type},
		{Name: "left-pad", Version: "", Type: npm.Type},
	}
	tests := []struct {
		name   string
		distro *inventory.Distro
		opts   Options
	}{
		{"debian basic", &inventory.Distro{ID: "debian", Release: "12", Status: inventory.OSSupported}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}},
		{"debian enhanced", &inventory.Distro{ID: "debian", Release: "12", Status: inventory.OSSupported}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}},
		{"centos maps to rhel", &inventory.Distro{ID: "centos", Release: "7", Status: inventory.OSSupported}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}},
		{"eol os, enhanced", &inventory.Distro{ID: "debian", Release: "9", Status: inventory.OSUnsupported}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}},
		{"no os", nil, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: tt.distro, Packages: pkgs}
			if tt.distro != nil && tt.distro.ID == "centos" {
				inv = &inventory.Inventory{Distro: tt.distro, Packages: []inventory.Package{
					{Name: "bash", Version: "4.2-1", Type: inventory.TypeRPM, SourceName: "bash"},
					{Name: "curl-minimal", Version: "", Type: inventory.TypeRPM, SourceName: "curl"},
				}}
			}
			rec := &recordingStore{keys: map[Key]bool{}}
			if _, err := Match(context.Background(), rec, inv, tt.opts); err != nil {
				t.Fatal(err)
			}
			var want []Key
			for k := range rec.keys {
				want = append(want, k)
			}
			sort.Slice(want, func(i, j int) bool {
				if want[i].Namespace != want[j].Namespace {
					return want[i].Namespace < want[j].Namespace
				}
				return want[i].Package < want[j].Package
			})
			if diff := cmp.Diff(want, Keys(inv, tt.opts)); diff != "" {
				t.Errorf("Keys differ from Match's lookups (-lookups +keys):\n%s", diff)
			}
		})
	}
}

// TestTouching: the packages kept are exactly those whose lookups hit a
// changed key, by source name, binary name or normalized language name.
func TestTouching(t *testing.T) {
	debian := &inventory.Distro{ID: "debian", Release: "12", Status: inventory.OSSupported}
	inv := &inventory.Inventory{Distro: debian, Packages: []inventory.Package{
		{Name: "libssl3", Version: "3.0.11-1", Type: inventory.TypeDeb, SourceName: "openssl", SourceVersion: "3.0.11-1"},
		{Name: "openssl", Version: "3.0.11-1", Type: inventory.TypeDeb, SourceName: "openssl"},
		{Name: "bash", Version: "5.2-1", Type: inventory.TypeDeb},
		{Name: "Django_Rest", Version: "1.0", Type: pypi.Type},
		{Name: "zlib1g", Version: "1:1.2.13 dfsg-1", Type: inventory.TypeDeb, SourceName: "zlib", SourceVersion: "1:1.2.13 dfsg-1"},
		{Name: "lodash", Version: "latest", Type: npm.Type},
	}}
	tests := []struct {
		name string
		keys []Key
		opts Options
		want []string
	}{
		{"source name", []Key{{"debian:12", "openssl"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, []string{"libssl3", "openssl"}},
		{"binary name", []Key{{"debian:12", "libssl3"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, []string{"libssl3"}},
		{"two keys", []Key{{"debian:12", "bash"}, {"debian:12", "libssl3"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, []string{"libssl3", "bash"}},
		{"normalized pypi name, enhanced", []Key{{"osv:PyPI", "django-rest"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}, []string{"Django_Rest"}},
		{"language key, basic scan", []Key{{"osv:PyPI", "django-rest"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, nil},
		{"other namespace", []Key{{"debian:11", "bash"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, nil},
		{"no keys", nil, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, nil},
		{"a degraded package's source name", []Key{{"debian:12", "zlib"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}, []string{"zlib1g"}},
		{"a degraded language package, enhanced", []Key{{"osv:npm", "lodash"}, {"debian:12", "bash"}}, Options{Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems(), Language: true}, []string{"bash", "lodash"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := map[Key]bool{}
			for _, k := range tc.keys {
				keys[k] = true
			}
			sub := Touching(inv, tc.opts, keys)
			var got []string
			for _, p := range sub.Packages {
				got = append(got, p.Name)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if sub.Distro != inv.Distro || len(inv.Packages) != 6 {
				t.Error("Touching must keep the distro and leave inv alone")
			}
		})
	}
}
