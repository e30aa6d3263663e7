package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	feedall "github.com/stowaway-scanner/stowaway/internal/feed/all"
	"github.com/stowaway-scanner/stowaway/internal/feed/nvd"
)

// TestDBUpdateStatusParts: `db update` and `db status` show the NVD source's
// records per feed format, here from a mirror holding only an NVD 2.0 feed
// written in the published format.
func TestDBUpdateStatusParts(t *testing.T) {
	mirror, dbDir := t.TempDir(), t.TempDir()
	nvdDir := filepath.Join(mirror, "nvd", "feeds", "json", "cve", "2.0")
	if err := os.MkdirAll(nvdDir, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := func(id string) string {
		return `{"cve": {"id": "` + id + `", "published": "2024-01-02T10:00:00.000", "lastModified": "2024-02-03T10:00:00.000",
			"vulnStatus": "Analyzed", "descriptions": [{"lang": "en", "value": "A flaw."}],
			"metrics": {"cvssMetricV31": [{"source": "nvd@nist.gov", "type": "Primary",
				"cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8}}]}}}`
	}
	doc := []byte(`{"resultsPerPage": 2, "startIndex": 0, "totalResults": 2, "format": "NVD_CVE", "version": "2.0",
		"timestamp": "2024-02-04T00:00:00.000", "vulnerabilities": [` + rec("CVE-2024-0001") + `, ` + rec("CVE-2024-0002") + `]}`)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(doc)
	zw.Close()
	meta := fmt.Sprintf("lastModifiedDate:2024-02-04T00:00:00-05:00\r\nsize:%d\r\ngzSize:%d\r\nsha256:%X\r\n", len(doc), gz.Len(), sha256.Sum256(doc))
	for name, data := range map[string][]byte{"nvdcve-2.0-2024.json.gz": gz.Bytes(), "nvdcve-2.0-2024.meta": []byte(meta)} {
		if err := os.WriteFile(filepath.Join(nvdDir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	for _, want := range []string{"updated", "unchanged"} {
		var out, errb bytes.Buffer
		code, err := runDB(ctx, []string{"update", "--mirror", mirror, "--source", "nvd", "--db", dbDir}, &out, &errb)
		if code != ExitOK || err != nil {
			t.Fatalf("db update: code %d, %v, stderr %s", code, err, errb.String())
		}
		var line string
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "nvd ") {
				line = l
			}
		}
		if !strings.Contains(line, want) || !strings.Contains(line, "2 enrichment (nvd-2.0 2)") {
			t.Errorf("db update (%s): nvd line %q in\n%s", want, line, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code, err := runDB(ctx, []string{"status", "--db", dbDir}, &out, &errb); code != ExitOK || err != nil {
		t.Fatalf("db status: code %d, %v, stderr %s", code, err, errb.String())
	}
	if !strings.Contains(out.String(), "\nnvd records by part: nvd-2.0 2\n") {
		t.Errorf("db status:\n%s", out.String())
	}
	out.Reset()
	if code, err := runDB(ctx, []string{"status", "--db", dbDir, "--json"}, &out, &errb); code != ExitOK || err != nil {
		t.Fatalf("db status --json: code %d, %v", code, err)
	}
	if !strings.Contains(out.String(), `"parts": {`+"\n"+`        "nvd-2.0": 2`) {
		t.Errorf("db status --json lacks the parts:\n%s", out.String())
	}
}

// TestDBNVDAPIUpdaters: --nvd-api swaps only the NVD updater, keeping the
// list's names and order.
func TestDBNVDAPIUpdaters(t *testing.T) {
	before := feedall.Updaters(feedall.Options{})
	after := withNVDAPI(before, "k")
	if len(after) != len(before) {
		t.Fatalf("%d updaters, want %d", len(after), len(before))
	}
	swapped := 0
	for i := range before {
		if before[i].Name() != after[i].Name() {
			t.Errorf("updater %d: %s became %s", i, before[i].Name(), after[i].Name())
		}
		if before[i] != after[i] {
			swapped++
			if _, ok := after[i].(*nvd.Updater); !ok {
				t.Errorf("%s replaced by %T", after[i].Name(), after[i])
			}
		}
	}
	if swapped != 1 {
		t.Errorf("%d updaters replaced, want 1", swapped)
	}
}
