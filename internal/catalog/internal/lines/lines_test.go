package lines

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type line struct {
	N    int
	Text string
	Long int64
}

func scanAll(s *Scanner) []line {
	var out []line
	for s.Scan() {
		n, _ := s.TooLong()
		out = append(out, line{s.Line(), s.Text(), n})
	}
	return out
}

func TestScanner(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name    string
		in      string
		maxLine int
		want    []line
	}{
		{"empty", "", 10, nil},
		{"one line, no newline", "abc", 10, []line{{1, "abc", 0}}},
		{"lines and blank lines", "a\n\nb\n", 10, []line{{1, "a", 0}, {2, "", 0}, {3, "b", 0}}},
		{"crlf", "a\r\nb\r\n", 10, []line{{1, "a", 0}, {2, "b", 0}}},
		{"exactly the limit", "0123456789\n0123456789\r\n", 10, []line{{1, "0123456789", 0}, {2, "0123456789", 0}}},
		{"one over the limit", "01234567890\nok\n", 10, []line{{1, "01234567890", 11}, {2, "ok", 0}}},
		{"long line between good ones", "a\n" + long + "\nb", 10, []line{{1, "a", 0}, {2, long[:prefixLen], 100}, {3, "b", 0}}},
		{"long last line without newline", "a\n" + long, 10, []line{{1, "a", 0}, {2, long[:prefixLen], 100}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScanner(strings.NewReader(tt.in), 1<<20, tt.maxLine)
			got := scanAll(s)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if s.Err() != nil {
				t.Errorf("Err = %v", s.Err())
			}
		})
	}
}

// TestHugeLine: a line much longer than the bufio buffer is skipped with
// its length, and memory stays bounded by the line limit.
func TestHugeLine(t *testing.T) {
	in := "Package: a\n" + strings.Repeat("y", 2<<20) + "\nPackage: b\n"
	s := NewScanner(iotest.HalfReader(strings.NewReader(in)), 1<<30, 1<<20)
	got := scanAll(s)
	want := []line{{1, "Package: a", 0}, {2, strings.Repeat("y", prefixLen), 2 << 20}, {3, "Package: b", 0}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if cap(s.buf) > 1<<20+(128<<10) {
		t.Errorf("buffer grew to %d bytes, past the line limit", cap(s.buf))
	}
}

func TestLimits(t *testing.T) {
	s := NewScanner(strings.NewReader("0123456789"), 10, 100)
	if got := scanAll(s); len(got) != 1 || s.Err() != nil {
		t.Errorf("exactly the total limit: %v, %v", got, s.Err())
	}
	s = NewScanner(strings.NewReader("0123456789\nx"), 10, 100)
	scanAll(s)
	if !errors.Is(s.Err(), ErrTooBig) {
		t.Errorf("past the total limit: Err = %v", s.Err())
	}
	s = NewScanner(iotest.TimeoutReader(bytes.NewReader([]byte("a\nb\n"))), 100, 100)
	scanAll(s)
	if !errors.Is(s.Err(), iotest.ErrTimeout) {
		t.Errorf("read error: Err = %v", s.Err())
	}
	if s.Scan() {
		t.Error("Scan after an error")
	}
}
