package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/google/go-cmp/cmp"
)

func TestParseStorageURL(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	none := env(nil)
	for _, tc := range []struct {
		name, url string
		getenv    func(string) string
		want      Storage
		err       string
	}{
		{
			name: "seaweedfs", getenv: none,
			url:  "s3://blobs?region=us-east-1&endpoint=http://127.0.0.1:8333&forcepathstyle=true",
			want: Storage{Driver: "s3", Params: map[string]any{"bucket": "blobs", "region": "us-east-1", "regionendpoint": "http://127.0.0.1:8333", "secure": false, "forcepathstyle": true}},
		},
		{
			name: "aws with prefix and options", getenv: none,
			url: "s3://my.bucket/team/registry/?region=eu-west-1&storageclass=STANDARD_IA&encrypt=true&chunksize=20971520&redirect=true",
			want: Storage{Driver: "s3", Redirect: true, Params: map[string]any{
				"bucket": "my.bucket", "rootdirectory": "/team/registry", "region": "eu-west-1",
				"storageclass": "STANDARD_IA", "encrypt": true, "chunksize": int64(20971520),
			}},
		},
		{
			name: "https endpoint stays secure, region from the environment", getenv: env(map[string]string{"AWS_DEFAULT_REGION": "ap-south-1"}),
			url:  "s3://b1?endpoint=https://minio.example:9000",
			want: Storage{Driver: "s3", Params: map[string]any{"bucket": "b1", "region": "ap-south-1", "regionendpoint": "https://minio.example:9000"}},
		},
		{
			name: "AWS_REGION wins", getenv: env(map[string]string{"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}),
			url:  "s3://b1",
			want: Storage{Driver: "s3", Params: map[string]any{"bucket": "b1", "region": "us-west-2"}},
		},
		{
			name: "endpoint without a region anywhere", getenv: none,
			url:  "s3://b1?endpoint=http://h:1",
			want: Storage{Driver: "s3", Params: map[string]any{"bucket": "b1", "region": "us-east-1", "regionendpoint": "http://h:1", "secure": false}},
		},
		{name: "aws without a region", getenv: none, url: "s3://b1", err: "no region"},
		{name: "user info", getenv: none, url: "s3://AKIDEXAMPLE:secret@b1?region=us-east-1", err: "the URL names credentials (user info"},
		{name: "access key parameter", getenv: none, url: "s3://b1?region=us-east-1&accesskey=AKID&secretkey=x", err: "the URL names credentials (accesskey=)"},
		{name: "secret key parameter, any case", getenv: none, url: "s3://b1?region=us-east-1&SecretKey=x", err: "the URL names credentials (SecretKey=)"},
		{name: "endpoint with user info", getenv: none, url: "s3://b1?endpoint=http://AKID:s@h:1", err: "endpoint names credentials"},
		{name: "other scheme", getenv: none, url: "gs://b1", err: `scheme "gs"`},
		{name: "no scheme", getenv: none, url: "/var/lib/blobs", err: `scheme ""`},
		{name: "no bucket", getenv: none, url: "s3://?region=us-east-1", err: `bucket ""`},
		{name: "bad bucket", getenv: none, url: "s3://-b?region=us-east-1", err: `bucket "-b"`},
		{name: "bad prefix", getenv: none, url: "s3://b1/a//b?region=us-east-1", err: "prefix"},
		{name: "unknown parameter", getenv: none, url: "s3://b1?region=us-east-1&forcepathstyel=true", err: `unknown parameter "forcepathstyel": want one of accelerate, chunksize`},
		{name: "bad bool", getenv: none, url: "s3://b1?region=us-east-1&forcepathstyle=yes", err: `forcepathstyle="yes": want true or false`},
		{name: "bad int", getenv: none, url: "s3://b1?region=us-east-1&chunksize=-1", err: "chunksize"},
		{name: "bad endpoint", getenv: none, url: "s3://b1?endpoint=127.0.0.1:8333", err: "endpoint="},
		{name: "twice", getenv: none, url: "s3://b1?region=a&region=b", err: "region given 2 times"},
		{name: "empty value", getenv: none, url: "s3://b1?region=", err: "region is empty"},
		{name: "opaque", getenv: none, url: "s3:b1", err: "want s3://BUCKET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStorageURL(tc.url, tc.getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") && strings.Contains(tc.url, "secret") && !strings.Contains(tc.err, "secret") {
					t.Errorf("the error quotes the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestStorageString: descriptions name the bucket and endpoint, never a
// credential a --storage-config file may hold.
func TestStorageString(t *testing.T) {
	for _, tc := range []struct {
		st   Storage
		want string
	}{
		{Storage{}, "filesystem"},
		{Storage{Driver: "filesystem", Params: map[string]any{"rootdirectory": "/d"}}, "filesystem at /d"},
		{Storage{Driver: "s3", Params: map[string]any{"bucket": "b", "rootdirectory": "/p", "regionendpoint": "http://h:1", "region": "r", "accesskey": "AKID", "secretkey": "SECRET"}},
			"s3 bucket b under /p at http://h:1 (region r)"},
	} {
		if got := tc.st.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestParseStorageConfig(t *testing.T) {
	abs, err := filepath.Abs("rel/dir")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yaml string
		want       Storage
		err        string
	}{
		{
			name: "distribution's s3 section",
			yaml: "s3:\n  bucket: blobs\n  region: us-east-1\n  regionendpoint: http://127.0.0.1:8333\n  forcepathstyle: true\n  secure: false\n  chunksize: 10485760\n",
			want: Storage{Driver: "s3", Params: map[string]any{"bucket": "blobs", "region": "us-east-1", "regionendpoint": "http://127.0.0.1:8333", "forcepathstyle": true, "secure": false, "chunksize": 10485760}},
		},
		{
			name: "wrapped in storage:, s3aws, redirects on",
			yaml: "storage:\n  s3aws:\n    bucket: b\n    region: eu-west-1\n  redirect:\n    disable: false\n",
			want: Storage{Driver: "s3", Redirect: true, Params: map[string]any{"bucket": "b", "region": "eu-west-1"}},
		},
		{
			name: "filesystem, relative root made absolute",
			yaml: "filesystem:\n  rootdirectory: rel/dir\nredirect:\n  disable: true\n",
			want: Storage{Driver: "filesystem", Params: map[string]any{"rootdirectory": abs}},
		},
		{name: "empty", yaml: "", err: "empty"},
		{name: "not yaml", yaml: "s3: [", err: "not YAML"},
		{name: "no driver", yaml: "redirect:\n  disable: true\n", err: "no driver"},
		{name: "two drivers", yaml: "s3: {bucket: b}\nfilesystem: {rootdirectory: /x}\n", err: "two drivers"},
		{name: "unknown driver", yaml: "gcs: {bucket: b}\n", err: `unknown key "gcs"`},
		{name: "maintenance is serve's", yaml: "s3: {bucket: b}\nmaintenance: {uploadpurging: {enabled: true}}\n", err: "maintenance: serve manages it"},
		{name: "delete is serve's", yaml: "s3: {bucket: b}\ndelete: {enabled: false}\n", err: "delete: serve manages it"},
		{name: "s3 without bucket", yaml: "s3: {region: r}\n", err: "bucket is required"},
		{name: "filesystem without root", yaml: "filesystem:\n", err: "rootdirectory is required"},
		{name: "driver not a mapping", yaml: "s3: 3\n", err: "want a mapping"},
		{name: "bad redirect", yaml: "s3: {bucket: b}\nredirect: {disable: maybe}\n", err: "redirect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStorageConfig([]byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadStorageConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadStorageConfig(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("s3: {bucket: b}\n#"+strings.Repeat("x", maxStorageConfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadStorageConfig(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
	ok := filepath.Join(dir, "s3.yaml")
	if err := os.WriteFile(ok, []byte("s3: {bucket: b, region: r}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := LoadStorageConfig(ok); err != nil || st.Driver != "s3" {
		t.Errorf("LoadStorageConfig = %+v, %v", st, err)
	}
}

// TestFilesystemDriver: distribution's filesystem driver, as the registry
// opens it, refuses the paths distribution's drivers do not accept and
// reports missing paths as PathNotFoundError (what GC and the upload purge
// rely on).
func TestFilesystemDriver(t *testing.T) {
	ctx := context.Background()
	d, err := openDriver(ctx, Storage{Driver: "filesystem", Params: map[string]any{"rootdirectory": t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutContent(ctx, "/a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, err := d.GetContent(ctx, "/a/b"); err != nil || string(b) != "x" {
		t.Errorf("GetContent /a/b = %q, %v", b, err)
	}
	for _, p := range []string{"a/b", "/a b", "/a//b", "", "/a/b/"} {
		var inv storagedriver.InvalidPathError
		if _, err := d.GetContent(ctx, p); !errors.As(err, &inv) {
			t.Errorf("GetContent %q: %v, want InvalidPathError", p, err)
		}
		if err := d.Delete(ctx, p); !errors.As(err, &inv) {
			t.Errorf("Delete %q: %v, want InvalidPathError", p, err)
		}
	}
	var nf storagedriver.PathNotFoundError
	if _, err := d.Stat(ctx, "/missing"); !errors.As(err, &nf) {
		t.Errorf("Stat /missing: %v, want PathNotFoundError", err)
	}
	if err := d.Move(ctx, "/missing", "/c"); !errors.As(err, &nf) {
		t.Errorf("Move /missing: %v, want PathNotFoundError", err)
	}
	if _, err := openDriver(ctx, Storage{Driver: "gcs"}); err == nil || !strings.Contains(err.Error(), `"gcs"`) {
		t.Errorf("unknown driver: %v", err)
	}
}

// TestOpenDriverUnreachable: an S3 endpoint that does not answer fails at
// start, naming the bucket and endpoint, and the error holds no secret.
func TestOpenDriverUnreachable(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "verysecretvalue")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	st, err := ParseStorageURL("s3://nobucket?endpoint=http://127.0.0.1:1&forcepathstyle=true", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	_, err = openDriver(ctx, st)
	if err == nil {
		t.Fatal("opened storage at a closed port")
	}
	if msg := err.Error(); !strings.Contains(msg, "s3 bucket nobucket at http://127.0.0.1:1") || strings.Contains(msg, "verysecretvalue") {
		t.Errorf("error %q: want the bucket and endpoint named, no secret", msg)
	}
}

// FuzzParseStorageURL: any --storage value is parsed or refused, never a
// panic, and a refusal never repeats what followed "secretkey=".
func FuzzParseStorageURL(f *testing.F) {
	for _, s := range []string{
		"s3://blobs?region=us-east-1&endpoint=http://127.0.0.1:8333&forcepathstyle=true",
		"s3://b/p?region=r&chunksize=5242880&redirect=true",
		"s3://a:b@c", "s3:x", "s3://b?secretkey=zzsecretzz", "%zz", "s3://b?endpoint=http://u:p@h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStorageURL(s, func(string) string { return "" })
		if err != nil {
			if strings.Contains(s, "zzsecretzz") && strings.Contains(err.Error(), "zzsecretzz") {
				t.Errorf("error quotes the secret: %v", err)
			}
			return
		}
		if st.Driver != "s3" || st.Params["bucket"] == "" || st.Params["region"] == nil {
			t.Errorf("accepted %q as %+v", s, st)
		}
	})
}

// FuzzParseStorageConfig: any file is parsed or refused, never a panic.
func FuzzParseStorageConfig(f *testing.F) {
	for _, s := range []string{
		"s3:\n  bucket: b\n  region: r\n",
		"storage:\n  filesystem:\n    rootdirectory: /x\n  redirect:\n    disable: false\n",
		"s3: [", "redirect: 3", "storage: 1", "s3: {bucket: 3}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStorageConfig(b)
		if err == nil && storageDrivers[st.Driver] == "" {
			t.Errorf("accepted driver %q", st.Driver)
		}
	})
}
