package rescan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// Store is the part of the store the rescanner uses (*store.SQL).
type Store interface {
	GetScanningConfig(ctx context.Context) (json.RawMessage, error)
	GetRepository(ctx context.Context, name string) (store.Repository, error)
	AllInventoryTargets(ctx context.Context) ([]store.InventoryTarget, error)
	InventoryTargetsByKeys(ctx context.Context, keys []store.InventoryKey) ([]store.InventoryTarget, error)
	GetInventories(ctx context.Context, refs []store.ImageRef) (map[store.ImageRef]store.BatchInventory, error)
	SetInventoriesBuilt(ctx context.Context, tx *store.Tx, refs []store.ImageRef, builtAt time.Time) error
	AdvanceInventoriesBuilt(ctx context.Context, tx *store.Tx, from, to time.Time) (int64, error)
	RecordFindingsBatch(ctx context.Context, tx *store.Tx, updates []store.FindingsUpdate) ([]store.FindingsDiff, error)
	ScanTx(ctx context.Context, tx *store.Tx, repo, digest string) (store.Scan, error)
	ScanStatusesTx(ctx context.Context, tx *store.Tx, refs []store.ImageRef) (map[store.ImageRef]string, error)
	OpenFindingsBatchTx(ctx context.Context, tx *store.Tx, refs []store.ImageRef, packages []string) (map[store.ImageRef][]store.FindingRecord, error)
	OpenFindingsOfPackagesTx(ctx context.Context, tx *store.Tx, want map[store.ImageRef][]string) (map[store.ImageRef][]store.FindingRecord, error)
	UpdateScanResult(ctx context.Context, tx *store.Tx, repo, digest, status, description string, result json.RawMessage, fromStatuses ...string) (bool, error)
	UpdateScanResultPrepared(ctx context.Context, tx *store.Tx, repo, digest, status, description string, result *store.PreparedResult, fromStatuses ...string) (bool, error)
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	RescanSetting(ctx context.Context, name string) (string, bool, error)
	PutRescanSetting(ctx context.Context, tx *store.Tx, name, value string) error
	InTx(ctx context.Context, fn store.TxFunc) error
}

// Announcer announces a rescan's findings change inside the transaction
// that records it (the events outbox).
type Announcer interface {
	FindingsChanged(ctx context.Context, tx *store.Tx, c scanning.FindingsChange) error
}

// Options configure a Rescanner. Zero values get the defaults noted.
type Options struct {
	Store   Store
	Matcher Matcher
	// DBDir is the vulnerability DB directory (CURRENT is followed).
	DBDir string
	// Announcer may be nil.
	Announcer Announcer
	// Window is the scan eligibility window (default 720h; negative or
	// Lifetime = no expiry).
	Window time.Duration
	// Poll is how often Run checks the DB build and eligibility (default 1m).
	Poll time.Duration
	// Update, when set, runs every UpdateInterval inside Run (a scheduled
	// `db update`); the next check picks up the new build.
	Update         func(ctx context.Context) error
	UpdateInterval time.Duration
	// Holder names this replica in the lease row (default "rescan").
	Holder string
	// Lease is the pass lease (default 2m), renewed while a pass runs.
	Lease time.Duration
	// Workers re-match in parallel (default 2).
	Workers int
	// Batch is the most images written per transaction (default
	// DefaultBatch; 1 writes each image in its own).
	Batch int
	// ViewRefs bounds the decoded inventories kept between passes, in
	// package references (default DefaultViewRefs; see view.go).
	ViewRefs int
	Now      func() time.Time
	Logger   *slog.Logger
	// Observe, when set, receives every tick's summary (metrics).
	Observe func(Summary)
}

// Lifetime as Options.Window means images never expire.
const Lifetime = time.Duration(-1)

// DefaultWindow is ECR's continuous-scan eligibility window.
const DefaultWindow = 30 * 24 * time.Hour

// Summary is one tick of the rescanner.
type Summary struct {
	// Build is the DB build of the tick, Base the last processed build
	// ("" for none); Mode is "none" (no DB change), "changes" (the DB's
	// change set), "diff" (pairs compared with the base file) or "full".
	Build, Base, Mode, Reason string
	ChangedPairs              int
	// Considered are images selected by the change (or stale); Rematched
	// were matched again; Changed had findings added or resolved or
	// re-rated; Announced were handed to the Announcer.
	Considered, Rematched, Changed, Announced int
	// Expired went to SCAN_ELIGIBILITY_EXPIRED; Revived came back from it.
	Expired, Revived int
	// Skipped were selected but not continuous, not eligible or busy.
	Skipped, Errors int
	// MemoHits and MemoMisses count packages answered from the pass's
	// per-package memo and packages matched (when the Pass keeps one).
	MemoHits, MemoMisses int64
	// LeaseBusy: another replica holds the pass lease.
	LeaseBusy bool
	Duration  time.Duration
}

// Rescanner runs continuous rescans.
type Rescanner struct {
	o     Options
	codec *Codec
	views *viewCache

	mu    sync.Mutex
	older [2]string // the (local, last processed) builds last logged as older
}

// noteOlder logs, once per pair of builds, that the local DB is older than
// the last processed build.
func (r *Rescanner) noteOlder(local, last, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.older == [2]string{local, last} {
		return
	}
	r.older = [2]string{local, last}
	r.o.Logger.Info("rescan: "+why, "build", local, "last", last)
}

const (
	leaseName  = "rescan"
	settingKey = "rescan:last-build"
)

// New builds a rescanner.
func New(o Options) (*Rescanner, error) {
	if o.Store == nil || o.Matcher == nil || o.DBDir == "" {
		return nil, errors.New("rescan: Store, Matcher and DBDir are required")
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Poll <= 0 {
		o.Poll = time.Minute
	}
	if o.Holder == "" {
		o.Holder = "rescan"
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.ViewRefs <= 0 {
		o.ViewRefs = DefaultViewRefs
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := NewCodec()
	if err != nil {
		return nil, err
	}
	return &Rescanner{o: o, codec: c, views: newViewCache(o.ViewRefs)}, nil
}

// Run ticks every Poll (and runs the scheduled DB update) until ctx ends.
func (r *Rescanner) Run(ctx context.Context) error {
	var updates <-chan time.Time
	if r.o.Update != nil && r.o.UpdateInterval > 0 {
		t := time.NewTicker(r.o.UpdateInterval)
		defer t.Stop()
		updates = t.C
	}
	poll := time.NewTicker(r.o.Poll)
	defer poll.Stop()
	r.tickAndLog(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-updates:
			start := time.Now()
			if err := r.o.Update(ctx); err != nil {
				r.o.Logger.Error("rescan: scheduled DB update", "err", err)
			} else {
				r.o.Logger.Info("rescan: scheduled DB update done", "took", time.Since(start).Round(time.Millisecond))
			}
			r.tickAndLog(ctx)
		case <-poll.C:
			r.tickAndLog(ctx)
		}
	}
}

func (r *Rescanner) tickAndLog(ctx context.Context) {
	s, err := r.Tick(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.o.Logger.Error("rescan: pass", "err", err)
		}
		return
	}
	if s.Mode != "none" || s.Expired+s.Revived+s.Errors > 0 {
		r.o.Logger.Info("rescan: pass", "build", s.Build, "base", s.Base, "mode", s.Mode, "reason", s.Reason, "changedPairs", s.ChangedPairs,
			"considered", s.Considered, "rematched", s.Rematched, "changed", s.Changed, "announced", s.Announced,
			"expired", s.Expired, "revived", s.Revived, "skipped", s.Skipped, "errors", s.Errors, "memoHits", s.MemoHits, "memoMisses", s.MemoMisses, "took", s.Duration.Round(time.Millisecond))
	}
}

type lastBuild struct {
	Build   string `json:"build"`
	BuiltAt int64  `json:"builtAt"` // Unix ms
}

type target struct {
	store.InventoryTarget
	revive bool
	// changed, when set, are the DB keys that changed since the image was
	// last matched: only its packages looked up under them are matched
	// first, and the whole inventory only if their findings moved. Nil
	// means match the whole inventory.
	changed map[match.Key]bool
}

// Tick runs one check: the eligibility sweep and, when the DB build moved,
// a rescan pass. It returns with LeaseBusy when another replica runs one.
func (r *Rescanner) Tick(ctx context.Context) (Summary, error) {
	start := time.Now()
	sum := Summary{Mode: "none"}
	ok, err := r.o.Store.AcquireLease(ctx, leaseName, r.o.Holder, r.o.Now(), r.o.Lease)
	if err != nil {
		return sum, err
	}
	if !ok {
		sum.LeaseBusy = true
		if r.o.Observe != nil {
			r.o.Observe(sum)
		}
		return sum, nil
	}
	defer func() {
		if err := r.o.Store.ReleaseLease(context.WithoutCancel(ctx), leaseName, r.o.Holder); err != nil {
			r.o.Logger.Warn("rescan: release lease", "err", err)
		}
	}()
	err = r.tick(ctx, &sum)
	sum.Duration = time.Since(start)
	if r.o.Observe != nil {
		r.o.Observe(sum)
	}
	return sum, err
}

func (r *Rescanner) tick(ctx context.Context, sum *Summary) error {
	db, err := vulndb.Open(ctx, r.o.DBDir)
	if err != nil {
		return fmt.Errorf("rescan: open DB: %w", err)
	}
	defer db.Close()
	sum.Build = db.BuildID()
	builtAt := db.BuiltAt()
	var last lastBuild
	if v, ok, err := r.o.Store.RescanSetting(ctx, settingKey); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal([]byte(v), &last); err != nil {
			r.o.Logger.Warn("rescan: unreadable last build; treating as none", "err", err)
			last = lastBuild{}
		}
	}
	sum.Base = last.Build
	cfgRaw, err := r.o.Store.GetScanningConfig(ctx)
	if err != nil {
		return err
	}
	cfg, err := scanning.DecodeConfig(cfgRaw)
	if err != nil {
		return err
	}
	now := r.o.Now().UTC()
	continuous := r.continuity(ctx, cfg)
	all, err := r.o.Store.AllInventoryTargets(ctx)
	if err != nil {
		return err
	}
	// Eligibility sweep.
	var work []target
	for _, t := range all {
		cont, err := continuous(t.Repository)
		if err != nil {
			return err
		}
		if !cont {
			continue
		}
		eligible := r.eligible(t, now)
		switch {
		case !eligible && (t.ScanStatus == string(scanning.StatusComplete) || t.ScanStatus == string(scanning.StatusActive) || t.ScanStatus == string(scanning.StatusUnsupported)):
			if err := r.expire(ctx, t); err != nil {
				return err
			}
			sum.Expired++
		case eligible && t.ScanStatus == string(scanning.StatusEligibilityExpired):
			work = append(work, target{InventoryTarget: t, revive: true})
		}
	}
	// The build moved when it differs from the last one a pass processed
	// and is newer. Replicas on several hosts each have a DB directory of
	// their own, updated apart (serve --db-update-interval, `db pull`): a
	// replica whose build is older than the last processed one (another
	// replica's) leaves it, or the two would take turns re-matching the
	// fleet against their own builds at every poll.
	moved := sum.Build != last.Build
	if moved && last.Build != "" && !builtAt.After(time.UnixMilli(last.BuiltAt)) {
		moved = false
		sum.Reason = fmt.Sprintf("the DB here (build %s) is not newer than build %s, the last a pass processed: no pass", sum.Build, last.Build)
		r.noteOlder(sum.Build, last.Build, sum.Reason)
	}
	var mark []store.InventoryTarget // affected but skipped: stale
	if moved {
		selected, err := r.selectChanged(ctx, db, last, all, sum)
		if err != nil {
			return err
		}
		seen := map[[2]string]bool{}
		for _, w := range work {
			seen[[2]string{w.Repository, w.Digest}] = true
		}
		for _, t := range selected {
			if seen[[2]string{t.Repository, t.Digest}] || t.DBBuiltAt.Equal(builtAt) {
				continue
			}
			sum.Considered++
			cont, err := continuous(t.Repository)
			if err != nil {
				return err
			}
			if !cont || !r.eligible(t.InventoryTarget, now) || t.ScanStatus == string(scanning.StatusEligibilityExpired) {
				sum.Skipped++
				mark = append(mark, t.InventoryTarget)
				continue
			}
			work = append(work, t)
		}
	}
	if len(work) > 0 {
		pass := r.o.Matcher.Pass(db)
		r.rematchAll(ctx, pass, db, work, sum)
	}
	if !moved {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Record the build: every inventory matched against the base is now
	// as good as matched against this build, except the skipped ones.
	next, _ := json.Marshal(lastBuild{Build: sum.Build, BuiltAt: builtAt.UnixMilli()})
	return r.o.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		if last.Build != "" {
			if _, err := r.o.Store.AdvanceInventoriesBuilt(ctx, tx, time.UnixMilli(last.BuiltAt), builtAt); err != nil {
				return err
			}
		}
		refs := make([]store.ImageRef, len(mark))
		for i, t := range mark {
			refs[i] = store.ImageRef{Repository: t.Repository, Digest: t.Digest}
		}
		if err := r.o.Store.SetInventoriesBuilt(ctx, tx, refs, time.Time{}); err != nil {
			return err
		}
		return r.o.Store.PutRescanSetting(ctx, tx, settingKey, string(next))
	})
}

// continuity returns a memoized "is this repository under CONTINUOUS_SCAN".
func (r *Rescanner) continuity(ctx context.Context, cfg scanning.Config) func(repo string) (bool, error) {
	memo := map[string]bool{}
	return func(repo string) (bool, error) {
		if v, ok := memo[repo]; ok {
			return v, nil
		}
		rp, err := r.o.Store.GetRepository(ctx, repo)
		if errors.Is(err, store.ErrNotFound) {
			memo[repo] = false
			return false, nil
		}
		if err != nil {
			return false, err
		}
		eff := cfg.Evaluate(rp.Name, rp.ScanOnPush)
		v := eff.Scanned && eff.Frequency == scanning.ContinuousScan
		memo[repo] = v
		return v, nil
	}
}

func (r *Rescanner) eligible(t store.InventoryTarget, now time.Time) bool {
	if r.o.Window < 0 {
		return true
	}
	last := t.PushedAt
	if t.LastPulledAt.After(last) {
		last = t.LastPulledAt
	}
	return now.Sub(last) <= r.o.Window
}

func (r *Rescanner) expire(ctx context.Context, t store.InventoryTarget) error {
	desc := fmt.Sprintf("Continuous scanning stopped: the image was not pushed or pulled in the last %s; the findings shown are from the last evaluation. Pull the image to resume.", windowText(r.o.Window))
	return r.o.Store.InTx(ctx, func(ctx context.Context, tx *store.Tx) error {
		_, err := r.o.Store.UpdateScanResult(ctx, tx, t.Repository, t.Digest, string(scanning.StatusEligibilityExpired), desc, nil,
			string(scanning.StatusComplete), string(scanning.StatusActive), string(scanning.StatusUnsupported))
		return err
	})
}

func windowText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// selectChanged returns the images a DB change affects, with the changed
// keys, and stale images (matched against neither the base nor this build),
// to be matched whole.
func (r *Rescanner) selectChanged(ctx context.Context, db *vulndb.DB, last lastBuild, all []store.InventoryTarget, sum *Summary) ([]target, error) {
	pairs, mode, reason, err := r.changedPairs(ctx, db, last)
	if err != nil {
		return nil, err
	}
	sum.Mode, sum.Reason = mode, reason
	if mode == "full" {
		r.o.Logger.Info("rescan: re-matching every stored inventory", "reason", reason)
		out := make([]target, len(all))
		for i, t := range all {
			out[i] = target{InventoryTarget: t}
		}
		return out, nil
	}
	sum.ChangedPairs = len(pairs)
	affected, changed, err := r.byPairs(ctx, pairs)
	if err != nil {
		return nil, err
	}
	base, cur := time.UnixMilli(last.BuiltAt), db.BuiltAt()
	seen := map[[2]string]bool{}
	out := make([]target, 0, len(affected))
	for _, t := range affected {
		seen[[2]string{t.Repository, t.Digest}] = true
		tt := target{InventoryTarget: t, changed: changed}
		if !t.DBBuiltAt.Equal(base) {
			tt.changed = nil // stale as well: the change set is not all it missed
		}
		out = append(out, tt)
	}
	for _, t := range all {
		if seen[[2]string{t.Repository, t.Digest}] || t.DBBuiltAt.Equal(base) || t.DBBuiltAt.UnixMilli() == cur.UnixMilli() {
			continue
		}
		out = append(out, target{InventoryTarget: t})
	}
	return out, nil
}

// byPairs returns the images whose inventories hold any of pairs, and the
// pairs as a key set.
func (r *Rescanner) byPairs(ctx context.Context, pairs []vulndb.Pair) ([]store.InventoryTarget, map[match.Key]bool, error) {
	keys := make([]store.InventoryKey, len(pairs))
	changed := make(map[match.Key]bool, len(pairs))
	for i, p := range pairs {
		keys[i] = store.InventoryKey{Namespace: p.Namespace, Package: p.Package}
		changed[match.Key{Namespace: p.Namespace, Package: p.Package}] = true
	}
	sel, err := r.o.Store.InventoryTargetsByKeys(ctx, keys)
	return sel, changed, err
}

func (r *Rescanner) changedPairs(ctx context.Context, db *vulndb.DB, last lastBuild) ([]vulndb.Pair, string, string, error) {
	if last.Build == "" {
		return nil, "full", "no previous pass recorded", nil
	}
	cs, err := db.Changes(ctx)
	if err != nil {
		return nil, "", "", err
	}
	if cs.Complete && cs.Base == last.Build {
		return cs.Pairs, "changes", "", nil
	}
	why := fmt.Sprintf("the DB's change set is relative to %q (complete=%v), not to %q", cs.Base, cs.Complete, last.Build)
	prevPath := filepath.Join(r.o.DBDir, "db-"+last.Build+".sqlite")
	if _, err := os.Stat(prevPath); err != nil {
		return nil, "full", why + "; the previous DB file is gone", nil
	}
	prev, err := vulndb.Open(ctx, prevPath)
	if err != nil {
		return nil, "full", why + "; the previous DB file does not open: " + err.Error(), nil
	}
	defer prev.Close()
	pairs, err := db.ChangedPairs(ctx, prev)
	if err != nil {
		return nil, "", "", err
	}
	return pairs, "diff", why, nil
}

// sameRecords compares identities and severities; both are sorted by key.
func sameRecords(a, b []store.FindingRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].PackageName != b[i].PackageName || a[i].PackageVersion != b[i].PackageVersion || a[i].Severity != b[i].Severity {
			return false
		}
	}
	return true
}

// previousFindings reads the findings of the stored result.
func (r *Rescanner) previousFindings(ctx context.Context, tx *store.Tx, t target) (map[string]identified, error) {
	sc, err := r.o.Store.ScanTx(ctx, tx, t.Repository, t.Digest)
	if err != nil {
		return nil, err
	}
	if len(sc.Result) == 0 {
		return nil, nil
	}
	var old scanning.Result
	if err := json.Unmarshal(sc.Result, &old); err != nil {
		return nil, fmt.Errorf("rescan: stored result: %w", err)
	}
	return identities(&old)
}

func tagsOf(ctx context.Context, tx *store.Tx, repo, digest string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT tag FROM tags WHERE repo = ? AND digest = ? ORDER BY tag`, repo, digest)
	if err != nil {
		return nil, fmt.Errorf("rescan: tags: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("rescan: tags: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RematchPairs re-matches, against the current DB, the eligible
// CONTINUOUS_SCAN images whose inventories hold any of pairs (nil: every
// stored inventory), whatever build they were matched against. It records
// findings as a pass does but moves no build bookkeeping: it is for
// operators (an enrichment-only change) and benchmarks.
func (r *Rescanner) RematchPairs(ctx context.Context, pairs []vulndb.Pair) (Summary, error) {
	start := time.Now()
	sum := Summary{Mode: "pairs", ChangedPairs: len(pairs)}
	db, err := vulndb.Open(ctx, r.o.DBDir)
	if err != nil {
		return sum, fmt.Errorf("rescan: open DB: %w", err)
	}
	defer db.Close()
	sum.Build = db.BuildID()
	cfgRaw, err := r.o.Store.GetScanningConfig(ctx)
	if err != nil {
		return sum, err
	}
	cfg, err := scanning.DecodeConfig(cfgRaw)
	if err != nil {
		return sum, err
	}
	var sel []store.InventoryTarget
	var changed map[match.Key]bool
	if pairs == nil {
		sum.Mode = "all"
		sel, err = r.o.Store.AllInventoryTargets(ctx)
	} else {
		sel, changed, err = r.byPairs(ctx, pairs)
	}
	if err != nil {
		return sum, err
	}
	continuous := r.continuity(ctx, cfg)
	now := r.o.Now().UTC()
	var work []target
	for _, t := range sel {
		sum.Considered++
		cont, err := continuous(t.Repository)
		if err != nil {
			return sum, err
		}
		if !cont || !r.eligible(t, now) || t.ScanStatus == string(scanning.StatusEligibilityExpired) {
			sum.Skipped++
			continue
		}
		work = append(work, target{InventoryTarget: t, changed: changed})
	}
	r.rematchAll(ctx, r.o.Matcher.Pass(db), db, work, &sum)
	sum.Duration = time.Since(start)
	return sum, ctx.Err()
}
