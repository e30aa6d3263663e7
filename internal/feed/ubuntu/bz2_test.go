package ubuntu

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2/bz2test"
)

// TestBzip2Decompressors: the tracker bundle and the OVAL files parse to
// the same records through Go's and every external decompressor on $PATH,
// and no child process is left behind.
func TestBzip2Decompressors(t *testing.T) {
	uctFS := os.DirFS(filepath.Join("testdata", "uct"))
	ovalFS := os.DirFS(filepath.Join("testdata", "oval-bz2"))
	got := map[string][2]result{}
	for name, d := range bz2test.Decompressors(t) {
		uct, err := parseAll(t, NewUCTWithOptions(UCTOptions{Bzip2: d}), uctFS)
		if err != nil {
			t.Fatalf("%s: uct: %v", name, err)
		}
		oval, err := parseAll(t, NewOVALWithOptions(OVALOptions{Bzip2: d}), ovalFS)
		if err != nil {
			t.Fatalf("%s: oval: %v", name, err)
		}
		if uct.Stats.Records == 0 || oval.Stats.Records == 0 {
			t.Fatalf("%s: %d uct and %d oval records, want some", name, uct.Stats.Records, oval.Stats.Records)
		}
		got[name] = [2]result{uct, oval}
	}
	for name, r := range got {
		if d := cmp.Diff(got["go"], r); d != "" {
			t.Errorf("%s vs go (-go +%s):\n%s", name, name, d)
		}
	}
	bz2test.NoChildren(t)
}

// TestBzip2Errors: a corrupt or truncated .bz2 fails the parse naming the
// file, whatever decompresses it; a size cap hit stops the decompressor
// (no child process is left).
func TestBzip2Errors(t *testing.T) {
	uct, err := os.ReadFile(filepath.Join("testdata", "uct", UCTBundle))
	if err != nil {
		t.Fatal(err)
	}
	const ovalName = "com.ubuntu.focal.cve.oval.xml.bz2"
	oval, err := os.ReadFile(filepath.Join("testdata", "oval-bz2", ovalName))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(b []byte) []byte {
		c := bytes.Clone(b)
		c[len(c)/2] ^= 0xff
		return c
	}
	tests := []struct {
		name   string
		newUp  func(bz2.Decompressor) feed.Updater
		fsys   fstest.MapFS
		want   string
		wantIs error
	}{
		{"uct corrupt", func(d bz2.Decompressor) feed.Updater { return NewUCTWithOptions(UCTOptions{Bzip2: d}) },
			fstest.MapFS{UCTBundle: {Data: corrupt(uct)}}, UCTBundle, nil},
		{"uct truncated", func(d bz2.Decompressor) feed.Updater { return NewUCTWithOptions(UCTOptions{Bzip2: d}) },
			fstest.MapFS{UCTBundle: {Data: uct[:len(uct)/2]}}, UCTBundle, nil},
		{"uct over MaxBundleSize", func(d bz2.Decompressor) feed.Updater {
			return NewUCTWithOptions(UCTOptions{Bzip2: d, MaxBundleSize: 1000})
		}, fstest.MapFS{UCTBundle: {Data: uct}}, UCTBundle, errTooLarge},
		{"oval corrupt", func(d bz2.Decompressor) feed.Updater { return NewOVALWithOptions(OVALOptions{Bzip2: d}) },
			fstest.MapFS{ovalName: {Data: corrupt(oval)}}, ovalName, nil},
		{"oval over MaxFileSize", func(d bz2.Decompressor) feed.Updater {
			return NewOVALWithOptions(OVALOptions{Bzip2: d, MaxFileSize: 1000})
		}, fstest.MapFS{ovalName: {Data: oval}}, ovalName, errTooLarge},
	}
	for name, d := range bz2test.Decompressors(t) {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				_, err := parseAll(t, tc.newUp(d), tc.fsys)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want one naming %s", err, tc.want)
				}
				if testing.Verbose() {
					t.Log(err)
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("error %v, want %v", err, tc.wantIs)
				}
				bz2test.NoChildren(t)
			})
		}
	}
}
