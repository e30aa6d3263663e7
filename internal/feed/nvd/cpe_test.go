package nvd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

const rec20Seed = `{"cve":{"id":"CVE-2023-0001","configurations":[{"nodes":[{"operator":"OR","cpeMatch":[
		{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*","versionStartIncluding":"1.1.1","versionEndExcluding":"1.1.1w"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*","versionStartExcluding":"3.0.0","versionEndIncluding":"3.0.11"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:3.0.0:beta1:*:*:*:*:*:*"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:1.0.2:*:*:*:*:*:*:*"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:1.0.2:*:*:*:*:*:*:*"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:openssl:openssl:-:*:*:*:*:*:*:*"},
		{"vulnerable":false,"criteria":"cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:nodejs:node.js:*:*:*:*:*:*:*:*"},
		{"vulnerable":true,"criteria":"cpe:2.3:a:other:thing:*:*:*:*:*:*:*:*"}]},
		{"operator":"OR","cpeMatch":[{"vulnerable":false,"criteria":"cpe:2.3:o:debian:debian_linux:11:*:*:*:*:*:*:*"}]}]}]}}`

const rec11Seed = `{"cve":{},"configurations":{"nodes":[{"operator":"AND","children":[{"operator":"OR","cpe_match":[
		{"vulnerable":true,"cpe23Uri":"cpe:2.3:a:haxx:curl:*:*:*:*:*:*:*:*","versionEndExcluding":"7.88.1"}]}]}]}}`

func TestCPERanges(t *testing.T) {
	got, err := cpeRanges20(json.RawMessage(rec20Seed))
	if err != nil {
		t.Fatal(err)
	}
	ossl := advisory.CPE{Vendor: "openssl", Product: "openssl"}
	want := []advisory.CPERange{
		{CPE: ossl, Start: "1.1.1", End: "1.1.1w"},
		{CPE: ossl, Start: "3.0.0", StartExcluding: true, End: "3.0.11", EndIncluding: true},
		{CPE: ossl, Version: "3.0.0-beta1"},
		{CPE: ossl, Version: "1.0.2"},
		{CPE: advisory.CPE{Vendor: "nodejs", Product: "node.js"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("2.0 (-want +got):\n%s", d)
	}
	got, err = cpeRanges11(json.RawMessage(rec11Seed))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]advisory.CPERange{{CPE: advisory.CPE{Vendor: "haxx", Product: "curl"}, End: "7.88.1"}}, got); d != "" {
		t.Errorf("1.1 (-want +got):\n%s", d)
	}
	// A record naming no classified product is not decoded again.
	if got, err := cpeRanges20(json.RawMessage(`{"cve":{"configurations":"not even an array: cpe:2.3:a:other:x:"}}`)); err != nil || got != nil {
		t.Errorf("unrelated record: %v, %v", got, err)
	}
	// A bad value is an error naming the configurations.
	if _, err := cpeRanges20(json.RawMessage(`{"cve":{"configurations":"cpe:2.3:a:openssl:openssl:"}}`)); err == nil {
		t.Error("bad configurations: no error")
	}
}

// TestSharedFeedsCPE counts, on the shared NVD feeds, the CPE ranges kept
// per classified product.
func TestSharedFeedsCPE(t *testing.T) {
	root := filepath.Join(testutil.Shared(t, "feeds"), "nvd", "feeds", "json", "cve")
	perProduct := map[string]int{}
	records := 0
	_, err := New().Parse(context.Background(), os.DirFS(root), func(a *advisory.Advisory) error {
		if len(a.CPE) > 0 {
			records++
		}
		for _, r := range a.CPE {
			perProduct[r.CPE.String()]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range perProduct {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%s: %d ranges", k, perProduct[k])
	}
	t.Logf("%d records with ranges", records)
	if perProduct["openssl:openssl"] == 0 || perProduct["haxx:curl"] == 0 {
		t.Errorf("no OpenSSL or curl ranges in the shared NVD feeds: %v", perProduct)
	}
}

// FuzzCPERanges: any record bytes give ranges that Valid accepts, or an
// error, never a panic.
func FuzzCPERanges(f *testing.F) {
	f.Add([]byte(rec20Seed))
	f.Add([]byte(rec11Seed))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fn := range []func(json.RawMessage) ([]advisory.CPERange, error){cpeRanges20, cpeRanges11} {
			rs, err := fn(b)
			if err != nil {
				continue
			}
			for _, r := range rs {
				if err := r.Valid(); err != nil {
					t.Fatalf("%+v: %v", r, err)
				}
			}
		}
	})
}
