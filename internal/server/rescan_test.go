package server

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// invScanner reports one busybox finding and the image's inventory.
type invScanner struct{}

func (invScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*ScanResult, error) {
	inv := &inventory.Inventory{
		Source: inventory.Source{Kind: "registry", Digest: digest},
		Distro: &inventory.Distro{ID: "alpine", Release: "3.19", Status: inventory.OSSupported},
		Packages: []inventory.Package{
			{Name: "busybox", Version: "1.36.1-r5", Type: inventory.TypeAPK, SourceName: "busybox"},
			{Name: "zlib", Version: "1.3-r0", Type: inventory.TypeAPK, SourceName: "zlib"},
		},
	}
	return &ScanResult{
		Status: StatusComplete, SeverityCounts: map[severity.Severity]int{"HIGH": 1},
		Findings: []Finding{{Name: "CVE-2023-42363", Severity: "HIGH",
			Attributes: []Attribute{{Key: "package_name", Value: "busybox"}, {Key: "package_version", Value: "1.36.1-r5"}}}},
		VulnerabilitySourceUpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Inventory:                    inv,
	}, nil
}

func TestPushStoresInventoryHistoryAndPulls(t *testing.T) {
	ts, stop := serve(t, Config{DataDir: t.TempDir(), Workers: 1,
		AccessKeys: []AccessKey{{ID: testKeyID, Secret: testSecret, Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
		Users:      []User{{Name: "ci", Password: "ci-pass", Grants: []Grant{{Repository: "*", Actions: []string{"admin"}}}}},
	}, invScanner{})
	defer stop()
	if code, body := ts.call(t, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "BASIC",
		"rules":    []any{map[string]any{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []any{map[string]any{"filter": "prod*", "filterType": "WILDCARD"}}}},
	}, nil); code != 200 {
		t.Fatalf("PutRegistryScanningConfiguration: %d %s", code, body)
	}
	img := ts.push(t, "prod/api:v1", 1, ciAuth)
	d, _ := img.Digest()
	st := ts.store
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	var sc store.Scan
	for {
		var err error
		sc, err = st.GetScan(ctx, "prod/api", d.String())
		if err == nil && sc.Status != "IN_PROGRESS" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sc.Status != "COMPLETE" {
		t.Fatalf("scan status %q", sc.Status)
	}
	stored, err := st.GetInventory(ctx, "prod/api", d.String())
	if err != nil {
		t.Fatal(err)
	}
	codec, _ := rescan.NewCodec()
	inv, err := codec.Decode(stored.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Packages) != 2 || inv.Source.Digest != d.String() || stored.Enhanced || !stored.DBBuiltAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("stored inventory: %+v (enhanced %v built %v)", inv, stored.Enhanced, stored.DBBuiltAt)
	}
	keys, _ := st.InventoryKeys(ctx, "prod/api", d.String())
	if diff := cmp.Diff([]store.InventoryKey{{Namespace: "alpine:3.19", Package: "busybox"}, {Namespace: "alpine:3.19", Package: "zlib"}}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	hist, _ := st.FindingHistory(ctx, "prod/api", d.String())
	if len(hist) != 1 || hist[0].Name != "CVE-2023-42363" || hist[0].PackageName != "busybox" || hist[0].FirstSeen.IsZero() || !hist[0].ResolvedAt.IsZero() {
		t.Errorf("history = %+v", hist)
	}
	if last, _ := st.LastPull(ctx, "prod/api", d.String()); !last.IsZero() {
		t.Errorf("pull recorded before any pull: %v", last)
	}
	// A pull by tag is recorded against the digest.
	ref, _ := name.ParseReference(ts.host+"/prod/api:v1", name.Insecure)
	if _, err := remote.Get(ref, remote.WithAuth(ciAuth)); err != nil {
		t.Fatal(err)
	}
	if last, _ := st.LastPull(ctx, "prod/api", d.String()); last.IsZero() {
		t.Error("manifest GET by tag did not record a pull")
	}
}
