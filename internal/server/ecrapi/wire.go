package ecrapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
)

// Enhanced findings are stored as the scanner wrote them. Results stored
// before timestamps were epoch numbers hold RFC 3339 strings (a rescan keeps
// an unchanged result byte for byte), so wireFinding rewrites those on the
// way out: the response has numbers whatever the stored result's age.

// textTimestampKeys are the enhanced finding fields that are timestamps,
// at any depth (the finding, packageVulnerabilityDetails, a resource's
// awsEcrContainerImage).
var textTimestampKeys = map[string]bool{
	"firstObservedAt": true, "lastObservedAt": true, "updatedAt": true,
	"vendorCreatedAt": true, "vendorUpdatedAt": true, "pushedAt": true, "lastInUseAt": true,
}

// wireFinding is a stored enhanced finding with every text timestamp
// replaced by epoch seconds; a finding without one is returned as is.
func wireFinding(raw json.RawMessage) (json.RawMessage, error) {
	if !bytes.Contains(raw, []byte(`At":"`)) && !bytes.Contains(raw, []byte(`At": "`)) {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("ecrapi: stored enhanced finding: %w", err)
	}
	if err := epochTimestamps(v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func epochTimestamps(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && textTimestampKeys[k] {
				t, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return fmt.Errorf("ecrapi: stored enhanced finding: %s: %w", k, err)
				}
				x[k] = scanning.Epoch(t)
				continue
			}
			if err := epochTimestamps(val); err != nil {
				return err
			}
		}
	case []any:
		for _, val := range x {
			if err := epochTimestamps(val); err != nil {
				return err
			}
		}
	}
	return nil
}
