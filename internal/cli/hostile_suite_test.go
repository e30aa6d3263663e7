package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stowaway-scanner/stowaway/internal/hostile"
)

// hostileDB builds the hostile suite's vulnerability DB from its fixture
// mirror.
func hostileDB(t *testing.T) string {
	t.Helper()
	mirror, db := t.TempDir(), t.TempDir()
	if err := hostile.Mirror(mirror); err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := runCLI(t, "db", "update", "--mirror", mirror, "--db", db); code != ExitOK {
		t.Fatalf("db update: exit %d\n%s\n%s", code, out, stderr)
	}
	return db
}

// sourceForm writes an image as one kind of scan source and returns the
// SOURCE argument.
type sourceForm struct {
	name  string
	write func(t *testing.T, img v1.Image) string
}

func hostileForms(t *testing.T) []sourceForm {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	n := 0
	var mu sync.Mutex
	return []sourceForm{
		{"docker-archive", func(t *testing.T, img v1.Image) string {
			p := filepath.Join(t.TempDir(), "img.tar")
			tag, _ := name.NewTag("hostile/case:1")
			if err := tarball.WriteToFile(p, tag, img); err != nil {
				t.Fatal(err)
			}
			return "docker-archive:" + p
		}},
		{"oci-layout", func(t *testing.T, img v1.Image) string {
			p := filepath.Join(t.TempDir(), "layout")
			lp, err := layout.Write(p, empty.Index)
			if err != nil {
				t.Fatal(err)
			}
			if err := lp.AppendImage(img); err != nil {
				t.Fatal(err)
			}
			return "oci-layout:" + p
		}},
		{"registry", func(t *testing.T, img v1.Image) string {
			mu.Lock()
			n++
			ref := fmt.Sprintf("%s/hostile/case%d:1", host, n)
			mu.Unlock()
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			// remote.Write copies the config's claims as they are: it is
			// the raw client an attacker would use.
			if err := remote.Write(r, img); err != nil {
				t.Fatal(err)
			}
			return ref
		}},
	}
}

// scanOutcome is what a CLI scan printed.
type scanOutcome struct {
	code     int
	stderr   string
	status   string
	desc     string
	findings []string // "ID package", sorted
	raw      []json.RawMessage
}

func scanHostile(t *testing.T, src, db, cache string, enhanced bool) scanOutcome {
	t.Helper()
	args := []string{"scan", src, "--db", db, "--format", "json", "--no-sbom-reuse"}
	if cache != "" {
		args = append(args, "--layer-cache", cache)
	}
	if enhanced {
		args = append(args, "--scan-type", "enhanced")
	}
	code, stdout, stderr := runCLI(t, args...)
	out := scanOutcome{code: code, stderr: stderr}
	if code != ExitOK {
		return out
	}
	var resp struct {
		ImageScanStatus   struct{ Status, Description string }
		ImageScanFindings struct {
			Findings []struct {
				Name       string
				Attributes []struct{ Key, Value string }
			}
			EnhancedFindings []struct {
				PackageVulnerabilityDetails struct {
					VulnerabilityID    string
					VulnerablePackages []struct{ Name string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		t.Fatalf("scan %s: %v\n%s", src, err, stdout)
	}
	var all struct {
		ImageScanFindings struct {
			Findings, EnhancedFindings []json.RawMessage
		}
	}
	json.Unmarshal([]byte(stdout), &all)
	out.raw = append(all.ImageScanFindings.Findings, all.ImageScanFindings.EnhancedFindings...)
	out.status, out.desc = resp.ImageScanStatus.Status, resp.ImageScanStatus.Description
	for _, f := range resp.ImageScanFindings.Findings {
		for _, a := range f.Attributes {
			if a.Key == "package_name" {
				out.findings = append(out.findings, f.Name+" "+a.Value)
			}
		}
	}
	for _, f := range resp.ImageScanFindings.EnhancedFindings {
		d := f.PackageVulnerabilityDetails
		for _, p := range d.VulnerablePackages {
			out.findings = append(out.findings, d.VulnerabilityID+" "+p.Name)
		}
	}
	sort.Strings(out.findings)
	return out
}

// TestHostileSuiteCLI runs every hostile case through `stowaway scan`, from
// a docker archive, an OCI layout and a registry, with a layer cache shared
// by the case's images, and checks the exact outcome: the named error, or
// the findings of the image without the attack.
func TestHostileSuiteCLI(t *testing.T) {
	db := hostileDB(t)
	forms := hostileForms(t)
	for _, tc := range append(hostile.Cases(), hostile.LanguageCases()...) {
		t.Run(tc.Name, func(t *testing.T) {
			for _, form := range forms {
				if tc.Heavy && form.name != "docker-archive" {
					continue
				}
				t.Run(form.name, func(t *testing.T) {
					checkCaseCLI(t, tc, form, db)
				})
			}
		})
	}
}

func mustImage(t *testing.T, f func() (v1.Image, error)) v1.Image {
	t.Helper()
	img, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkCaseCLI(t *testing.T, tc hostile.Case, form sourceForm, db string) {
	cache := t.TempDir()
	if tc.Before != nil {
		got := scanHostile(t, form.write(t, mustImage(t, tc.Before)), db, cache, tc.Enhanced)
		checkErr(t, "first image", got, tc.BeforeErr)
	}
	got := scanHostile(t, form.write(t, mustImage(t, tc.Image)), db, cache, tc.Enhanced)
	checkErr(t, "image", got, tc.Err)
	if tc.Err != "" {
		return
	}
	if d := cmp.Diff(sorted(tc.Findings), got.findings, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	for _, w := range tc.Warnings {
		if !strings.Contains(got.stderr, w) {
			t.Errorf("stderr does not name %q:\n%s", w, got.stderr)
		}
	}
	for _, w := range tc.Description {
		if !strings.Contains(got.desc, w) {
			t.Errorf("status description %q does not name %q", got.desc, w)
		}
	}
	if tc.Clean != nil {
		clean := scanHostile(t, form.write(t, mustImage(t, tc.Clean)), db, "", tc.Enhanced)
		if clean.code != ExitOK {
			t.Fatalf("clean image: exit %d: %s", clean.code, clean.stderr)
		}
		if d := cmp.Diff(rawStrings(clean.raw), rawStrings(got.raw)); d != "" {
			t.Errorf("findings differ from the image without the attack (-clean +attacked):\n%s", d)
		}
	}
}

// checkErr: an empty want means the scan completed.
func checkErr(t *testing.T, what string, got scanOutcome, want string) {
	t.Helper()
	if want == "" {
		if got.code != ExitOK {
			t.Fatalf("%s: exit %d, want a completed scan:\n%s", what, got.code, got.stderr)
		}
		return
	}
	if got.code != ExitError || !strings.Contains(got.stderr, want) {
		t.Fatalf("%s: exit %d, stderr:\n%s\nwant exit %d naming %q", what, got.code, got.stderr, ExitError, want)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// rawStrings drops what differs between two images of the same packages:
// times, the image's identity (finding ARNs, resources) and the layer that
// holds a package (an attacked image has other layers).
func rawStrings(raw []json.RawMessage) []string {
	var out []string
	for _, r := range raw {
		var m map[string]any
		json.Unmarshal(r, &m)
		for _, k := range []string{"firstObservedAt", "lastObservedAt", "updatedAt", "findingArn", "resources"} {
			delete(m, k)
		}
		if attrs, ok := m["attributes"].([]any); ok {
			kept := attrs[:0]
			for _, a := range attrs {
				if am, ok := a.(map[string]any); ok && am["key"] == "layer_diff_id" {
					continue
				}
				kept = append(kept, a)
			}
			m["attributes"] = kept
		}
		if d, ok := m["packageVulnerabilityDetails"].(map[string]any); ok {
			if vps, ok := d["vulnerablePackages"].([]any); ok {
				for _, vp := range vps {
					if vm, ok := vp.(map[string]any); ok {
						delete(vm, "sourceLayerHash")
					}
				}
			}
		}
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}
