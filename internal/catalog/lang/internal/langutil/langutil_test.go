package langutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/maven"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/npm"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

func TestReadAll(t *testing.T) {
	tests := []struct {
		in      string
		max     int64
		wantErr bool
	}{
		{"", 0, false},
		{"abc", 3, false},
		{"abcd", 3, true},
		{strings.Repeat("x", 100000), 99999, true},
		{strings.Repeat("x", 100000), 100000, false},
	}
	for _, tt := range tests {
		b, err := ReadAll(strings.NewReader(tt.in), tt.max)
		if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrTooLarge)) {
			t.Errorf("ReadAll(%d bytes, %d) error = %v, want too-large %v", len(tt.in), tt.max, err, tt.wantErr)
		}
		if err == nil && string(b) != tt.in {
			t.Errorf("ReadAll(%d bytes, %d) = %d bytes", len(tt.in), tt.max, len(b))
		}
	}
}

type failAt struct{ err error }

func (f failAt) ReadAt([]byte, int64) (int, error) { return 0, f.err }

func TestOpenMarksReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r, err := Open(catalog.File{Path: "x", R: failAt{boom}, Size: 10}, 100)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(r)
	var re *ReadError
	if !errors.As(err, &re) || !errors.Is(err, boom) {
		t.Errorf("error %v, want a *ReadError wrapping boom", err)
	}
	if _, err := Open(catalog.File{Path: "x", R: failAt{boom}, Size: 101}, 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("declared size over the limit: error %v", err)
	}
	// EOF stays EOF: a short file is not an I/O error.
	r, _ = Open(catalog.File{Path: "x", R: bytes.NewReader([]byte("ab")), Size: 2}, 100)
	if b, err := io.ReadAll(r); err != nil || string(b) != "ab" {
		t.Errorf("ReadAll = %q, %v", b, err)
	}
}

func TestFinish(t *testing.T) {
	f := catalog.File{Path: "app/x.lock"}
	pkgs := func() []inventory.Package {
		return []inventory.Package{
			{Name: "b", Version: "1", Type: npm.Type},
			{Name: "a", Version: "2", Type: npm.Type},
			{Name: "b", Version: "1", Type: npm.Type},
			{Name: "n", Version: "1", Type: maven.Type, Path: "app/x.lock!inner.jar"},
		}
	}
	res, err := Finish(context.Background(), "c", f, pkgs(), []string{"w1"}, fmt.Errorf("parse: %w", errors.New("bad")))
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.Result{
		Packages: []inventory.Package{
			{Name: "a", Version: "2", Type: npm.Type, Path: "app/x.lock", Cataloger: "c"},
			{Name: "b", Version: "1", Type: npm.Type, Path: "app/x.lock", Cataloger: "c"},
			{Name: "n", Version: "1", Type: maven.Type, Path: "app/x.lock!inner.jar", Cataloger: "c"},
		},
		Warnings: []string{"w1", "c: app/x.lock: parse: bad"},
	}
	if d := cmp.Diff(want, res); d != "" {
		t.Errorf("Finish (-want +got):\n%s", d)
	}
	if _, err := Finish(context.Background(), "c", f, pkgs(), nil, fmt.Errorf("x: %w", &ReadError{Err: io.ErrClosedPipe})); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read error: got %v, want it returned", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Finish(ctx, "c", f, nil, nil, errors.New("parse failed because the reader stopped")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: got %v", err)
	}
}

func TestJSONText(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{``, "", true},
		{`null`, "", true},
		{`" 1.2.3 "`, "1.2.3", true},
		{`"latest"`, "latest", true},
		{`5`, "5", true},
		{`-1.5e3`, "-1.5e3", true},
		{`true`, "", false},
		{`{"a":1}`, "", false},
		{`[1]`, "", false},
		{`"unterminated`, "", false},
	}
	for _, tt := range tests {
		got, ok := JSONText([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("JSONText(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPrefix(t *testing.T) {
	if Prefix("x", "p", nil) != nil {
		t.Error("no warnings gave a non-nil list")
	}
	if d := cmp.Diff([]string{"ruby: a/Gemfile.lock: line 3: bad"}, Prefix("ruby", "a/Gemfile.lock", []string{"line 3: bad"})); d != "" {
		t.Error(d)
	}
}
