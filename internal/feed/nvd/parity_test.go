package nvd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/feed/feedtest"
)

// stdWalk is walk as it was with encoding/json's Decoder (kept to check the
// jsontext walk against): the records it hands over and whether it fails.
func stdWalk(ctx context.Context, r io.Reader, array string, fn func(json.RawMessage) error) error {
	cr := &capReader{r: r, max: MaxRecord}
	dec := json.NewDecoder(cr)
	delim := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return fmt.Errorf("got %v, want %v", tok, want)
		}
		return nil
	}
	if err := delim('{'); err != nil {
		return err
	}
	items := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("unexpected %v", tok)
		}
		cr.n = 0
		if key != array {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		items = true
		if err := delim('['); err != nil {
			return err
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			cr.n = 0
			if err := fn(raw); err != nil {
				return err
			}
		}
		if err := delim(']'); err != nil {
			return err
		}
	}
	if err := delim('}'); err != nil {
		return err
	}
	if !items {
		return fmt.Errorf("no %s", array)
	}
	return nil
}

// walkParity checks that walk hands over the records stdWalk does (byte
// for byte), fails where it fails, and that each record decodes into the
// 1.1 and 2.0 shapes as encoding/json decodes it.
func walkParity(t *testing.T, data []byte, array string) {
	t.Helper()
	var want, got []string
	errStd := stdWalk(context.Background(), bytes.NewReader(data), array, func(raw json.RawMessage) error {
		want = append(want, string(raw))
		return nil
	})
	errGot := walk(context.Background(), bytes.NewReader(data), array, nil, func(raw json.RawMessage) error {
		got = append(got, string(raw))
		feedtest.DecodeParity[item](t, raw)
		feedtest.DecodeParity[record20](t, raw)
		return nil
	})
	if (errStd == nil) != (errGot == nil) {
		t.Fatalf("encoding/json walk error %v, jsontext walk error %v, on %q", errStd, errGot, data)
	}
	if errStd == nil {
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("records differ on %q (-encoding/json +jsontext):\n%s", data, d)
		}
	}
}

// TestDecodeParity runs walkParity over the fixture feeds and their hostile
// variants, and DecodeParity over each record's variants.
func TestDecodeParity(t *testing.T) {
	for _, ver := range []struct{ dir, array string }{{"1.1", "CVE_Items"}, {"2.0", "vulnerabilities"}} {
		files, err := filepath.Glob(filepath.Join("testdata", "json", ver.dir, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures in %s: %v", ver.dir, err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range feedtest.Hostile(data) {
				t.Run(filepath.Base(file)+"/"+name, func(t *testing.T) { walkParity(t, v, ver.array) })
			}
			_ = walk(context.Background(), bytes.NewReader(data), ver.array, nil, func(raw json.RawMessage) error {
				for name, v := range feedtest.Hostile(raw) {
					if !strings.Contains(name, "trailing") {
						feedtest.DecodeParity[item](t, v)
						feedtest.DecodeParity[record20](t, v)
					}
				}
				return nil
			})
		}
	}
}

// FuzzWalkParity fuzzes walkParity from the fixture feeds.
func FuzzWalkParity(f *testing.F) {
	seeds(f, "1.1")
	seeds(f, "2.0")
	f.Fuzz(func(t *testing.T, data []byte) {
		walkParity(t, data, "CVE_Items")
		walkParity(t, data, "vulnerabilities")
	})
}
