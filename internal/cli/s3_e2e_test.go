package cli

import (
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/hostile"
	"github.com/stowaway-scanner/stowaway/internal/s3test"
	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
)

// TestServeOnS3 is the push/pull/scan flow of `serve --storage s3://...`
// against a real S3 server (SeaweedFS, skipped without $STOWAWAY_WEED):
// crane and skopeo (when installed) push, the scan on push completes with
// the image's findings, the SBOM referrer is stored, a pull gets the image
// back, `db push` stores the DB artifact, and every one of them is in the
// bucket while the data directory holds only the SQLite store and the
// layer cache.
func TestServeOnS3(t *testing.T) {
	srv := s3test.ForTest(t)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	if err := srv.CreateBucket(ctx, "serve"); err != nil {
		t.Fatal(err)
	}
	db := hostileDB(t)
	var data string
	hs := startHostileServerWith(t, db, "BASIC", func(c *server.Config) {
		c.Storage = srv.URL("serve") + "&chunksize=5242880"
		c.SBOMFormats = "cyclonedx"
		data = c.DataDir
	})

	img, err := hostile.Image(hostile.Vulnerable())
	if err != nil {
		t.Fatal(err)
	}
	pusher := &authn.Basic{Username: "pusher", Password: "pw"}
	auth := crane.WithAuth(pusher)
	if err := crane.Push(img, hs.host+"/team/app:crane", auth, crane.Insecure); err != nil {
		t.Fatalf("crane push: %v", err)
	}
	dg, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out := hs.wait(t, "team/app", dg.String())
	if out.status != "COMPLETE" || !slices.Equal(out.findings, hostile.VulnerableFindings) {
		t.Fatalf("scan on push: %s %q, findings %q; want COMPLETE with %q", out.status, out.description, out.findings, hostile.VulnerableFindings)
	}

	// The SBOM referrer, through the referrers API.
	subj, err := name.NewDigest(hs.host+"/team/app@"+dg.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	waitReferrer(t, subj)

	// A pull gets every byte back.
	pulled, err := crane.Pull(hs.host+"/team/app:crane", auth, crane.Insecure)
	if err != nil {
		t.Fatalf("crane pull: %v", err)
	}
	if pd, _ := pulled.Digest(); pd != dg {
		t.Fatalf("pulled %s, pushed %s", pd, dg)
	}
	ls, _ := pulled.Layers()
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("pull layer: %v", err)
		}
		rc.Close()
	}

	// skopeo, the other client: copy the image in from an OCI layout.
	if bin, err := exec.LookPath("skopeo"); err != nil {
		t.Log("skopeo not installed (apt-get install -y skopeo): the skopeo push is skipped")
	} else {
		dir := t.TempDir()
		lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(img); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--insecure-policy", "copy", "--dest-tls-verify=false", "--dest-creds", "pusher:pw",
			"oci:"+filepath.Join(dir, "layout"), "docker://"+hs.host+"/team/skopeo:1")
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("skopeo copy: %v\n%s", err, b)
		}
		if o := hs.wait(t, "team/skopeo", dg.String()); o.status != "COMPLETE" {
			t.Errorf("scan of the skopeo push: %s %q", o.status, o.description)
		}
	}

	// db push: the DB artifact goes to the bucket too (credentials from a
	// containers auth file, as a user's).
	authFile := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(authFile, []byte(`{"auths":{"`+hs.host+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("pusher:pw"))+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	if code, stdout, stderr := runCLI(t, "db", "push", hs.host+"/stowaway/db:1", "--db", db); code != ExitOK {
		t.Fatalf("db push: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// Everything is in the bucket...
	objs, err := srv.Objects(ctx, "serve", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"docker/registry/v2/repositories/team/app/_manifests/tags/crane/current/link",
		"docker/registry/v2/repositories/stowaway/db/_manifests/tags/1/current/link",
		"docker/registry/v2/blobs/sha256/" + dg.Hex[:2] + "/" + dg.Hex + "/data",
	} {
		if _, ok := objs[want]; !ok {
			t.Errorf("bucket has no %s", want)
		}
	}
	for _, l := range ls {
		ld, _ := l.Digest()
		if _, ok := objs["docker/registry/v2/blobs/sha256/"+ld.Hex[:2]+"/"+ld.Hex+"/data"]; !ok {
			t.Errorf("bucket has no layer %s", ld)
		}
	}
	referrerLinks := 0
	for k := range objs {
		if strings.HasPrefix(k, "docker/registry/v2/repositories/team/app/_manifests/revisions/sha256/") {
			referrerLinks++
		}
	}
	if referrerLinks < 2 {
		t.Errorf("team/app has %d manifest revisions in the bucket, want the image and its SBOM referrer", referrerLinks)
	}
	// ...and nothing of the registry is under --data: the SQLite store and
	// the layer cache only.
	var files []string
	err = filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(data, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		if !strings.HasPrefix(f, "stowaway.db") && !strings.HasPrefix(f, "layer-cache"+string(filepath.Separator)) {
			t.Errorf("--data holds %s: want only the SQLite store and the layer cache", f)
		}
	}
	if !slices.ContainsFunc(files, func(f string) bool { return strings.HasPrefix(f, "layer-cache") }) {
		t.Errorf("no layer cache under --data (%v): was the image scanned?", files)
	}
}

func waitReferrer(t *testing.T, subj name.Digest) {
	t.Helper()
	for i := 0; ; i++ {
		idx, err := remote.Referrers(subj, remote.WithFilter("artifactType", sbomref.ArtifactTypeCycloneDX), remote.WithAuth(&authn.Basic{Username: "pusher", Password: "pw"}))
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) > 0 {
			return
		}
		if i > 600 {
			t.Fatalf("%s: no SBOM referrer after 2 minutes", subj)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeStorageFlags: --storage and --storage-config are refused at
// start with a message naming what is wrong, credentials in the URL above
// all, and the message never repeats the secret.
func TestServeStorageFlags(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "storage.yaml")
	if err := os.WriteFile(cfgFile, []byte("s3: {bucket: b}\nmaintenance: {uploadpurging: {enabled: true}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--storage", "s3://AKIDEXAMPLE:topsecret@bucket?region=us-east-1"}, "the URL names credentials (user info before the bucket): S3 credentials come from the standard AWS environment"},
		{[]string{"--storage", "s3://bucket?region=us-east-1&secretkey=topsecret"}, "the URL names credentials (secretkey=)"},
		{[]string{"--storage", "/srv/blobs"}, `--storage: scheme ""`},
		{[]string{"--storage", "s3://b?region=r", "--storage-config", cfgFile}, "--storage and --storage-config: give one"},
		{[]string{"--storage-config", cfgFile}, "maintenance: serve manages it"},
	} {
		code, _, stderr := runCLI(t, append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)...)
		if code != ExitError || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "topsecret") {
			t.Errorf("serve %v: exit %d, stderr %q; want an error with %q and no secret", tc.args, code, stderr, tc.want)
		}
	}
}
