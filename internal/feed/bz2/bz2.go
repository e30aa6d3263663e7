// Package bz2 is the one home of bzip2 decompression for the feed updaters
// (Ubuntu's CVE tracker bundle and OVAL files, Debian's OSV bundles,
// Oracle's OVAL file).
//
// A Decompressor is either Go's compress/bzip2 (the zero value) or an
// external program run as "PROGRAM -dc", fed the compressed stream on its
// stdin and read on its stdout. `db update` uses an external one when it
// finds one (Auto: lbzip2, then pbzip2, then bzip2 on $PATH) and Go's
// otherwise; the choice is a value passed down to the updaters through
// their options (internal/feed/all), never a global: a parser given the
// zero value decompresses in Go. Measured on the 2-core development
// machine (BenchmarkShared), the external programs cost about the CPU Go's
// decoder costs (Ubuntu's tracker bundle: 27.7 s Go, 27.8 s bzip2, 30.2 s
// lbzip2); what they change is where the work runs (lbzip2 on several
// cores), not how much of it there is.
//
// Both paths decompress concurrently with the caller's reading (a goroutine
// for Go, the child process otherwise), accept concatenated streams as
// bzip2 does, and fail on a truncated or corrupt stream with an error that
// names the file. The external path is strict where C bzip2 is lenient: a
// child that exits 0 but writes to stderr (bzip2's "trailing garbage after
// EOF ignored") fails as Go's decoder does on such input; lbzip2 ignores
// such bytes silently, so it alone accepts them (they follow a complete,
// CRC-checked stream, and the tar readers stop before them). Both decoders
// check a block's CRC at the block's end, so a corrupt block's bytes may
// reach the caller before the error: a parser can fail on them first (its
// error names the file too), and one that stops reading before the end (a
// tar reader at the end-of-archive marker) does not see a bad stream CRC.
// Output size limits stay with the callers.
//
// The child is untrusted plumbing over hostile bytes: it gets a minimal
// environment (LC_ALL=C, and PWD=/ for its working directory, so $BZIP2,
// $BZIP and $LBZIP2 cannot add options), and its stderr is kept to the
// first MaxStderr bytes. It is killed and reaped when the reader is closed
// (also when the caller stops reading early) and when ctx is cancelled; the
// reader must be closed. The program is expected to be a
// single process (the bzip2 family is): a wrapper script that forks would
// leave its own children to exit on the broken pipe.
package bz2

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
)

// MaxStderr is how much of an external decompressor's stderr is kept for
// the error message.
const MaxStderr = 1024

// readBuf is the buffer between the decompressor and the caller: the
// parsers read in small pieces (tar headers, JSON records), which would
// otherwise each be a read(2) of the child's pipe.
const readBuf = 256 << 10

// waitDelay bounds how long Close waits for the stdin copy once the child
// is gone (a Read of the source that never returns is not waited for).
const waitDelay = 5 * time.Second

// Decompressor decompresses bzip2 streams. The zero value uses Go's
// compress/bzip2; External and Auto return one that runs a program.
type Decompressor struct {
	path string // "" for compress/bzip2
}

// Go returns the compress/bzip2 decompressor (the zero value).
func Go() Decompressor { return Decompressor{} }

// External returns the decompressor that runs path -dc. path is taken as
// given; Parse checks it.
func External(path string) Decompressor { return Decompressor{path: path} }

// Programs are the external decompressors Auto looks for, best first:
// lbzip2 and pbzip2 decompress in parallel, bzip2 is everywhere.
func Programs() []string { return []string{"lbzip2", "pbzip2", "bzip2"} }

// Auto returns the first of Programs that lookPath finds (exec.LookPath
// when nil), else Go's decompressor.
func Auto(lookPath func(string) (string, error)) Decompressor {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	for _, p := range Programs() {
		if full, err := lookPath(p); err == nil {
			return External(full)
		}
	}
	return Go()
}

// Parse reads a --bzip2 flag value: "auto" (Auto), "go" (compress/bzip2),
// or a program, by path or by a name looked up on $PATH, that must exist
// and be executable.
func Parse(s string) (Decompressor, error) {
	switch s {
	case "", "auto":
		return Auto(nil), nil
	case "go":
		return Go(), nil
	}
	full, err := exec.LookPath(s)
	if err != nil {
		return Decompressor{}, fmt.Errorf("bzip2 decompressor %q: want auto, go or an executable program: %w", s, err)
	}
	// The child runs in /: a relative path would be taken from there.
	if full, err = filepath.Abs(full); err != nil {
		return Decompressor{}, fmt.Errorf("bzip2 decompressor %q: %w", s, err)
	}
	return External(full), nil
}

// IsGo says whether d is Go's compress/bzip2.
func (d Decompressor) IsGo() bool { return d.path == "" }

// String names the decompressor: "go (compress/bzip2)" or "PATH -dc".
func (d Decompressor) String() string {
	if d.IsGo() {
		return "go (compress/bzip2)"
	}
	return d.path + " -dc"
}

// NewReader returns the decompressed stream of r. name (the file's path)
// is named in its errors. The caller must Close it, and not call Read and
// Close concurrently; Close stops the decompression and does not close r,
// which must stay readable until then.
func (d Decompressor) NewReader(ctx context.Context, r io.Reader, name string) (io.ReadCloser, error) {
	if d.IsGo() {
		return newGoReader(ctx, r, name), nil
	}
	return d.newExtReader(ctx, r, name)
}

// errClosed is the error of a Read after Close.
var errClosed = errors.New("bzip2: read after close")

// goReader runs compress/bzip2 on a goroutine ahead of the reader.
type goReader struct {
	pr     *io.PipeReader
	br     *bufio.Reader // over pr
	done   chan struct{}
	closed bool
}

func newGoReader(ctx context.Context, r io.Reader, name string) *goReader {
	pr, pw := io.Pipe()
	g := &goReader{pr: pr, br: bufio.NewReaderSize(pr, readBuf), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		br := bzip2.NewReader(bufio.NewReaderSize(r, 64<<10))
		buf := make([]byte, 1<<20)
		for {
			if err := ctx.Err(); err != nil {
				pw.CloseWithError(fmt.Errorf("bzip2 %s: %w", name, err))
				return
			}
			n, err := br.Read(buf)
			if n > 0 {
				if _, werr := pw.Write(buf[:n]); werr != nil {
					return // the reader closed
				}
			}
			if err == io.EOF {
				pw.Close()
				return
			}
			if err != nil {
				pw.CloseWithError(fmt.Errorf("bzip2 %s: %w", name, goErr(err)))
				return
			}
		}
	}()
	return g
}

// goErr names compress/bzip2's bare io.ErrUnexpectedEOF.
func goErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("compressed stream truncated: %w", err)
	}
	return err
}

func (g *goReader) Read(p []byte) (int, error) {
	if g.closed {
		return 0, errClosed
	}
	return g.br.Read(p)
}

// Close stops the decoding goroutine and waits for it.
func (g *goReader) Close() error {
	if !g.closed {
		g.closed = true
		g.pr.CloseWithError(errClosed)
		<-g.done
	}
	return nil
}

// extReader reads the stdout of an external decompressor.
type extReader struct {
	ctx    context.Context
	name   string
	desc   string
	cmd    *exec.Cmd
	out    *bufio.Reader // the child's stdout
	stderr *capBuffer
	err    error // sticky: the stream's end or failure
	waited bool
}

func (d Decompressor) newExtReader(ctx context.Context, r io.Reader, name string) (*extReader, error) {
	cmd := exec.CommandContext(ctx, d.path, "-dc")
	cmd.Env = []string{"LC_ALL=C"}
	cmd.Dir = "/"
	// An *os.File would be handed to the child as is; any other reader (a
	// byte-counting wrapper) is copied into a pipe by os/exec.
	cmd.Stdin = r
	stderr := &capBuffer{max: MaxStderr}
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bzip2 %s: %s: %w", name, d, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bzip2 %s: start %s: %w", name, d, err)
	}
	return &extReader{ctx: ctx, name: name, desc: d.String(), cmd: cmd, out: bufio.NewReaderSize(out, readBuf), stderr: stderr}, nil
}

func (e *extReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.out.Read(p)
	switch {
	case err == io.EOF:
		// The child closed its stdout: it ended, or was killed.
		e.err = e.wait()
	case err != nil:
		e.err = fmt.Errorf("bzip2 %s: %s: read: %w", e.name, e.desc, err)
	}
	return n, e.err
}

// wait reaps the child and turns its outcome into io.EOF or an error.
func (e *extReader) wait() error {
	werr := e.cmd.Wait()
	e.waited = true
	if err := e.ctx.Err(); err != nil {
		return fmt.Errorf("bzip2 %s: %w", e.name, err)
	}
	msg := e.stderr.text()
	switch {
	case werr != nil && msg != "":
		return fmt.Errorf("bzip2 %s: %s: %w: %s", e.name, e.desc, werr, msg)
	case werr != nil:
		return fmt.Errorf("bzip2 %s: %s: %w", e.name, e.desc, werr)
	case msg != "":
		return fmt.Errorf("bzip2 %s: %s exited 0 but reported: %s", e.name, e.desc, msg)
	}
	return io.EOF
}

// Close kills the child unless it has ended, and reaps it.
func (e *extReader) Close() error {
	if !e.waited {
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
		e.waited = true
	}
	if e.err == nil {
		e.err = errClosed
	}
	return nil
}

// capBuffer keeps the first max bytes written to it and drops the rest.
type capBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int
	more bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room < len(p) {
		c.more = true
		c.buf.Write(p[:max(room, 0)])
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

// text is the kept stderr on one line: whitespace runs collapsed, other
// control and invalid bytes shown as '?'.
func (c *capBuffer) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	clean := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case r == unicode.ReplacementChar || !unicode.IsPrint(r):
			return '?'
		}
		return r
	}, strings.ToValidUTF8(c.buf.String(), "\uFFFD"))
	s := strings.Join(strings.Fields(clean), " ")
	if c.more && s != "" {
		s += " …"
	}
	return s
}
