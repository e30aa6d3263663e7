package vulndb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// TestPartsStored: a parser's per-part counts reach the report, the
// sources table, Status and its table, and are copied forward with the
// records when the source is unchanged or fails.
func TestPartsStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	parts := map[string]int{"b-2.0": 1, "a-1.1": 2}
	u := &fakeUpdater{name: "enrich", version: "1", parts: parts, advs: []*advisory.Advisory{
		{ID: "CVE-2024-0001", Description: "one"}, {ID: "CVE-2024-0002"}, {ID: "CVE-2024-0003"},
	}}
	plain := &fakeUpdater{name: "plain", version: "1", advs: []*advisory.Advisory{osAdv("ALPINE-1", "alpine:3.19", "musl", "1.2.4-r3")}}
	check := func(step string, rep *Report) {
		t.Helper()
		got := map[string]map[string]int{}
		for _, s := range rep.Sources {
			got[s.Name] = s.Parts
		}
		if diff := cmp.Diff(map[string]map[string]int{"enrich": parts, "plain": nil}, got); diff != "" {
			t.Errorf("%s: report parts (-want +got):\n%s", step, diff)
		}
		st, err := Status(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]map[string]int{}
		for _, s := range st.Sources {
			got[s.Name] = s.Parts
		}
		if diff := cmp.Diff(map[string]map[string]int{"enrich": parts, "plain": nil}, got); diff != "" {
			t.Errorf("%s: status parts (-want +got):\n%s", step, diff)
		}
		var sb strings.Builder
		if err := st.Write(&sb); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(sb.String(), "\nenrich records by part: a-1.1 2, b-2.0 1\n") || strings.Contains(sb.String(), "plain records by part") {
			t.Errorf("%s: status table:\n%s", step, sb.String())
		}
	}
	check("first", mustUpdate(t, dir, u, plain))
	check("unchanged", mustUpdate(t, dir, u, plain))
	u.version, u.fetchErr = "2", errors.New("offline")
	rep := mustUpdate(t, dir, u, plain)
	if rep.Sources[0].Outcome != Kept {
		t.Fatalf("outcome %s, want kept", rep.Sources[0].Outcome)
	}
	check("kept", rep)
}

func TestFormatParts(t *testing.T) {
	for _, tt := range []struct {
		in   map[string]int
		want string
	}{
		{nil, ""},
		{map[string]int{"nvd-2.0": 2, "nvd-1.1": 109785}, "nvd-1.1 109785, nvd-2.0 2"},
	} {
		if got := FormatParts(tt.in); got != tt.want {
			t.Errorf("FormatParts(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
