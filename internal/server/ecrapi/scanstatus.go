package ecrapi

import (
	"context"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// scanEffective is the scanning that applies to repo under the registry's
// current scanning configuration: what the reported scan status of its
// images depends on (scanning.Effective.Reported).
func (a *API) scanEffective(ctx context.Context, repo store.Repository) (scanning.Effective, error) {
	cfg, err := a.scanningConfig(ctx)
	if err != nil {
		return scanning.Effective{}, fmt.Errorf("ecrapi: scan status of %s: %w", repo.Name, err)
	}
	return cfg.Evaluate(repo.Name, repo.ScanOnPush), nil
}

// reported is s as ECR reports it under eff: a stored COMPLETE scan is
// ACTIVE under an ENHANCED CONTINUOUS_SCAN rule.
func reported(eff scanning.Effective, s scanStatus) scanStatus {
	st, d := eff.Reported(scanning.Status(s.Status), s.Description)
	return scanStatus{Status: string(st), Description: d}
}
