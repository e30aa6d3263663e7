package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunReplication runs the conformance checks of the replication
// configuration's storage.
func RunReplication(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"ReplicationConfig", testReplicationConfig},
	})
}

func testReplicationConfig(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	got, err := s.GetReplicationConfig(ctx)
	must(t, err)
	if got != nil {
		t.Fatalf("GetReplicationConfig on a new store = %s, want nil", got)
	}
	for _, doc := range []string{
		`{"rules":[{"destinations":[{"region":"us-west-2","registryId":"210987654321"}],"repositoryFilters":[{"filter":"prod","filterType":"PREFIX_MATCH"}]}]}`,
		`{"rules":[]}`,
	} {
		must(t, s.PutReplicationConfig(ctx, json.RawMessage(doc)))
		got, err := s.GetReplicationConfig(ctx)
		must(t, err)
		if string(got) != doc {
			t.Errorf("GetReplicationConfig = %s, want %s", got, doc)
		}
	}
	// It is its own setting: the scanning configuration is untouched.
	scan, err := s.GetScanningConfig(ctx)
	must(t, err)
	if scan != nil {
		t.Errorf("GetScanningConfig after PutReplicationConfig = %s, want nil", scan)
	}
}
