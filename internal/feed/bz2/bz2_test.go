package bz2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/testutil"
)

// The fixtures in testdata were made with bzip2 1.0.8:
//
//	hello.bz2             printf 'hello, bzip2\n' | bzip2 -9
//	multiblock.bz2        lines(40000) | bzip2 -1 (five 100k blocks)
//	concat.bz2            hello.bz2 then multiblock.bz2 (two streams)
//	truncated.bz2         the first half of multiblock.bz2
//	corrupt.bz2           multiblock.bz2 with byte 3000 set to 0x55
//	empty.bz2             no bytes at all
//	empty-stream.bz2      printf ” | bzip2 (a stream of no block)
//	trailing-garbage.bz2  hello.bz2 then "garbage\n"
//	not-bzip2.bz2         plain text
//	zeros-100m.bz2        100 MiB of zeros | bzip2 -9 (113 bytes)

// lines is multiblock.bz2's content: "line 0\n" ... "line N-1\n".
func lines(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.Bytes()
}

// systemBzip2 is bzip2 on $PATH; the test skips without it.
func systemBzip2(t testing.TB) Decompressor {
	t.Helper()
	p, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skipf("no bzip2 on $PATH (%v): the external decompressor is not tested", err)
	}
	return External(p)
}

// decompressors are the paths under test: Go's and every external program
// found on $PATH.
func decompressors(t testing.TB) map[string]Decompressor {
	t.Helper()
	ds := map[string]Decompressor{"go": Go()}
	for _, p := range Programs() {
		if full, err := exec.LookPath(p); err == nil {
			ds[p] = External(full)
		}
	}
	if len(ds) == 1 {
		t.Logf("none of %v on $PATH: only Go's decompressor is tested", Programs())
	}
	return ds
}

func readAll(t testing.TB, d Decompressor, data []byte, name string) ([]byte, error) {
	t.Helper()
	rc, err := d.NewReader(context.Background(), bytes.NewReader(data), name)
	if err != nil {
		t.Fatalf("%s: NewReader: %v", d, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestDecompress(t *testing.T) {
	hello := []byte("hello, bzip2\n")
	multi := lines(40000)
	tests := []struct {
		file    string
		want    []byte // nil with wantErr
		wantErr string // in the error of every decompressor
		// lbzip2 is lbzip2's output where it succeeds and the others fail:
		// it ignores bytes after a complete stream, silently.
		lbzip2 []byte
	}{
		{file: "hello.bz2", want: hello},
		{file: "multiblock.bz2", want: multi},
		{file: "concat.bz2", want: append(append([]byte{}, hello...), multi...)},
		{file: "empty-stream.bz2", want: []byte{}},
		{file: "zeros-100m.bz2", want: make([]byte, 100<<20)},
		{file: "truncated.bz2", wantErr: "truncated.bz2"},
		{file: "corrupt.bz2", wantErr: "corrupt.bz2"},
		{file: "empty.bz2", wantErr: "empty.bz2"},
		{file: "trailing-garbage.bz2", wantErr: "trailing-garbage.bz2", lbzip2: hello},
		{file: "not-bzip2.bz2", wantErr: "not-bzip2.bz2"},
	}
	for name, d := range decompressors(t) {
		for _, tc := range tests {
			t.Run(name+"/"+tc.file, func(t *testing.T) {
				data, err := os.ReadFile(filepath.Join("testdata", tc.file))
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, d, data, "testdata/"+tc.file)
				if name == "lbzip2" && tc.lbzip2 != nil {
					tc.want, tc.wantErr = tc.lbzip2, ""
				}
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
					}
					t.Logf("%v", err)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tc.want) {
					t.Errorf("%d bytes (sha256 %s), want %d (sha256 %s)", len(got), sum(got), len(tc.want), sum(tc.want))
				}
			})
		}
	}
}

// TestExternalErrorNamesStderr: a corrupt stream's error carries what the
// child said, on one line and bounded.
func TestExternalErrorNamesStderr(t *testing.T) {
	d := systemBzip2(t)
	data, err := os.ReadFile(filepath.Join("testdata", "corrupt.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(t, d, data, "feeds/x.tar.bz2")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"feeds/x.tar.bz2", d.String(), "exit status 2", "bzip2: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.ContainsAny(msg, "\n\t") || len(msg) > MaxStderr+200 {
		t.Errorf("error of %d bytes, not one bounded line: %q", len(msg), msg)
	}
}

func TestCapBuffer(t *testing.T) {
	tests := []struct {
		writes []string
		max    int
		want   string
	}{
		{writes: []string{"bzip2: bad\n\tmore  "}, max: 100, want: "bzip2: bad more"},
		{writes: []string{"abc", "def", "ghi"}, max: 5, want: "abcde …"},
		{writes: []string{"a\x00b\x1b[31m\xffc"}, max: 100, want: "a?b?[31m?c"},
		{writes: []string{"\n \n"}, max: 100, want: ""},
	}
	for _, tc := range tests {
		c := &capBuffer{max: tc.max}
		for _, w := range tc.writes {
			if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		if d := cmp.Diff(tc.want, c.text()); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.writes, d)
		}
	}
}

func TestAuto(t *testing.T) {
	tests := []struct {
		name  string
		found []string
		want  Decompressor
	}{
		{name: "none", want: Go()},
		{name: "bzip2 only", found: []string{"bzip2"}, want: External("/x/bzip2")},
		{name: "lbzip2 first", found: []string{"bzip2", "pbzip2", "lbzip2"}, want: External("/x/lbzip2")},
		{name: "pbzip2 before bzip2", found: []string{"bzip2", "pbzip2"}, want: External("/x/pbzip2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Auto(func(p string) (string, error) {
				for _, f := range tc.found {
					if f == p {
						return "/x/" + p, nil
					}
				}
				return "", exec.ErrNotFound
			})
			if got != tc.want {
				t.Errorf("Auto = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	notExec := filepath.Join(t.TempDir(), "bzip2")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A relative path is made absolute: the child runs in /.
	dir := t.TempDir()
	relExec := filepath.Join(dir, "mybzip2")
	if err := os.WriteFile(relExec, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tests := []struct {
		in      string
		want    Decompressor
		wantErr bool
	}{
		{in: "go", want: Go()},
		{in: "auto", want: Auto(nil)},
		{in: "", want: Auto(nil)},
		{in: sh, want: External(sh)},
		{in: "sh", want: External(sh)},
		{in: "/no/such/bzip2", wantErr: true},
		{in: "no-such-decompressor-here", wantErr: true},
		{in: notExec, wantErr: true},
		{in: "./" + filepath.Base(relExec), want: External(relExec)},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("Parse(%q): error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// script writes an executable shell script and returns its decompressor.
func script(t *testing.T, body string) Decompressor {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-bzip2")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return External(p)
}

// TestExternalScripts covers outcomes the bzip2 family does not produce on
// demand: exit 0 with stderr, a huge stderr, and the environment.
func TestExternalScripts(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	tests := []struct {
		name    string
		body    string
		want    string
		wantErr []string
	}{
		{name: "ok", body: `/bin/cat`, want: "input"},
		{name: "args", body: `echo "$@"`, want: "-dc\n"},
		{name: "minimal env", body: `/usr/bin/env`, want: "LC_ALL=C\nPWD=/\n"}, // os/exec adds PWD for Dir
		{name: "exit 0 with stderr", body: `echo warn >&2`, wantErr: []string{"exited 0 but reported: warn", "f.bz2"}},
		{name: "exit 2", body: `echo bad >&2; exit 2`, wantErr: []string{"exit status 2: bad"}},
		{name: "killed", body: `kill -9 $$`, wantErr: []string{"signal: killed"}},
		{name: "huge stderr", body: `/bin/cat /dev/zero | /usr/bin/head -c 10000000 | /usr/bin/tr '\0' x >&2; exit 1`, wantErr: []string{"exit status 1: xxx", "x …"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := script(t, tc.body)
			rc, err := d.NewReader(context.Background(), strings.NewReader("input"), "f.bz2")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tc.want, string(got)); d != "" {
					t.Errorf("output (-want +got):\n%s", d)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; output %q", got)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(err.Error()) > MaxStderr+300 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}
}

// reaped fails unless the child of rc has been waited for and its pid is
// gone from /proc (no zombie).
func reaped(t *testing.T, rc io.ReadCloser) {
	t.Helper()
	e, ok := rc.(*extReader)
	if !ok {
		t.Fatalf("%T, want *extReader", rc)
	}
	if e.cmd.ProcessState == nil {
		t.Fatal("child not waited for")
	}
	if runtime.GOOS == "linux" {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", e.cmd.Process.Pid)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("/proc/%d still there (%v)", e.cmd.Process.Pid, err)
		}
	}
}

// noLeak runs f and fails when goroutines are left behind.
func noLeak(t *testing.T, f func()) {
	t.Helper()
	before := runtime.NumGoroutine()
	f()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestEarlyClose: a caller that stops reading (a size limit hit) and closes
// leaves no process and no goroutine, on a 100 MiB bomb.
func TestEarlyClose(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "zeros-100m.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range decompressors(t) {
		t.Run(name, func(t *testing.T) {
			noLeak(t, func() {
				for range 5 {
					rc, err := d.NewReader(context.Background(), bytes.NewReader(data), "zeros")
					if err != nil {
						t.Fatal(err)
					}
					// Not a multiple of the buffer: some is left unread.
					if _, err := io.CopyN(io.Discard, rc, 1<<20+1); err != nil {
						t.Fatal(err)
					}
					if err := rc.Close(); err != nil {
						t.Fatal(err)
					}
					if _, err := rc.Read(make([]byte, 1)); err == nil {
						t.Error("Read after Close succeeded")
					}
					if !d.IsGo() {
						reaped(t, rc)
					}
				}
			})
		})
	}
}

// TestCloseUnread: Close before any Read, including on a child that never
// reads its input, and twice.
func TestCloseUnread(t *testing.T) {
	if _, err := os.Stat("/bin/sleep"); err != nil {
		t.Skipf("no /bin/sleep: %v", err)
	}
	ds := decompressors(t)
	ds["sleeper"] = script(t, "exec /bin/sleep 600")
	for name, d := range ds {
		t.Run(name, func(t *testing.T) {
			noLeak(t, func() {
				rc, err := d.NewReader(context.Background(), strings.NewReader("x"), "f")
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				rc.Close()
				rc.Close()
				if el := time.Since(start); el > 3*time.Second {
					t.Errorf("Close took %v", el)
				}
				if !d.IsGo() {
					reaped(t, rc)
				}
			})
		})
	}
}

// TestCancel: cancelling ctx stops a read in progress (a child that hangs
// without output too) with ctx's error; Close then reaps.
func TestCancel(t *testing.T) {
	if _, err := os.Stat("/bin/sleep"); err != nil {
		t.Skipf("no /bin/sleep: %v", err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "zeros-100m.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	ds := decompressors(t)
	ds["sleeper"] = script(t, "exec /bin/sleep 600")
	for name, d := range ds {
		t.Run(name, func(t *testing.T) {
			noLeak(t, func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				rc, err := d.NewReader(ctx, bytes.NewReader(data), "zeros")
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				if name == "sleeper" {
					time.AfterFunc(100*time.Millisecond, cancel)
				} else {
					// The reader stops reading mid-stream, then cancels.
					if _, err := io.CopyN(io.Discard, rc, 1<<20); err != nil {
						t.Fatal(err)
					}
					cancel()
				}
				start := time.Now()
				_, err = io.Copy(io.Discard, rc)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
				if el := time.Since(start); el > 5*time.Second {
					t.Errorf("the read ended %v after the cancel", el)
				}
				rc.Close()
				if !d.IsGo() {
					reaped(t, rc)
				}
			})
		})
	}
}

// slowReader hands out its data a byte at a time, as a slow fs.File might.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 1)]) }

// TestNonFileInput: a reader that is not an *os.File is copied to the
// child's stdin (the updaters hand a byte-counting wrapper).
func TestNonFileInput(t *testing.T) {
	d := systemBzip2(t)
	data, err := os.ReadFile(filepath.Join("testdata", "concat.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []io.Reader{slowReader{bytes.NewReader(data)}, io.MultiReader(bytes.NewReader(data[:10]), bytes.NewReader(data[10:]))} {
		rc, err := d.NewReader(context.Background(), r, "concat")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := append([]byte("hello, bzip2\n"), lines(40000)...); !bytes.Equal(got, want) {
			t.Errorf("%d bytes, want %d", len(got), len(want))
		}
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestSharedFeedsParity: for every .bz2 under ../shared/feeds, Go's and each
// external decompressor's outputs have the same SHA-256. The two bundles
// over 4 MB (Ubuntu's UCT, Debian-all: about a minute and a half of CPU for
// three decompressors) only with STOWAWAY_REALDATA_FULL=1.
func TestSharedFeedsParity(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the shared feeds take CPU to decompress several times")
	}
	full := os.Getenv("STOWAWAY_REALDATA_FULL") != ""
	feeds := testutil.Shared(t, "feeds")
	ds := decompressors(t)
	if len(ds) == 1 {
		t.Skipf("none of %v on $PATH: no external decompressor to compare with Go's", Programs())
	}
	var files []string
	err := filepath.WalkDir(feeds, func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() && strings.HasSuffix(p, ".bz2") {
			if fi, ierr := de.Info(); ierr == nil && (full || fi.Size() < 4<<20) {
				files = append(files, p)
			} else if ierr == nil {
				t.Logf("%s: %d bytes, only with STOWAWAY_REALDATA_FULL=1", p, fi.Size())
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no .bz2 file under %s", feeds)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(feeds, f)
		t.Run(rel, func(t *testing.T) {
			sums := map[string]string{}
			for name, d := range ds {
				fh, err := os.Open(f)
				if err != nil {
					t.Fatal(err)
				}
				rc, err := d.NewReader(context.Background(), fh, rel)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				n, err := io.Copy(h, rc)
				rc.Close()
				fh.Close()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				sums[name] = fmt.Sprintf("%x (%d bytes)", h.Sum(nil), n)
			}
			for name, s := range sums {
				if s != sums["go"] {
					t.Errorf("%s: %s, go: %s", name, s, sums["go"])
				}
			}
			t.Logf("%s", sums["go"])
		})
	}
}

// FuzzParity: Go's and bzip2's decompressors agree on every input: both
// fail, or both succeed with the same output (the first 4 MiB of it).
func FuzzParity(f *testing.F) {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		// The small fixtures only: under -fuzz's coverage instrumentation
		// the 40 KiB ones (and the bomb) take seconds per input in Go.
		if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".bz2") && fi.Size() < 4096 {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	ext := systemBzip2(f)
	const limit = 4 << 20
	run := func(t *testing.T, d Decompressor, data []byte) (string, error) {
		rc, err := d.NewReader(context.Background(), bytes.NewReader(data), "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		h := sha256.New()
		n, err := io.Copy(h, io.LimitReader(rc, limit))
		return fmt.Sprintf("%x (%d bytes)", h.Sum(nil), n), err
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gs, gerr := run(t, Go(), data)
		es, eerr := run(t, ext, data)
		if (gerr == nil) != (eerr == nil) {
			t.Fatalf("go: %s, %v\n%s: %s, %v", gs, gerr, ext, es, eerr)
		}
		if gerr == nil && gs != es {
			t.Fatalf("go: %s\n%s: %s", gs, ext, es)
		}
	})
}
