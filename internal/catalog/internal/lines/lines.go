// Package lines reads line-oriented package files (the dpkg status
// file and info/*.list files, the apk installed database, yarn.lock, Python METADATA and
// requirements*.txt, gemspecs and Gemfile.lock) with bounded memory, without
// letting one bad line end the read: a line longer than the limit is
// reported to the caller, which skips it with a warning, and reading goes on
// at the next line. bufio.Scanner, by contrast, stops for good at its first
// over-long line. It is the catalogers' one bounded line reader.
package lines

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// prefixLen is how much of an over-long line is kept, so that the caller can
// name the field it belonged to.
const prefixLen = 64

// ErrTooBig is wrapped by the error returned when the input passes the
// scanner's total size limit.
var ErrTooBig = errors.New("input too large")

// Scanner reads lines. Each call to Scan advances to the next line, over-long
// lines included; Text returns it without its line ending.
type Scanner struct {
	r       *bufio.Reader
	maxLine int
	left    int64 // bytes still allowed
	max     int64
	n       int
	buf     []byte
	long    int64 // length of the current line when it is over maxLine
	err     error
	done    bool
}

// NewScanner returns a scanner over r that allows lines of up to maxLine
// bytes (line ending excluded) and fails once more than maxTotal bytes are
// read.
func NewScanner(r io.Reader, maxTotal int64, maxLine int) *Scanner {
	return &Scanner{r: bufio.NewReaderSize(r, 64<<10), maxLine: maxLine, left: maxTotal, max: maxTotal}
}

// Scan advances to the next line. It returns false at the end of the input
// or on an error (see Err).
func (s *Scanner) Scan() bool {
	if s.done {
		return false
	}
	s.buf, s.long = s.buf[:0], 0
	var (
		total int64 // bytes of the line, line ending included
		over  bool
		eol   bool
	)
	for {
		frag, err := s.r.ReadSlice('\n')
		if s.left -= int64(len(frag)); s.left < 0 {
			s.done, s.err = true, fmt.Errorf("%w: more than %d bytes", ErrTooBig, s.max)
			return false
		}
		total += int64(len(frag))
		if !over {
			if len(s.buf)+len(frag) <= s.maxLine+2 { // room for "\r\n"
				s.buf = append(s.buf, frag...)
			} else {
				over = true
				s.buf = append(s.buf, frag[:min(len(frag), max(0, prefixLen-len(s.buf)))]...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			s.done = true
			if total == 0 {
				return false
			}
			break
		}
		if err != nil {
			s.done, s.err = true, err
			return false
		}
		eol = true
		break
	}
	s.n++
	if over || len(trimEOL(s.buf)) > s.maxLine {
		s.long = total
		if eol {
			s.long--
		}
		s.buf = s.buf[:min(len(s.buf), prefixLen)]
	}
	return true
}

// trimEOL drops a trailing "\n" and any "\r" before it.
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimRight(b, "\r")
}

// Text returns the current line without its line ending (trailing "\r"
// characters are dropped too). For an over-long line it is the line's
// first bytes only.
func (s *Scanner) Text() string { return string(trimEOL(s.buf)) }

// Line returns the number of the current line, from 1.
func (s *Scanner) Line() int { return s.n }

// TooLong reports whether the current line was longer than the limit, and
// its length in bytes.
func (s *Scanner) TooLong() (int64, bool) { return s.long, s.long > 0 }

// Err returns the reader's error, or an error wrapping ErrTooBig, that
// ended the scan; nil at a clean end of input.
func (s *Scanner) Err() error { return s.err }
