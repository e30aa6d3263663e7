package store

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// TestFindingsHashOrder: compareKeys orders records as their FindingKeys
// do, and FindingsHash is the same for any order of the same findings,
// duplicates included (the last of a key wins).
func TestFindingsHashOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	parts := []string{"", "a", "ab", "a\x1f", "\x01", "b", "CVE-1", "CVE-10"}
	pick := func() string { return parts[rng.IntN(len(parts))] }
	var recs []FindingRecord
	for range 400 {
		recs = append(recs, FindingRecord{Name: pick(), PackageName: pick(), PackageVersion: pick(), Severity: severity.High})
	}
	for i := 1; i < len(recs); i++ {
		a, b := &recs[i-1], &recs[i]
		if got, want := compareKeys(a, b), strings.Compare(a.Key(), b.Key()); got != want {
			t.Fatalf("compareKeys(%q, %q) = %d, want %d", a.Key(), b.Key(), got, want)
		}
	}
	// Unique records in key order, then shuffled with a duplicate.
	byKey := map[string]FindingRecord{}
	for _, r := range recs {
		byKey[r.Key()] = r
	}
	var sorted []FindingRecord
	for _, r := range byKey {
		sorted = append(sorted, r)
	}
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j].Key() < sorted[i].Key() {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	want := FindingsHash(sorted)
	shuffled := append([]FindingRecord{}, sorted...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	shuffled = append(shuffled, sorted[0])
	if got := FindingsHash(shuffled); got != want {
		t.Errorf("hash of shuffled findings %s, want %s", got, want)
	}
	rerated := append([]FindingRecord{}, sorted...)
	rerated[0].Severity = severity.Low
	if FindingsHash(rerated) == want {
		t.Error("a re-rated finding did not change the hash")
	}
	if FindingsHash(sorted[1:]) == want {
		t.Error("a resolved finding did not change the hash")
	}
}
