package scanning

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Epoch is a time as the ECR API sends it: a JSON number of seconds since
// the Unix epoch, milliseconds as the fraction (AWS JSON 1.1). It decodes
// such a number and, for findings stored before timestamps were numbers,
// an RFC 3339 string.
type Epoch time.Time

// EpochOf is t as an Epoch, nil when t is zero.
func EpochOf(t time.Time) *Epoch {
	if t.IsZero() {
		return nil
	}
	e := Epoch(t)
	return &e
}

// Time is e as a time.Time in UTC.
func (e Epoch) Time() time.Time { return time.Time(e).UTC() }

// MarshalJSON writes epoch seconds.
func (e Epoch) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(e).UnixMilli())/1000, 'f', -1, 64), nil
}

// maxEpoch bounds decoded seconds to years 0 to 9999, as RFC 3339 does.
const maxEpoch = 253402300799

// UnmarshalJSON reads epoch seconds or an RFC 3339 string.
func (e *Epoch) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("scanning: timestamp: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("scanning: timestamp: %w", err)
		}
		*e = Epoch(t.UTC())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxEpoch {
		return fmt.Errorf("scanning: timestamp %.40q is not epoch seconds", b)
	}
	*e = Epoch(time.UnixMilli(int64(math.Round(f * 1000))).UTC())
	return nil
}
