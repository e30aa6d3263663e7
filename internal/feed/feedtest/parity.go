package feedtest

import (
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	json "github.com/go-json-experiment/json/v1"
	"github.com/google/go-cmp/cmp"
)

// DecodeParity decodes data into a new T with encoding/json and with the
// drop-in the feed parsers use (github.com/go-json-experiment/json/v1, the
// v2 engine with every v1 behaviour) and fails t when they disagree: one
// rejects the input and the other does not, or both accept it and the
// values differ. Error texts are not compared. It returns the value and
// whether data decoded.
func DecodeParity[T any](t testing.TB, data []byte) (T, bool) {
	t.Helper()
	var std, got T
	errStd := stdjson.Unmarshal(data, &std)
	errGot := json.Unmarshal(data, &got)
	if (errStd == nil) != (errGot == nil) {
		t.Fatalf("encoding/json error %v, drop-in error %v, on %q", errStd, errGot, data)
	}
	if errStd != nil {
		return got, false
	}
	if d := cmp.Diff(std, got, cmp.Exporter(func(reflect.Type) bool { return true })); d != "" {
		t.Fatalf("decoded values differ on %q (-encoding/json +drop-in):\n%s", data, d)
	}
	return got, true
}

// Hostile returns variants of a valid JSON document that probe where JSON
// decoders part ways: keys in upper case, every member given twice, nulls
// and numbers where strings were, invalid UTF-8 and lone surrogates in
// strings, control characters, truncation and trailing bytes. Each is named
// for the test's output.
func Hostile(doc []byte) map[string][]byte {
	s := string(doc)
	out := map[string][]byte{
		"as is":          doc,
		"upper keys":     []byte(keyRe.ReplaceAllStringFunc(s, strings.ToUpper)),
		"nulls":          []byte(strValRe.ReplaceAllString(s, `: null`)),
		"numbers":        []byte(strValRe.ReplaceAllString(s, `: 1e400`)),
		"arrays":         []byte(strValRe.ReplaceAllString(s, `: []`)),
		"invalid utf-8":  []byte(strings.Replace(s, `": "`, "\": \"\xff\xfe", -1)),
		"lone surrogate": []byte(strings.Replace(s, `": "`, `": "\ud800`, -1)),
		"escaped nul":    []byte(strings.Replace(s, `": "`, `": "\u0000`, -1)),
		"raw control":    []byte(strings.Replace(s, `": "`, "\": \"\x01", -1)),
		"truncated":      doc[:len(doc)/2],
		"trailing":       append(append([]byte{}, doc...), " x"...),
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") && len(t) > 2 {
		inner := strings.TrimSpace(t[1 : len(t)-1])
		out["members twice"] = []byte("{" + inner + "," + inner + "}")
		out["wrong case twice"] = []byte("{" + inner + "," + keyRe.ReplaceAllStringFunc(inner, strings.ToUpper) + "}")
	}
	return out
}

var (
	keyRe    = regexp.MustCompile(`"[A-Za-z_0-9]+":`)
	strValRe = regexp.MustCompile(`: "(?:[^"\\]|\\.)*"`)
)

// ParityFiles runs DecodeParity[T] over each file matched by the glob
// patterns and over its Hostile variants, one subtest per file and variant.
// A pattern that matches nothing fails t.
func ParityFiles[T any](t *testing.T, patterns ...string) {
	t.Helper()
	for _, pat := range patterns {
		files, err := filepath.Glob(pat)
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures match %s: %v", pat, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range Hostile(data) {
				t.Run(file+"/"+name, func(t *testing.T) { DecodeParity[T](t, v) })
			}
		}
	}
}

// SeedFiles adds each file matched by the glob patterns to the fuzz corpus.
func SeedFiles(f *testing.F, patterns ...string) {
	f.Helper()
	for _, pat := range patterns {
		files, err := filepath.Glob(pat)
		if err != nil || len(files) == 0 {
			f.Fatalf("no seeds match %s: %v", pat, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}
