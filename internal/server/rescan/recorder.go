package rescan

import (
	"context"
	"fmt"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RecordStore is the part of the store the Recorder writes.
type RecordStore interface {
	PutInventory(ctx context.Context, tx *store.Tx, inv store.StoredInventory, keys []store.InventoryKey) error
	RecordFindings(ctx context.Context, tx *store.Tx, repo, digest string, current []store.FindingRecord, now time.Time) (store.FindingsDiff, error)
}

// Recorder stores each scanned image's inventory, keys and finding history
// with its scan result.
type Recorder struct {
	Store RecordStore
	Codec *Codec
}

// Prepare is a jobs.PrepareFunc: for a result with an inventory it appends
// to out.InTx the writes of the inventory, its keys and the finding
// history, timed at the scan's completion.
func (r *Recorder) Prepare(ctx context.Context, j *store.Job, res *scanning.Result, out *store.JobOutcome) error {
	if res == nil || res.Inventory == nil {
		return nil
	}
	data, err := r.Codec.Encode(res.Inventory)
	if err != nil {
		return err
	}
	ks := match.Keys(res.Inventory, scan.Options{Enhanced: j.Enhanced}.MatchOptions())
	keys := make([]store.InventoryKey, len(ks))
	for i, k := range ks {
		keys[i] = store.InventoryKey{Namespace: k.Namespace, Package: k.Package}
	}
	ids, err := identities(res)
	if err != nil {
		return err
	}
	recs := records(ids)
	now := res.CompletedAt
	inv := store.StoredInventory{Repository: j.Repository, Digest: j.Digest, Enhanced: j.Enhanced, Data: data, StoredAt: now, DBBuiltAt: res.VulnerabilitySourceUpdatedAt}
	out.InTx = append(out.InTx, func(ctx context.Context, tx *store.Tx) error {
		if err := r.Store.PutInventory(ctx, tx, inv, keys); err != nil {
			return fmt.Errorf("rescan: record inventory: %w", err)
		}
		if _, err := r.Store.RecordFindings(ctx, tx, j.Repository, j.Digest, recs, now); err != nil {
			return fmt.Errorf("rescan: record findings: %w", err)
		}
		return nil
	})
	return nil
}
