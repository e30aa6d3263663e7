package replication

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// TestReplaceDestinations: a reloaded set of destinations takes effect at
// once for the rules PutConfiguration accepts and for the deliveries the
// dispatcher routes; a set naming a destination twice leaves the old one.
func TestReplaceDestinations(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	open, err := auth.New(nil, nil, []byte("k"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(ctx, registry.Options{Dir: t.TempDir(), Store: st, Auth: open})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Shutdown() })
	u, _ := url.Parse("http://127.0.0.1:1")
	r, err := New(ctx, Options{DB: st.DB(), Dialect: st.Dialect(), Store: st, Source: reg, Self: self,
		Destinations: []auth.Destination{{Region: dr.Region, RegistryID: dr.RegistryID, URL: u}}})
	if err != nil {
		t.Fatal(err)
	}
	toEU := Config{Rules: []Rule{{Destinations: []Destination{eu}}}}
	check := func(step string, wantEU, wantDR bool) {
		t.Helper()
		err := r.PutConfiguration(ctx, toEU)
		var e *Error
		if wantEU != (err == nil) || (err != nil && !errors.As(err, &e)) {
			t.Errorf("%s: PutConfiguration naming %s = %v, want accepted %v", step, eu.Key(), err, wantEU)
		}
		if _, ok := r.sink(eu.Key()); ok != wantEU {
			t.Errorf("%s: the dispatcher routes %s: %v, want %v", step, eu.Key(), ok, wantEU)
		}
		if _, ok := r.sink(dr.Key()); ok != wantDR {
			t.Errorf("%s: the dispatcher routes %s: %v, want %v", step, dr.Key(), ok, wantDR)
		}
	}
	check("at start", false, true)
	twice := []auth.Destination{{Region: eu.Region, RegistryID: eu.RegistryID, URL: u}, {Region: eu.Region, RegistryID: eu.RegistryID, URL: u}}
	if err := r.ReplaceDestinations(twice); err == nil {
		t.Error("ReplaceDestinations with a destination twice: no error")
	}
	check("after a refused reload", false, true)
	if err := r.ReplaceDestinations(twice[:1]); err != nil {
		t.Fatal(err)
	}
	check("after the reload", true, false)
}
