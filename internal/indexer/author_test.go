package indexer

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/stowaway-scanner/stowaway/internal/source"
)

// TestSourceAuthor: the image config's author is the inventory's, cleaned
// of bytes that are not text.
func TestSourceAuthor(t *testing.T) {
	for _, tc := range []struct{ author, want string }{
		{"Team App <app@example.com>", "Team App <app@example.com>"},
		{"bad\x00byte", "bad\uFFFDbyte"},
		{"", ""},
	} {
		base, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := base.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Author, cf.OS, cf.Architecture = tc.author, "linux", "arm64"
		img, err := mutate.ConfigFile(base, cf)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Index(context.Background(), &source.Source{Kind: source.KindRegistry, Ref: "registry:x", Image: img}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if inv.Source.Author != tc.want || inv.Source.Architecture != "arm64" {
			t.Errorf("author %q: inventory source %+v, want author %q", tc.author, inv.Source, tc.want)
		}
	}
}
