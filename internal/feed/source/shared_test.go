package source

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// TestSharedMirror reads the shared feed snapshot as a mirror, both as a
// directory and over HTTP, and checks what FetchFiles stores against the
// snapshot's SHA256SUMS.
func TestSharedMirror(t *testing.T) {
	feeds := testutil.Shared(t, "feeds")
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(feeds, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, p, ok := strings.Cut(sc.Text(), "  ")
		if ok {
			sums[strings.TrimPrefix(p, "./")] = sum
		}
	}
	f.Close()
	paths := []string{"al2023/core/updateinfo.xml.gz", "al2/core/updateinfo.xml.gz"}
	srv := httptest.NewServer(http.FileServer(http.Dir(feeds)))
	defer srv.Close()
	pick := func(mirror string) feed.Source {
		get, err := New(mirror, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return get(fakeUpdater{mirror: "amazon"})
	}
	for _, mirror := range []string{feeds, srv.URL} {
		src := pick(mirror)
		snap, err := feed.FetchFiles(context.Background(), src, paths, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", mirror, err)
		}
		for _, p := range paths {
			if got, want := snap.State[p].SHA256, sums["amazon/"+p]; got != want || want == "" {
				t.Errorf("%s: %s sha256 = %s, SHA256SUMS says %s", mirror, p, got, want)
			}
		}
		snap.Close()
		again, err := feed.FetchFiles(context.Background(), src, paths, snap.State, nil)
		if err != nil || !again.Unchanged {
			t.Errorf("%s: refetch: unchanged=%v err=%v", mirror, again.Unchanged, err)
		}
	}
	// The directory mirror lists the Alpine branches' files.
	list, err := NewDir(filepath.Join(feeds, "alpine", "secdb"), Options{}).List(context.Background(), "v3.19")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(list, " ") != "v3.19/community.json v3.19/main.json" {
		t.Errorf("List(v3.19) = %v", list)
	}
}
