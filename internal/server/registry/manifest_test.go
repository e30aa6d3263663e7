package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type parsed struct {
	MediaType    string
	ArtifactType string
	Size         int64
	Subject      string
	Annotations  int
}

func summarize(m manifestInfo) parsed {
	p := parsed{MediaType: m.MediaType, ArtifactType: m.artifactType(), Size: m.imageSize(), Annotations: len(m.Annotations)}
	if m.Subject != nil {
		p.Subject = m.Subject.Digest
	}
	return p
}

func TestParseManifest(t *testing.T) {
	tests := []struct {
		file, contentType string
		want              parsed
		wantErr           bool
	}{
		{"oci-image.json", "", parsed{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.oci.image.config.v1+json", Size: 1123}, false},
		{"referrer.json", "", parsed{MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/spdx+json", Size: 52,
			Subject: "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", Annotations: 1}, false},
		{"index.json", "", parsed{MediaType: "application/vnd.oci.image.index.v1+json", Size: 500}, false},
		// No mediaType in the body: the PUT's Content-Type decides.
		{"docker-v2.json", "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8",
			parsed{MediaType: "application/vnd.docker.distribution.manifest.v2+json", ArtifactType: "application/vnd.docker.container.image.v1+json", Size: 10}, false},
		{"bad-subject.json", "", parsed{}, true},
		{"truncated.json", "", parsed{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "manifests", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			m, err := parseManifest(b, tt.contentType)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, summarize(m)); diff != "" {
				t.Errorf("parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "manifests", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "application/vnd.oci.image.manifest.v1+json")
	}
	f.Fuzz(func(t *testing.T, b []byte, ct string) {
		m, err := parseManifest(b, ct)
		if err != nil {
			return
		}
		_ = m.imageSize()
		_ = m.artifactType()
		if m.Subject != nil && m.Subject.Digest == "" {
			t.Fatal("accepted a subject without a digest")
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/manifests/v1", "/v2/a/blobs/uploads/x", "/v2/a/referrers/sha256:x", "/v2//manifests/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, ok := parseRoute(path)
		if !ok {
			return
		}
		if rt.kind != "base" && rt.kind != "catalog" && rt.repo == "" {
			t.Fatalf("route %+v for %q has no repository", rt, path)
		}
	})
}

// TestManifestBlobRefs: the fence records the manifest itself and every
// blob it names (config, layers, index children, subject); digests that
// do not parse are left out.
func TestManifestBlobRefs(t *testing.T) {
	self := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		file string
		body string
		want []string
	}{
		{file: "referrer.json", want: []string{self,
			"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
			"sha256:" + strings.Repeat("c", 64),
			"sha256:" + strings.Repeat("d", 64)}},
		{file: "index.json", want: []string{self, "sha256:" + strings.Repeat("e", 64)}},
		{body: `{"config":{"digest":"sha256:nothex"},"layers":[{"digest":""},{"digest":"sha256:` + strings.Repeat("a", 64) + `"}]}`,
			want: []string{self, "sha256:" + strings.Repeat("a", 64)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := []byte(tt.body)
			if tt.file != "" {
				var err error
				if b, err = os.ReadFile(filepath.Join("testdata", "manifests", tt.file)); err != nil {
					t.Fatal(err)
				}
			}
			m, err := parseManifest(b, "")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, m.blobRefs(self)); diff != "" {
				t.Errorf("blobRefs (-want +got):\n%s", diff)
			}
		})
	}
}
