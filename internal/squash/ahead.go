package squash

import (
	"io"
	"sync"
	"sync/atomic"
)

// ahead decompresses a layer on its own goroutine, a few chunks ahead of the
// reader, so that on a machine with two cores the decompression (the floor
// of a scan) overlaps hashing, tar parsing and cataloging instead of adding
// to them. At most chunks×chunkSize bytes are decompressed ahead of what the
// limits have seen: a bomb is stopped by the reader as before, and stop ends
// the goroutine.
type ahead struct {
	filled chan chunk
	free   chan []byte
	done   chan struct{}
	wg     sync.WaitGroup
	cur    []byte // unread part of buf
	buf    []byte
	err    error
	once   sync.Once
}

type chunk struct {
	b   []byte
	err error
}

const (
	aheadChunks    = 4
	aheadChunkSize = 256 << 10
)

func newAhead(r io.Reader) *ahead {
	a := &ahead{filled: make(chan chunk, aheadChunks), free: make(chan []byte, aheadChunks), done: make(chan struct{})}
	for i := 0; i < aheadChunks; i++ {
		a.free <- make([]byte, aheadChunkSize)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			var buf []byte
			select {
			case buf = <-a.free:
			case <-a.done:
				return
			}
			n, err := fill(r, buf)
			select {
			case a.filled <- chunk{buf[:n], err}:
			case <-a.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return a
}

// fill reads until buf is full or r fails; the error is r's own (io.EOF
// stays io.EOF, a truncated stream's io.ErrUnexpectedEOF stays that).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (a *ahead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		if a.err != nil {
			return 0, a.err
		}
		c := <-a.filled
		a.cur, a.buf, a.err = c.b, c.b, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// stop ends the goroutine: first unblock closes the source under it (a
// read from a stalled network body returns), then stop waits, so that the
// decompressor is never closed while the goroutine uses it.
func (a *ahead) stop(unblock func()) {
	a.once.Do(func() {
		close(a.done)
		unblock()
		a.wg.Wait()
	})
}

// wait is stop for a stream read to its end: the goroutine has returned or
// is about to, and afterwards nothing else touches the blob reader.
func (a *ahead) wait() { a.wg.Wait() }

// atomicError holds the first error of the reader under a layer, set by the
// decompressing goroutine and read by the walker.
type atomicError struct{ p atomic.Pointer[error] }

func (e *atomicError) set(err error) { e.p.CompareAndSwap(nil, &err) }
func (e *atomicError) get() error {
	if p := e.p.Load(); p != nil {
		return *p
	}
	return nil
}
