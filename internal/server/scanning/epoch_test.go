package scanning

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEpoch(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 250_000_000, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Time
		bad  bool
	}{
		{name: "seconds", in: `1777636800`, want: t0.Truncate(time.Second)},
		{name: "fraction", in: `1777636800.25`, want: t0},
		{name: "exponent", in: `1.7776368e9`, want: t0.Truncate(time.Second)},
		{name: "stored text date", in: `"2026-05-01T12:00:00.25Z"`, want: t0},
		{name: "offset", in: `"2026-05-01T14:00:00.25+02:00"`, want: t0},
		{name: "negative", in: `-1`, want: time.Unix(-1, 0).UTC()},
		{name: "not a date", in: `"yesterday"`, bad: true},
		{name: "bool", in: `true`, bad: true},
		{name: "beyond year 9999", in: `1e300`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Epoch
			err := json.Unmarshal([]byte(tt.in), &e)
			if tt.bad {
				if err == nil {
					t.Fatalf("decoded %s as %v", tt.in, e.Time())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, e.Time()); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
	b, err := json.Marshal(struct {
		A Epoch  `json:"a"`
		B *Epoch `json:"b,omitempty"`
		C *Epoch `json:"c,omitempty"`
	}{A: Epoch(t0), B: EpochOf(t0.Add(time.Second)), C: EpochOf(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"a":1777636800.25,"b":1777636801.25}`, string(b)); diff != "" {
		t.Errorf("encoded (-want +got):\n%s", diff)
	}
}

// FuzzEpoch: any input decodes or fails, and what decodes survives a
// round trip at millisecond precision.
func FuzzEpoch(f *testing.F) {
	for _, s := range []string{`1777636800.25`, `"2026-05-01T12:00:00Z"`, `-0`, `1e9`, `"0000-01-01T00:00:00Z"`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var e Epoch
		if err := e.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Epoch
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s encoded as %s, which does not decode: %v", s, b, err)
		}
		if !back.Time().Equal(e.Time().Truncate(time.Millisecond)) && back.Time().UnixMilli() != e.Time().UnixMilli() {
			t.Fatalf("%s: %v became %v", s, e.Time(), back.Time())
		}
	})
}
