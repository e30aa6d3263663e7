package source

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed"
)

// FuzzDirGet: no path, however odd, reads a file outside the mirror root.
func FuzzDirGet(f *testing.F) {
	seeds, err := os.Open("testdata/paths/seeds.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(seeds)
	for sc.Scan() {
		f.Add(sc.Text())
	}
	seeds.Close()
	f.Fuzz(func(t *testing.T, p string) {
		base := t.TempDir()
		root := filepath.Join(base, "mirror")
		if err := os.MkdirAll(filepath.Join(root, "a"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, "secret"), []byte("SECRET"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "a", "ok"), []byte("ok"), 0o644); err != nil {
			t.Fatal(err)
		}
		rc, _, err := NewDir(root, Options{}).Get(context.Background(), p, feed.Validator{})
		if err != nil {
			return
		}
		defer rc.Close()
		b := make([]byte, 16)
		n, _ := rc.Read(b)
		if string(b[:n]) == "SECRET" {
			t.Fatalf("path %q escaped the mirror", p)
		}
		if _, err := NewDir(root, Options{}).List(context.Background(), p); err != nil {
			return
		}
	})
}
