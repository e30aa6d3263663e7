package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// feedServer serves a directory with ETag (size and mtime) and
// Last-Modified, answering conditional GETs with 304, and counts the
// answers by status.
type feedServer struct {
	dir string
	mu  sync.Mutex
	// overlay replaces files of dir (by URL path): an upstream change.
	overlay map[string]overlayFile
	// status counts answers by code; full lists the paths sent with a body.
	status map[int]int
	full   []string
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	p := path.Clean("/" + r.URL.Path)
	s.mu.Lock()
	o, over := s.overlay[p]
	s.mu.Unlock()
	if fi, err := os.Stat(s.dir + p); over {
		w.Header().Set("ETag", fmt.Sprintf(`"overlay-%x-%x"`, len(o.data), o.mod.UnixNano()))
		http.ServeContent(rec, r, p, o.mod, bytes.NewReader(o.data))
	} else if err == nil && !fi.IsDir() {
		w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano()))
		f, err := os.Open(s.dir + p)
		if err == nil {
			defer f.Close()
			http.ServeContent(rec, r, p, fi.ModTime(), f)
		} else {
			http.Error(rec, err.Error(), http.StatusInternalServerError)
		}
	} else {
		http.NotFound(rec, r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status[rec.code]++
	if rec.code == http.StatusOK {
		s.full = append(s.full, p)
	}
}

func (s *feedServer) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.full = map[int]int{}, nil
}

type overlayFile struct {
	data []byte
	mod  time.Time
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// TestDBUpdateHTTPMirrorIncremental serves ../shared/feeds over HTTP with
// validators: the first `db update --mirror URL` downloads and builds, the
// second one gets only 304s (no full body of an unchanged file) and copies
// every source forward. Its wall time goes to the log (bench/harness
// measures it; it is not asserted).
func TestDBUpdateHTTPMirrorIncremental(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the DB from the whole shared feeds (minutes of CPU); skipped with -short")
	}
	feeds := testutil.Shared(t, "feeds")
	fs := &feedServer{dir: feeds}
	fs.reset()
	srv := httptest.NewServer(fs)
	defer srv.Close()
	db := t.TempDir()

	start := time.Now()
	code, out, stderr := runCLI(t, "db", "update", "--mirror", srv.URL+"/", "--db", db, "--quiet")
	first := time.Since(start)
	// The shared feeds lack Oracle's: over HTTP that is a 404, and the
	// source is absent from this mirror, not an error.
	if code != ExitOK {
		t.Fatalf("first db update: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "oracle                 absent    not in the mirror") {
		t.Errorf("the first update does not report oracle absent from the mirror:\n%s", out)
	}
	t.Logf("first update over HTTP in %v: %v; %d full bodies\n%s", first.Round(time.Millisecond), fs.status, len(fs.full), out)
	if len(fs.full) == 0 {
		t.Fatalf("the first update downloaded nothing: %v\n%s\n%s", fs.status, out, stderr)
	}
	updated := strings.Count(out, " updated ")
	if updated == 0 {
		t.Fatalf("no source was updated by the first run:\n%s", out)
	}

	fs.reset()
	start = time.Now()
	code, out2, stderr2 := runCLI(t, "db", "update", "--mirror", srv.URL+"/", "--db", db, "--quiet")
	second := time.Since(start)
	t.Logf("no-change update over HTTP in %v: %v\n%s", second.Round(time.Millisecond), fs.status, out2)
	if code != ExitOK {
		t.Fatalf("second db update: exit %d\n%s\n%s", code, out2, stderr2)
	}
	if len(fs.full) != 0 {
		t.Errorf("the no-change update downloaded %d unchanged files in full: %v", len(fs.full), fs.full)
	}
	if fs.status[http.StatusNotModified] == 0 {
		t.Errorf("the no-change update made no conditional request: %v", fs.status)
	}
	if got := strings.Count(out2, " unchanged "); got != updated {
		t.Errorf("%d sources unchanged on the second run, want the %d the first run updated:\n%s", got, updated, out2)
	}
	if stderr2 != "" {
		t.Errorf("--quiet printed on stderr: %q", stderr2)
	}

	// Red Hat revises one VEX document: it lists it in changes.csv. The
	// third update downloads that document and changes.csv, nothing else,
	// and only redhat-vex is parsed again.
	const vexDir = "/redhat/csaf/v2/vex/"
	doc, err := os.ReadFile(feeds + vexDir + "2023/cve-2023-0049.json")
	if err != nil {
		t.Fatal(err)
	}
	changes, err := os.ReadFile(feeds + vexDir + "changes.csv")
	if err != nil {
		t.Fatal(err)
	}
	revised := strings.Replace(string(doc), `"current_release_date": "2023-07-08T04:16:56+00:00"`, `"current_release_date": "2026-12-03T08:00:00+00:00"`, 1)
	if revised == string(doc) {
		t.Fatal("the sample's current_release_date is not where the test expects it")
	}
	now := time.Now()
	fs.mu.Lock()
	fs.overlay = map[string]overlayFile{
		vexDir + "2023/cve-2023-0049.json": {[]byte(revised), now},
		vexDir + "changes.csv":             {append([]byte(`"2023/cve-2023-0049.json","2026-12-03T08:00:00+00:00"`+"\n"), changes...), now},
	}
	fs.mu.Unlock()
	fs.reset()
	code, out3, stderr3 := runCLI(t, "db", "update", "--mirror", srv.URL+"/", "--db", db, "--quiet")
	if code != ExitOK {
		t.Fatalf("third db update: exit %d\n%s\n%s", code, out3, stderr3)
	}
	t.Logf("update after one VEX change: %v, full bodies %v\n%s", fs.status, fs.full, out3)
	if diff := cmp.Diff([]string{vexDir + "2023/cve-2023-0049.json", vexDir + "changes.csv"}, sorted(fs.full)); diff != "" {
		t.Errorf("downloads after one VEX change (-want +got):\n%s", diff)
	}
	for _, line := range strings.Split(out3, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || (f[1] != "updated" && f[1] != "unchanged") {
			continue
		}
		if want := map[bool]string{true: "updated", false: "unchanged"}[f[0] == "redhat-vex"]; f[1] != want {
			t.Errorf("after one VEX change: %s", line)
		}
	}
}
