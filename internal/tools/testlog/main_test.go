package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRun(t *testing.T) {
	file := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name     string
		input    string
		wantOut  string
		wantSumm summary
	}{
		{
			// go test -json of a pass, a skip, and a test with a passing,
			// a failing and a skipping subtest.
			name:  "mixed",
			input: file("mixed.json"),
			wantOut: `    x_test.go:9: want 1, got 2
--- FAIL: TestFail/bad (0.00s)
--- FAIL: TestFail (0.00s)
FAIL
FAIL	tl/x	0.003s

== skipped tests (2)
tl/x TestFail/skipped: x_test.go:10: tool rpm missing
tl/x TestSkip: x_test.go:6: no ../shared here
tests: 2 passed, 2 failed, 2 skipped
`,
			wantSumm: summary{Passed: 2, Failed: 2, Skipped: 2, Skips: []skip{
				{Package: "tl/x", Test: "TestSkip", Message: "x_test.go:6: no ../shared here"},
				{Package: "tl/x", Test: "TestFail/skipped", Message: "x_test.go:10: tool rpm missing"},
			}},
		},
		{
			name:  "build failure",
			input: file("buildfail.json"),
			wantOut: `# tl/b [tl/b.test]
b/b_test.go:3:28: undefined: undefined
FAIL	tl/b [build failed]

== skipped tests (0)
testlog: 1 package(s) or build(s) failed outside any test
tests: 0 passed, 0 failed, 0 skipped
`,
			wantSumm: summary{Broken: 1},
		},
		{
			name:  "panic in a test",
			input: file("panic.json"),
			wantOut: `    p_test.go:6: before
--- FAIL: TestPanic (0.00s)
panic: boom [recovered, repanicked]
`,
			wantSumm: summary{Passed: 1, Failed: 1},
		},
		{
			// A package killed while a test runs (a -timeout panic): the
			// test never ends, so its output is shown when the package does.
			name: "package dies mid-test, and a line that is not JSON",
			input: `go: downloading example.com/m v1.0.0
{"Action":"run","Package":"p","Test":"TestSlow"}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"=== RUN   TestSlow\n"}
{"Action":"output","Package":"p","Test":"TestSlow","Output":"    slow_test.go:3: waiting\n"}
{"Action":"output","Package":"p","Output":"panic: test timed out after 1s\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t1.0s\n"}
{"Action":"fail","Package":"p"}
`,
			wantOut: `go: downloading example.com/m v1.0.0
panic: test timed out after 1s
FAIL	p	1.0s
    slow_test.go:3: waiting

== skipped tests (0)
testlog: 1 package(s) or build(s) failed outside any test
tests: 0 passed, 0 failed, 0 skipped
`,
			wantSumm: summary{Broken: 1},
		},
		{
			// Only the t.Skip entry (with its continuation line) is the
			// reason; the t.Log lines before it are not.
			name: "skip after logs, multi-line skip message",
			input: `{"Action":"run","Package":"u","Test":"TestReal"}
{"Action":"output","Package":"u","Test":"TestReal","Output":"=== RUN   TestReal\n"}
{"Action":"output","Package":"u","Test":"TestReal","Output":"    real_test.go:45: 3000 records, 1 malformed\n"}
{"Action":"output","Package":"u","Test":"TestReal","Output":"    real_test.go:90: partial run;\n"}
{"Action":"output","Package":"u","Test":"TestReal","Output":"        set FULL=1 for the full count\n"}
{"Action":"output","Package":"u","Test":"TestReal","Output":"--- SKIP: TestReal (0.33s)\n"}
{"Action":"skip","Package":"u","Test":"TestReal"}
`,
			wantOut: `
== skipped tests (1)
u TestReal: real_test.go:90: partial run; set FULL=1 for the full count
tests: 0 passed, 0 failed, 1 skipped
`,
			wantSumm: summary{Skipped: 1, Skips: []skip{{Package: "u", Test: "TestReal", Message: "real_test.go:90: partial run; set FULL=1 for the full count"}}},
		},
		{
			name: "passing package prints its ok line only",
			input: `{"Action":"run","Package":"q","Test":"TestA"}
{"Action":"output","Package":"q","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"q","Test":"TestA","Output":"    a_test.go:9: chatty\n"}
{"Action":"output","Package":"q","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"q","Test":"TestA"}
{"Action":"output","Package":"q","Output":"PASS\n"}
{"Action":"output","Package":"q","Output":"ok  \tq\t0.01s\n"}
{"Action":"pass","Package":"q"}
{"Action":"skip","Package":"r"}
{"Action":"output","Package":"r","Output":"?   \tr\t[no test files]\n"}
`,
			wantOut: `ok  	q	0.01s
?   	r	[no test files]

== skipped tests (0)
tests: 1 passed, 0 failed, 0 skipped
`,
			wantSumm: summary{Passed: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := run(strings.NewReader(tt.input), &out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantSumm, got); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			gotOut := out.String()
			if tt.name == "panic in a test" {
				// The stack trace is long; its head and the tail matter.
				head, _, _ := strings.Cut(gotOut, "\n\ngoroutine")
				gotOut = head + "\n"
				if !strings.Contains(out.String(), "FAIL\ttl/p\t0.011s\n\n== skipped tests (0)\ntests: 1 passed, 1 failed, 0 skipped\n") {
					t.Errorf("output does not end with the package line and the summary:\n%s", out.String())
				}
			}
			if diff := cmp.Diff(tt.wantOut, gotOut); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunBoundsOutput: a test that prints without end is held to
// maxTestOutput, a skip message to maxSkipLines lines, a line to maxLine.
func TestRunBoundsOutput(t *testing.T) {
	var in strings.Builder
	in.WriteString(`{"Action":"run","Package":"p","Test":"TestLoud"}` + "\n")
	long := strings.Repeat("x", 1000)
	n := 2 * maxTestOutput / len(long)
	for range n {
		fmt.Fprintf(&in, `{"Action":"output","Package":"p","Test":"TestLoud","Output":"%s\n"}`+"\n", long)
	}
	in.WriteString(`{"Action":"fail","Package":"p","Test":"TestLoud"}` + "\n")
	in.WriteString(`{"Action":"run","Package":"p","Test":"TestWordy"}` + "\n")
	for i := range 10 {
		fmt.Fprintf(&in, `{"Action":"output","Package":"p","Test":"TestWordy","Output":"line %d\n"}`+"\n", i)
	}
	in.WriteString(`{"Action":"skip","Package":"p","Test":"TestWordy"}` + "\n")
	in.WriteString(strings.Repeat("y", 3*maxLine) + "\n")
	var out bytes.Buffer
	s, err := run(strings.NewReader(in.String()), &out)
	if err != nil {
		t.Fatal(err)
	}
	if ys := strings.Repeat("y", maxLine); !strings.Contains(out.String(), ys+"\n") || strings.Contains(out.String(), ys+"y") {
		t.Errorf("a line of %d bytes was not cut to %d", 3*maxLine, maxLine)
	}
	if out.Len() > maxTestOutput+maxLine+n*2+4096 {
		t.Errorf("wrote %d bytes for one test and a long line, want about %d", out.Len(), maxTestOutput+maxLine)
	}
	if !strings.Contains(out.String(), "more output lines of this test not shown") {
		t.Error("no note of the dropped lines")
	}
	want := []skip{{Package: "p", Test: "TestWordy", Message: "line 0 line 1 line 2 …"}}
	if diff := cmp.Diff(want, s.Skips); diff != "" {
		t.Errorf("skips (-want +got):\n%s", diff)
	}
}

// FuzzRun: any input is read to its end without error (lines up to
// maxLine), and the output always closes with the counts of the summary.
func FuzzRun(f *testing.F) {
	for _, name := range []string{"mixed.json", "buildfail.json", "panic.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		s, err := run(bytes.NewReader(in), &out)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("tests: %d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
		if !strings.HasSuffix(out.String(), want) {
			t.Errorf("output does not end with %q", want)
		}
		if len(s.Skips) != s.Skipped {
			t.Errorf("%d skips listed, %d counted", len(s.Skips), s.Skipped)
		}
	})
}
