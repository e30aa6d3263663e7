package ecrapi

import (
	"encoding/json"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// routeEnhanced fills in, on each stored enhanced finding of img in repo,
// what Amazon Inspector routes findings by and a scan result does not hold
// (scanning.RouteEnhanced): the finding and image ARNs with the server's
// account id and region, the repository, the image's current tags and its
// push time.
func (a *API) routeEnhanced(repo string, img store.Image, stored []json.RawMessage) ([]json.RawMessage, error) {
	im := scanning.ECRImage{Account: a.o.RegistryID, Region: a.o.Region, Repository: repo, Digest: img.Digest, Tags: img.Tags, PushedAt: img.PushedAt}
	out := make([]json.RawMessage, len(stored))
	for i, raw := range stored {
		r, err := scanning.RouteEnhanced(raw, im)
		if err != nil {
			return nil, fmt.Errorf("ecrapi: stored enhanced finding %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}
