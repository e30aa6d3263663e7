package server

import (
	"testing"
)

func TestValidAccountID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"000000000000", true},
		{"123456789012", true},
		{"12345678901", false},
		{"1234567890123", false},
		{"12345678901a", false},
		{"-12345678901", false},
		{"", false},
	} {
		if err := ValidAccountID(tc.id); (err == nil) != tc.ok {
			t.Errorf("ValidAccountID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
	}
	if _, err := New(t.Context(), Config{DataDir: t.TempDir(), RegistryID: "42"}, &layerScanner{}); err == nil {
		t.Error("New accepted account id 42")
	}
}
