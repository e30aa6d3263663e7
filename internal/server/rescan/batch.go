package rescan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// DefaultBatch is the default number of images written per transaction.
const DefaultBatch = 256

// maxBatchBytes bounds the encoded results a batch holds before it is
// written (the results of changed images, built by the workers).
const maxBatchBytes = 32 << 20

// A pass runs as a pipeline: a feeder reads the inventories of Batch
// targets with one query and hands them to Workers goroutines, which
// decode and match them (prepare); the calling goroutine collects their
// outcomes and writes up to Batch images per transaction (flush) with a
// few set-based statements for the whole batch. An image whose
// change-pass shortcut does not hold, or whose decision needs what its
// worker dropped, is left to a second, whole-inventory round.
//
// Crash safety is per batch: a batch's history, results, announcements
// and db_built_at commit together, so a pass killed midway leaves every
// image either done or still matched against its old build, which the
// next pass selects again.

// prepared is one target after its worker: the change-pass shortcut's
// findings (check) or the whole inventory's.
type prepared struct {
	t   target
	ref store.ImageRef
	err error
	// check: the findings of the packages under t.changed (sub), those
	// packages' names and versions, and the names to read open findings
	// of (nil: all).
	check  bool
	sub    []store.FindingRecord
	nSub   int
	pkgs   map[[2]string]bool
	names  []string
	status scanning.Status
	// Whole inventory: its findings, their hash and the stored one, the
	// time they were observed, and the result: rm when the writer may
	// still build it, or already built (res, body) when the findings
	// changed or the image is revived.
	enhanced        bool
	records         []store.FindingRecord
	hash, knownHash string
	now             time.Time
	rm              *Rematched
	res             *scanning.Result
	body            []byte
	prepared        *store.PreparedResult
}

// rematchAll re-matches work with Workers goroutines, writing Batch
// images per transaction.
func (r *Rescanner) rematchAll(ctx context.Context, pass Pass, db *vulndb.DB, work []target, sum *Summary) {
	again := r.round(ctx, pass, db, work, false, sum)
	if len(again) > 0 && ctx.Err() == nil {
		for i := range again {
			again[i].changed = nil
		}
		r.round(ctx, pass, db, again, true, sum)
	}
	if m, ok := pass.(interface{ Stats() (hits, misses int64) }); ok {
		sum.MemoHits, sum.MemoMisses = m.Stats()
	}
}

type feedItem struct {
	t   target
	inv store.BatchInventory
	err error
}

// round runs one pass over work and returns the targets left for a
// whole-inventory round. final rounds keep what the writer needs to
// decide every image, and return none.
func (r *Rescanner) round(ctx context.Context, pass Pass, db *vulndb.DB, work []target, final bool, sum *Summary) []target {
	feed := make(chan feedItem, r.o.Workers)
	done := make(chan prepared, r.o.Workers)
	go r.feed(ctx, work, feed)
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range feed {
				p := prepared{t: it.t, ref: store.ImageRef{Repository: it.t.Repository, Digest: it.t.Digest}, err: it.err}
				if p.err == nil {
					r.prepare(ctx, pass, db, it.inv, final, &p)
				}
				done <- p
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	var again []target
	var batch []prepared
	bytes := 0
	write := func() {
		again = append(again, r.write(ctx, db, batch, sum)...)
		batch, bytes = batch[:0], 0
	}
	for p := range done {
		if p.err != nil {
			sum.Errors++
			r.o.Logger.Error("rescan: image", "repository", p.t.Repository, "digest", p.t.Digest, "err", p.err)
			continue
		}
		batch = append(batch, p)
		bytes += 2 * len(p.body) // the body and its prepared parts
		if len(batch) >= r.o.Batch || bytes >= maxBatchBytes {
			write()
		}
	}
	if len(batch) > 0 {
		write()
	}
	return again
}

// feed reads the inventories of work, Batch at a time, renewing the pass
// lease, and closes out when done or stopped.
func (r *Rescanner) feed(ctx context.Context, work []target, out chan<- feedItem) {
	defer close(out)
	lastRenew := time.Now()
	for start := 0; start < len(work); start += r.o.Batch {
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastRenew) > r.o.Lease/3 {
			if ok, err := r.o.Store.AcquireLease(ctx, leaseName, r.o.Holder, r.o.Now(), r.o.Lease); err != nil || !ok {
				r.o.Logger.Warn("rescan: lease lost; stopping the pass", "err", err)
				return
			}
			lastRenew = time.Now()
		}
		chunk := work[start:min(start+r.o.Batch, len(work))]
		refs := make([]store.ImageRef, len(chunk))
		for i, t := range chunk {
			refs[i] = store.ImageRef{Repository: t.Repository, Digest: t.Digest}
		}
		invs, err := r.o.Store.GetInventories(ctx, refs)
		for i, t := range chunk {
			it := feedItem{t: t, err: err}
			if err == nil {
				var ok bool
				if it.inv, ok = invs[refs[i]]; !ok {
					it.err = fmt.Errorf("store: inventory of %s@%s: %w", t.Repository, t.Digest, store.ErrNotFound)
				}
			}
			select {
			case out <- it:
			case <-ctx.Done():
				return
			}
		}
	}
}

// prepare decodes and matches one inventory: the packages under the
// changed keys for the change-pass shortcut, else the whole inventory.
// The result is built here, in parallel, when the findings' hash says they
// changed (or the image is revived); otherwise only a final round keeps
// what building it later needs.
func (r *Rescanner) prepare(ctx context.Context, pass Pass, db *vulndb.DB, stored store.BatchInventory, final bool, p *prepared) {
	v, err := r.views.get(r.codec, stored.Data)
	if err != nil {
		p.err = err
		return
	}
	vp, fast := pass.(viewPass)
	p.enhanced, p.knownHash = stored.Enhanced, stored.FindingsHash
	if p.t.changed != nil {
		sub := r.views.touching(v, stored.Enhanced, p.t.changed)
		rm, err := pass.Rematch(ctx, sub, stored.Enhanced)
		if err != nil {
			p.err = err
			return
		}
		p.check, p.sub, p.nSub = true, rm.Records, len(sub.Packages)
		p.pkgs = make(map[[2]string]bool, len(sub.Packages))
		for _, pk := range sub.Packages {
			if !p.pkgs[[2]string{pk.Name, pk.Version}] {
				p.names = append(p.names, pk.Name)
			}
			p.pkgs[[2]string{pk.Name, pk.Version}] = true
		}
		if len(p.names) == 0 || len(p.names) > 500 {
			p.names = nil // nothing to narrow by, or a change touching most of the image
		}
		return
	}
	var rm *Rematched
	if fast {
		rm, err = vp.rematchView(ctx, v, stored.Enhanced)
	} else {
		rm, err = pass.Rematch(ctx, v.inventory(), stored.Enhanced)
	}
	if err != nil {
		p.err = err
		return
	}
	p.now = r.o.Now().UTC()
	p.status, p.records, p.hash = rm.Status, rm.Records, store.FindingsHash(rm.Records)
	switch {
	case p.hash != p.knownHash || p.t.revive:
		if p.res, err = rm.Result(p.now, db.BuiltAt()); err != nil {
			p.err = err
			return
		}
		if p.body, err = json.Marshal(p.res); err != nil {
			p.err = fmt.Errorf("rescan: encode result: %w", err)
			return
		}
		pr := store.PrepareResult(p.body)
		p.prepared = &pr
	case final:
		p.rm = rm
	}
}

// viewPass is a Pass that matches views (the ScanMatcher's).
type viewPass interface {
	rematchView(ctx context.Context, v *view, enhanced bool) (*Rematched, error)
}

// outcomes of one image in a batch.
type outcome struct{ skipped, revived, changed, announced, again bool }

var rescanFrom = []string{string(scanning.StatusComplete), string(scanning.StatusActive), string(scanning.StatusUnsupported), string(scanning.StatusEligibilityExpired)}

// write stores a batch in one transaction and counts it; when the batch
// fails, each image is written alone so that one bad image fails alone.
// It returns the targets left for a whole-inventory round.
func (r *Rescanner) write(ctx context.Context, db *vulndb.DB, batch []prepared, sum *Summary) []target {
	outs, err := r.flush(ctx, db, batch)
	if err != nil && len(batch) > 1 {
		var again []target
		for i := range batch {
			again = append(again, r.write(ctx, db, batch[i:i+1], sum)...)
		}
		return again
	}
	if err != nil {
		sum.Errors++
		r.o.Logger.Error("rescan: image", "repository", batch[0].t.Repository, "digest", batch[0].t.Digest, "err", err)
		return nil
	}
	var again []target
	for i, o := range outs {
		switch {
		case o.again:
			again = append(again, batch[i].t)
		case o.skipped:
			sum.Skipped++
		default:
			sum.Rematched++
			if o.revived {
				sum.Revived++
			}
			if o.changed {
				sum.Changed++
			}
			if o.announced {
				sum.Announced++
			}
		}
	}
	return again
}

// flush writes a batch in one transaction: the scan statuses, the open
// findings the change-pass shortcuts compare with, and the finding
// history are each read with one statement for the batch; the history
// changes are multi-row upserts and db_built_at one update; only changed
// images write their scan row and announcement one by one.
func (r *Rescanner) flush(ctx context.Context, db *vulndb.DB, batch []prepared) ([]outcome, error) {
	var outs []outcome
	err := r.o.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		outs = make([]outcome, len(batch))
		refs := make([]store.ImageRef, len(batch))
		for i := range batch {
			refs[i] = batch[i].ref
		}
		statuses, err := r.o.Store.ScanStatusesTx(ctx, tx, refs)
		if err != nil {
			return err
		}
		var built []store.ImageRef
		// Change-pass shortcuts: the packages under the changed keys
		// found as before mean the whole inventory would be.
		var checks []int
		var allRefs []store.ImageRef          // open findings of every package
		want := map[store.ImageRef][]string{} // or of these packages
		for i := range batch {
			p := &batch[i]
			if !p.check {
				continue
			}
			if st, ok := statuses[p.ref]; !ok || st != string(scanning.StatusComplete) || p.t.revive {
				outs[i].again = true // the whole-inventory path decides
				continue
			}
			checks = append(checks, i)
			if p.nSub == 0 {
				continue
			}
			if p.names == nil {
				allRefs = append(allRefs, p.ref)
			} else {
				want[p.ref] = p.names
			}
		}
		if len(checks) > 0 {
			open, err := r.o.Store.OpenFindingsOfPackagesTx(ctx, tx, want)
			if err != nil {
				return err
			}
			if len(allRefs) > 0 {
				rest, err := r.o.Store.OpenFindingsBatchTx(ctx, tx, allRefs, nil)
				if err != nil {
					return err
				}
				for ref, rs := range rest {
					open[ref] = rs
				}
			}
			for _, i := range checks {
				p := &batch[i]
				before := map[string]store.FindingRecord{}
				if p.nSub > 0 {
					for _, f := range open[p.ref] {
						if p.pkgs[[2]string{f.PackageName, f.PackageVersion}] {
							before[f.Key()] = store.FindingRecord{Name: f.Name, PackageName: f.PackageName, PackageVersion: f.PackageVersion, Severity: f.Severity}
						}
					}
				}
				if !sameRecords(sortedRecords(before), p.sub) {
					outs[i].again = true
					continue
				}
				built = append(built, p.ref)
			}
		}
		// Whole inventories.
		var fulls []int
		var updates []store.FindingsUpdate
		for i := range batch {
			p := &batch[i]
			if p.check {
				continue
			}
			status, ok := statuses[p.ref]
			if !ok || !slices.Contains(rescanFrom, status) || (status == string(scanning.StatusEligibilityExpired)) != p.t.revive {
				outs[i].skipped = true // a scan is running, failed, or eligibility moved
				continue
			}
			if p.body == nil && p.rm == nil && string(p.status) != status {
				// Unchanged findings but a new status: the result
				// must be rewritten, and its worker dropped it.
				outs[i].again = true
				continue
			}
			fulls = append(fulls, i)
			updates = append(updates, store.FindingsUpdate{Image: p.ref, Current: p.records, Hash: p.hash, KnownHash: p.knownHash, Now: p.now})
		}
		diffs, err := r.o.Store.RecordFindingsBatch(ctx, tx, updates)
		if err != nil {
			return err
		}
		for j, i := range fulls {
			p := &batch[i]
			if err := r.store(ctx, tx, db, p, statuses[p.ref], diffs[j], &outs[i]); err != nil {
				return fmt.Errorf("rescan: %s@%s: %w", p.ref.Repository, p.ref.Digest, err)
			}
			built = append(built, p.ref)
		}
		return r.o.Store.SetInventoriesBuilt(ctx, tx, built, db.BuiltAt())
	})
	return outs, err
}

// store writes, in tx, the scan row of one whole-inventory image whose
// findings or status changed (or that is revived), and announces the
// change.
func (r *Rescanner) store(ctx context.Context, tx *store.Tx, db *vulndb.DB, p *prepared, status string, diff store.FindingsDiff, out *outcome) error {
	out.revived = p.t.revive
	out.changed = diff.Changed() || string(p.status) != status
	if !out.changed && !p.t.revive {
		return nil
	}
	if p.body == nil {
		if p.rm == nil {
			return errors.New("rescan: the result to store was dropped") // prepare keeps it whenever it can be needed
		}
		var err error
		if p.res, err = p.rm.Result(p.now, db.BuiltAt()); err != nil {
			return err
		}
		if p.body, err = json.Marshal(p.res); err != nil {
			return fmt.Errorf("rescan: encode result: %w", err)
		}
	}
	var oldIDs map[string]identified
	if r.o.Announcer != nil && len(diff.Resolved) > 0 {
		// The result about to be replaced describes the resolved
		// findings.
		var err error
		if oldIDs, err = r.previousFindings(ctx, tx, p.t); err != nil {
			return err
		}
	}
	if p.prepared == nil {
		pr := store.PrepareResult(p.body)
		p.prepared = &pr
	}
	if _, err := r.o.Store.UpdateScanResultPrepared(ctx, tx, p.ref.Repository, p.ref.Digest, string(p.res.Status), p.res.Description, p.prepared, status); err != nil {
		return err
	}
	if r.o.Announcer == nil || len(diff.Added)+len(diff.Resolved) == 0 {
		return nil
	}
	newIDs, err := identities(p.res)
	if err != nil {
		return err
	}
	c := scanning.FindingsChange{Repository: p.ref.Repository, Digest: p.ref.Digest, Enhanced: p.enhanced, Counts: p.res.SeverityCounts, At: p.now}
	for _, a := range diff.Added {
		c.Added = append(c.Added, newIDs[a.Key()].finding)
	}
	for _, rr := range diff.Resolved {
		f, ok := oldIDs[rr.Key()]
		if !ok {
			f.finding = scanning.Finding{Name: rr.Name, Severity: rr.Severity, Attributes: []scanning.Attribute{{Key: "package_name", Value: rr.PackageName}, {Key: "package_version", Value: rr.PackageVersion}}}
		}
		c.Resolved = append(c.Resolved, f.finding)
	}
	if c.Tags, err = tagsOf(ctx, tx, p.ref.Repository, p.ref.Digest); err != nil {
		return err
	}
	if err := r.o.Announcer.FindingsChanged(ctx, tx, c); err != nil {
		return fmt.Errorf("rescan: announce: %w", err)
	}
	out.announced = true
	return nil
}
