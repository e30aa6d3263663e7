package lines

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// model is Scanner written the slow way: split after each "\n". A line is
// too long when its text (line ending dropped) passes maxLine, or when the
// raw line passes maxLine+2 bytes (so "\r\r\n" after maxLine bytes counts
// as too long: the scanner stops buffering at maxLine plus room for "\r\n").
func model(data []byte, maxLine int) []line {
	var out []line
	for n := 1; len(data) > 0; n++ {
		raw := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw = data[:i+1]
		}
		data = data[len(raw):]
		l := line{N: n, Text: string(trimEOL(raw))}
		if len(raw) > maxLine+2 || len(trimEOL(raw)) > maxLine {
			l.Long = int64(len(bytes.TrimSuffix(raw, []byte("\n"))))
			l.Text = string(trimEOL(raw[:min(len(raw), prefixLen)]))
		}
		out = append(out, l)
	}
	return out
}

func FuzzScanner(f *testing.F) {
	f.Add([]byte("Package: a\nVersion: 1\n\nPackage: b\r\n"), uint8(10))
	f.Add([]byte("a\n"+string(bytes.Repeat([]byte("x"), 100))+"\nb"), uint8(10))
	f.Add([]byte("0123456789\r\r\n\r\n"), uint8(10))
	f.Add([]byte("P:musl\nV:1.2.4-r2\n"), uint8(200))
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint8) {
		want := model(data, int(maxLine))
		s := NewScanner(bytes.NewReader(data), int64(len(data)), int(maxLine))
		got := scanAll(s)
		if s.Err() != nil {
			t.Fatalf("Err = %v at exactly the total limit", s.Err())
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("Scanner and model differ (-model +scanner):\n%s", d)
		}
		if len(data) == 0 {
			return
		}
		// One byte under the total limit: the scan fails with ErrTooBig
		// after a prefix of the lines.
		s = NewScanner(bytes.NewReader(data), int64(len(data)-1), int(maxLine))
		got = scanAll(s)
		if !errors.Is(s.Err(), ErrTooBig) {
			t.Fatalf("Err = %v past the total limit, want ErrTooBig", s.Err())
		}
		if len(got) >= len(want) || cmp.Diff(want[:len(got)], got, cmpopts.EquateEmpty()) != "" {
			t.Fatalf("past the total limit: got %v, want a proper prefix of %v", got, want)
		}
	})
}
