package admission

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf"
	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf/tlstest"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// testNow is the policy clock in tests.
var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// poolImage is an image the testdata reviews reference, as stored in this
// registry (docker.io images under the dockerhub mirror prefix).
type poolImage struct {
	Ref      string // as written in the reviews
	Repo     string
	Tag      string
	Digest   string
	Enhanced bool
}

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// pool lists every image the reviews use. The digests of the images the
// reviews pin by digest are sha256 of their repository names.
func pool() map[string]poolImage {
	imgs := []poolImage{
		{Ref: "127.0.0.1:5000/shop/api:1.4.2", Repo: "shop/api", Tag: "1.4.2"},
		{Ref: "127.0.0.1:5000/shop/migrate@" + digestOf("shop/migrate"), Repo: "shop/migrate"},
		{Ref: "127.0.0.1:5000/shop/web", Repo: "shop/web", Tag: "latest"},
		{Ref: "127.0.0.1:5000/shop/worker:2.0@" + digestOf("shop/worker"), Repo: "shop/worker", Tag: "2.0"},
		{Ref: "127.0.0.1:5000/shop/report:3", Repo: "shop/report", Tag: "3"},
		{Ref: "127.0.0.1:5000/tools/debug", Repo: "tools/debug", Tag: "latest"},
		{Ref: "nginx:1.25", Repo: "dockerhub/library/nginx", Tag: "1.25", Enhanced: true},
		{Ref: "busybox@" + digestOf("dockerhub/library/busybox"), Repo: "dockerhub/library/busybox", Enhanced: true},
		{Ref: "docker.io/library/redis:7.2", Repo: "dockerhub/library/redis", Tag: "7.2", Enhanced: true},
	}
	out := map[string]poolImage{}
	for _, im := range imgs {
		im.Digest = digestOf(im.Repo)
		out[im.Ref] = im
	}
	return out
}

func deb(name, version, source string) inventory.Package {
	return inventory.Package{Name: name, Version: version, Type: inventory.TypeDeb, SourceName: source, Path: "var/lib/dpkg/status",
		PURL: "pkg:deb/debian/" + name + "@" + version + "?distro=debian-12", Cataloger: "dpkg"}
}

func mkFinding(id string, p inventory.Package, sev severity.Severity, score float64, fixed string) match.Finding {
	f := match.Finding{ID: id, Package: p, Namespace: "debian:12", Severity: sev, SeveritySource: "cvss3:nvd",
		CVSS3:   &advisory.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: score, Source: "nvd"},
		Sources: []string{"debian-tracker"}, URI: "https://security-tracker.debian.org/tracker/" + id,
		Description: id + " in " + p.SourceName}
	if fixed != "" {
		f.Status, f.FixedVersion = match.StatusFixable, fixed
	} else {
		f.Status = match.StatusWillNotFix
	}
	return f
}

var (
	libssl = deb("libssl3", "3.0.11-1~deb12u2", "openssl")
	expat  = deb("libexpat1", "2.5.0-1", "expat")
	gcc    = deb("libgcc-s1", "12.2.0-14", "gcc-12")
	zlib   = deb("zlib1g", "1:1.2.13.dfsg-1", "zlib")
	krb    = deb("libkrb5-3", "1.20.1-2+deb12u1", "krb5")
)

// Finding sets.
var (
	// clean has nothing at or above HIGH.
	cleanFindings = []match.Finding{
		mkFinding("CVE-2023-4039", gcc, "MEDIUM", 4.8, ""),
	}
	// severe: three at or above HIGH; the top is the higher-scored CRITICAL.
	severeFindings = []match.Finding{
		mkFinding("CVE-2024-5535", libssl, "CRITICAL", 9.1, "3.0.14-1~deb12u1"),
		mkFinding("CVE-2024-45491", expat, "CRITICAL", 9.8, "2.5.0-1+deb12u1"),
		mkFinding("CVE-2024-2511", libssl, "HIGH", 7.5, "3.0.14-1~deb12u1"),
		mkFinding("CVE-2023-4039", gcc, "MEDIUM", 4.8, ""),
	}
	// unfixedCritical: the CRITICAL has no fix, so with fixableOnly only the
	// fixable HIGH counts (and becomes the top).
	unfixedCritical = []match.Finding{
		mkFinding("CVE-2023-45853", zlib, "CRITICAL", 9.8, ""),
		mkFinding("CVE-2024-2511", libssl, "HIGH", 7.5, "3.0.14-1~deb12u1"),
		mkFinding("CVE-2024-26458", krb, "MEDIUM", 5.9, "1.20.1-2+deb12u2"),
	}
)

// resultJSON builds a stored scan result the way the server does: the
// report package's ECR shape converted to scanning.Result.
func resultJSON(t testing.TB, im poolImage, fs []match.Finding) json.RawMessage {
	t.Helper()
	inv := &inventory.Inventory{
		Source: inventory.Source{Ref: "registry:" + im.Repo + "@" + im.Digest, Kind: "registry", Digest: im.Digest, Architecture: "amd64"},
		Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12"},
	}
	e := report.ECR(report.Scan{Inventory: inv, Findings: fs, Enhanced: im.Enhanced, CompletedAt: testNow.Add(-time.Hour), DBUpdatedAt: testNow.Add(-2 * time.Hour)})
	res := scanning.Result{Status: scanning.Status(e.ImageScanStatus.Status), Description: e.ImageScanStatus.Description,
		SeverityCounts: e.ImageScanFindings.FindingSeverityCounts, CompletedAt: testNow.Add(-time.Hour), VulnerabilitySourceUpdatedAt: testNow.Add(-2 * time.Hour)}
	for _, f := range e.ImageScanFindings.Findings {
		sf := scanning.Finding{Name: f.Name, Description: f.Description, URI: f.URI, Severity: f.Severity}
		for _, a := range f.Attributes {
			sf.Attributes = append(sf.Attributes, scanning.Attribute{Key: a.Key, Value: a.Value})
		}
		res.Findings = append(res.Findings, sf)
	}
	for _, f := range e.ImageScanFindings.EnhancedFindings {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		res.EnhancedFindings = append(res.EnhancedFindings, b)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushImage records an image (and its tag) in the store, as a push does.
func pushImage(t testing.TB, st *store.SQL, im poolImage) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.EnsureRepository(ctx, store.Repository{Name: im.Repo, CreatedAt: testNow.Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	img := store.Image{Repository: im.Repo, Digest: im.Digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactMediaType: "application/vnd.oci.image.config.v1+json", Size: 1234, PushedAt: testNow.Add(-3 * time.Hour)}
	if _, err := st.PutImage(ctx, img, im.Tag); err != nil {
		t.Fatal(err)
	}
}

// startScan enqueues a scan of im (IN_PROGRESS) and returns its claimed job.
func startScan(t testing.TB, st *store.SQL, im poolImage) *store.Job {
	t.Helper()
	ctx := context.Background()
	if err := st.StartScan(ctx, im.Repo, im.Digest, im.Enhanced, testNow.Add(-2*time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	j, err := st.ClaimJob(ctx, "test-worker", testNow.Add(-2*time.Hour), time.Hour, 3)
	if err != nil || j == nil || j.Digest != im.Digest {
		t.Fatalf("claim job of %s: %v %+v", im.Ref, err, j)
	}
	return j
}

// scanImage completes a scan of im with the given outcome.
func scanImage(t testing.TB, st *store.SQL, im poolImage, status, description string, fs []match.Finding) {
	t.Helper()
	j := startScan(t, st, im)
	var res json.RawMessage
	if status == string(scanning.StatusComplete) {
		res = resultJSON(t, im, fs)
	}
	if err := st.CompleteJob(context.Background(), j, store.JobOutcome{Status: status, Description: description, Result: res}, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func openSQLite(t testing.TB) *store.SQL {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "stowaway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testPKI is a self-signed CA and a server certificate it signed.
type testPKI = tlstest.PKI

func newPKI(t testing.TB, dir string) *testPKI {
	t.Helper()
	return tlstest.New(t, dir, "stowaway.stowaway.svc")
}

// serveTLS serves h on a real TLS listener with the PKI's certificate and
// returns its URL and a client trusting the CA.
func serveTLS(t testing.TB, p *testPKI, h http.Handler) (string, *http.Client) {
	t.Helper()
	cfg, err := tlsconf.Server(p.CertFile, p.KeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool, MinVersion: tls.VersionTLS12}}}
	t.Cleanup(client.CloseIdleConnections)
	return "https://" + ln.Addr().String(), client
}

// post sends a review document and decodes the answer.
func post(t testing.TB, client *http.Client, url string, doc []byte) Review {
	t.Helper()
	resp, err := client.Post(url+Path, "application/json", bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", Path, resp.Status)
	}
	var rv Review
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rv); err != nil {
		t.Fatal(err)
	}
	return rv
}
