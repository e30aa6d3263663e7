package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Errors of the Service; test with errors.Is.
var (
	ErrNoPolicy          = errors.New("no lifecycle policy")
	ErrNoPreview         = errors.New("no lifecycle policy preview")
	ErrPreviewInProgress = errors.New("lifecycle policy preview in progress")
)

// Store is the state lifecycle reads and writes (*store.SQL).
type Store interface {
	GetLifecyclePolicy(ctx context.Context, repo string) (store.LifecyclePolicy, error)
	ListLifecyclePolicies(ctx context.Context) ([]store.LifecyclePolicy, error)
	SetLifecycleEvaluated(ctx context.Context, repo string, at time.Time) error
	BeginLifecyclePreview(ctx context.Context, repo, policyText string, now time.Time, stale time.Duration) error
	FinishLifecyclePreview(ctx context.Context, repo string, startedAt time.Time, status string, results json.RawMessage) error
	GetLifecyclePreview(ctx context.Context, repo string) (store.LifecyclePreview, error)
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ListImages(ctx context.Context, repo string) ([]store.Image, error)
	GetImage(ctx context.Context, repo, digest string) (store.Image, error)
	ListRepositoryReferrers(ctx context.Context, repo string) ([]store.Referrer, error)
	LastPull(ctx context.Context, repo, digest string) (time.Time, error)
	DeleteImage(ctx context.Context, repo, digest string) error
}

// Registry deletes manifests and collects unreferenced blobs
// (*registry.Registry).
type Registry interface {
	DeleteManifest(ctx context.Context, repo, digest string) error
	ManifestChildren(ctx context.Context, repo, digest string) ([]string, error)
	CollectGarbage(ctx context.Context, grace time.Duration) (registry.GCStats, error)
}

// Options configures a Service.
type Options struct {
	Store    Store
	Registry Registry
	// Interval between scheduled passes (0: no schedule); the first pass
	// runs FirstDelay after Run starts (default 30s, capped at Interval).
	Interval   time.Duration
	FirstDelay time.Duration
	// GCGrace: blobs younger than this are never collected (default 1h).
	GCGrace time.Duration
	// Holder names this replica in the lease.
	Holder string
	// Audit records each expired image (principal "stowaway"; nil: none).
	Audit  *audit.Trail
	Now    func() time.Time
	Logger *slog.Logger
}

// Service runs previews and the scheduled lifecycle pass.
type Service struct {
	o Options
}

// previewStale is how long an IN_PROGRESS preview blocks a new one; a
// preview runs in one request, so an older one was abandoned by a crash.
const previewStale = 5 * time.Minute

// New builds a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.GCGrace <= 0 {
		o.GCGrace = time.Hour
	}
	if o.FirstDelay <= 0 {
		o.FirstDelay = 30 * time.Second
	}
	if o.Interval > 0 && o.FirstDelay > o.Interval {
		o.FirstDelay = o.Interval
	}
	return &Service{o: o}
}

// Plan evaluates policy over repo's images at now. Referrer artifacts (a
// manifest whose subject is another manifest of the repository) are not
// candidates: they go with their subject. Children of an index in the
// repository are not candidates either: deleting one would break the
// index; once the index is gone they are ordinary untagged images.
func (s *Service) Plan(ctx context.Context, repo string, p *Policy, now time.Time) ([]Expiring, error) {
	imgs, err := s.o.Store.ListImages(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: plan %s: %w", repo, err)
	}
	refs, err := s.o.Store.ListRepositoryReferrers(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: plan %s: %w", repo, err)
	}
	excluded := map[string]bool{}
	for _, r := range refs {
		excluded[r.Digest] = true
	}
	for _, img := range imgs {
		if !isIndex(img.MediaType) {
			continue
		}
		children, err := s.o.Registry.ManifestChildren(ctx, repo, img.Digest)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: plan %s: %w", repo, err)
		}
		for _, c := range children {
			excluded[c] = true
		}
	}
	pulled := slices.ContainsFunc(p.Rules, func(r Rule) bool { return r.CountType == CountSinceImagePulled })
	var cands []Image
	for _, img := range imgs {
		if excluded[img.Digest] {
			continue
		}
		c := Image{Digest: img.Digest, Tags: img.Tags, PushedAt: img.PushedAt}
		if pulled {
			if c.LastPulledAt, err = s.o.Store.LastPull(ctx, repo, img.Digest); err != nil {
				return nil, fmt.Errorf("lifecycle: plan %s: %w", repo, err)
			}
		}
		cands = append(cands, c)
	}
	return p.Evaluate(cands, now), nil
}

func isIndex(mediaType string) bool {
	return strings.Contains(mediaType, "image.index") || strings.Contains(mediaType, "manifest.list")
}

// PreviewResult is one image a preview expires.
type PreviewResult struct {
	Digest       string    `json:"digest"`
	Tags         []string  `json:"tags"`
	PushedAt     time.Time `json:"pushedAt"`
	RulePriority int       `json:"rulePriority"`
}

// Preview is a repository's latest preview.
type Preview struct {
	PolicyText string
	Status     string // IN_PROGRESS, COMPLETE, FAILED
	Results    []PreviewResult
}

// StartPreview evaluates text (or, when empty, the repository's policy)
// without deleting anything and stores the outcome for GetPreview. It runs
// to completion before returning (evaluation reads only the store), and
// returns the policy text used and the final status.
func (s *Service) StartPreview(ctx context.Context, repo, text string) (string, string, error) {
	if text == "" {
		stored, err := s.o.Store.GetLifecyclePolicy(ctx, repo)
		if errors.Is(err, store.ErrNotFound) {
			return "", "", ErrNoPolicy
		}
		if err != nil {
			return "", "", err
		}
		text = stored.Text
	}
	p, err := ParseText(text)
	if err != nil {
		return "", "", err
	}
	started := s.o.Now().UTC()
	if err := s.o.Store.BeginLifecyclePreview(ctx, repo, text, started, previewStale); err != nil {
		if errors.Is(err, store.ErrInProgress) {
			return "", "", ErrPreviewInProgress
		}
		return "", "", err
	}
	status, results := "COMPLETE", []PreviewResult{}
	exp, err := s.Plan(ctx, repo, p, started)
	if err != nil {
		status = "FAILED"
		s.o.Logger.Error("lifecycle: preview", "repository", repo, "err", err)
	}
	for _, e := range exp {
		results = append(results, PreviewResult{Digest: e.Image.Digest, Tags: e.Image.Tags, PushedAt: e.Image.PushedAt, RulePriority: e.RulePriority})
	}
	raw, err := json.Marshal(results)
	if err != nil {
		return "", "", fmt.Errorf("lifecycle: preview results: %w", err)
	}
	// The outcome is written even if the caller went away.
	if err := s.o.Store.FinishLifecyclePreview(context.WithoutCancel(ctx), repo, started, status, raw); err != nil {
		return "", "", err
	}
	return text, status, nil
}

// GetPreview returns the repository's latest preview (ErrNoPreview).
func (s *Service) GetPreview(ctx context.Context, repo string) (Preview, error) {
	pv, err := s.o.Store.GetLifecyclePreview(ctx, repo)
	if errors.Is(err, store.ErrNotFound) {
		return Preview{}, ErrNoPreview
	}
	if err != nil {
		return Preview{}, err
	}
	out := Preview{PolicyText: pv.PolicyText, Status: pv.Status}
	if out.Status == "IN_PROGRESS" && s.o.Now().Sub(pv.StartedAt) >= previewStale {
		out.Status = "FAILED" // abandoned by a crash
	}
	if len(pv.Results) > 0 {
		if err := json.Unmarshal(pv.Results, &out.Results); err != nil {
			return Preview{}, fmt.Errorf("lifecycle: preview results: %w", err)
		}
	}
	return out, nil
}

// Report summarises one pass.
type Report struct {
	Repositories int // repositories with a policy
	Expired      int // images deleted by a rule
	Referrers    int // referrer artifacts deleted with their subject
	Skipped      int // expiring images left alone: tags changed since evaluation
	Failed       int // repositories whose pass failed (logged)
	GC           registry.GCStats
}

const leaseName = "lifecycle"

// Tick runs a pass if this replica holds (or takes) the lifecycle lease;
// ran is false when another replica holds it.
func (s *Service) Tick(ctx context.Context) (rep Report, ran bool, err error) {
	ttl := max(s.o.Interval/2, 10*time.Minute)
	ok, err := s.o.Store.AcquireLease(ctx, leaseName, s.o.Holder, s.o.Now().UTC(), ttl)
	if err != nil || !ok {
		return rep, false, err
	}
	rep, err = s.Pass(ctx)
	return rep, true, err
}

// Pass evaluates every repository's policy, deletes what it expires (with
// the referrers of what it deletes), records lastEvaluatedAt, then collects
// unreferenced blobs. A repository that fails is logged and counted; the
// others still run.
func (s *Service) Pass(ctx context.Context) (Report, error) {
	var rep Report
	pols, err := s.o.Store.ListLifecyclePolicies(ctx)
	if err != nil {
		return rep, fmt.Errorf("lifecycle: pass: %w", err)
	}
	for _, pol := range pols {
		rep.Repositories++
		if err := s.runRepo(ctx, pol, &rep); err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Failed++
			s.o.Logger.Error("lifecycle: repository pass failed", "repository", pol.Repository, "err", err)
		}
	}
	rep.GC, err = s.o.Registry.CollectGarbage(ctx, s.o.GCGrace)
	if err != nil {
		return rep, fmt.Errorf("lifecycle: pass: %w", err)
	}
	s.o.Logger.Info("lifecycle: pass done", "repositories", rep.Repositories, "expired", rep.Expired,
		"referrers", rep.Referrers, "skipped", rep.Skipped, "failed", rep.Failed,
		"blobs_swept", rep.GC.Swept, "bytes_freed", rep.GC.BytesFreed, "blobs_kept_for_grace", rep.GC.KeptForGrace,
		"blobs_restored", rep.GC.Restored, "blobs_recovered", rep.GC.Recovered, "blob_refs_pruned", rep.GC.RefsPruned)
	return rep, nil
}

func (s *Service) runRepo(ctx context.Context, pol store.LifecyclePolicy, rep *Report) error {
	repo := pol.Repository
	p, err := ParseText(pol.Text)
	if err != nil {
		return fmt.Errorf("stored policy: %w", err)
	}
	now := s.o.Now().UTC()
	exp, err := s.Plan(ctx, repo, p, now)
	if err != nil {
		return err
	}
	refs, err := s.o.Store.ListRepositoryReferrers(ctx, repo)
	if err != nil {
		return err
	}
	bySubject := map[string][]string{}
	for _, r := range refs {
		bySubject[r.Subject] = append(bySubject[r.Subject], r.Digest)
	}
	for _, e := range exp {
		// A push may have tagged the image since evaluation: then the
		// decision is stale, and the image waits for the next pass.
		cur, err := s.o.Store.GetImage(ctx, repo, e.Image.Digest)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !slices.Equal(cur.Tags, e.Image.Tags) {
			rep.Skipped++
			continue
		}
		n, err := s.deleteWithReferrers(ctx, repo, e.Image.Digest, bySubject, map[string]bool{})
		if err != nil {
			return err
		}
		rep.Expired++
		rep.Referrers += n
		s.o.Logger.Info("lifecycle: expired image", "repository", repo, "digest", e.Image.Digest,
			"tags", e.Image.Tags, "rule", e.RulePriority, "referrers_deleted", n)
		s.o.Audit.Record(ctx, audit.Record{Principal: registry.ServerPrincipal, Action: "ecr:BatchDeleteImage", Repository: repo,
			Digest: e.Image.Digest, Tag: strings.Join(e.Image.Tags, ","), Reason: fmt.Sprintf("expired by lifecycle policy rule %d", e.RulePriority)})
	}
	return s.o.Store.SetLifecycleEvaluated(ctx, repo, now)
}

// deleteWithReferrers deletes the referrers of digest (recursively: a
// signature of an SBOM goes too), then digest itself; it returns the number
// of referrers deleted.
func (s *Service) deleteWithReferrers(ctx context.Context, repo, digest string, bySubject map[string][]string, seen map[string]bool) (int, error) {
	if seen[digest] {
		return 0, nil
	}
	seen[digest] = true
	n := 0
	for _, ref := range bySubject[digest] {
		m, err := s.deleteWithReferrers(ctx, repo, ref, bySubject, seen)
		if err != nil {
			return n, err
		}
		n += m + 1
	}
	if err := s.o.Registry.DeleteManifest(ctx, repo, digest); err != nil {
		return n, err
	}
	if err := s.o.Store.DeleteImage(ctx, repo, digest); err != nil && !errors.Is(err, store.ErrNotFound) {
		return n, err
	}
	return n, nil
}

// Run runs Tick every Interval (the first FirstDelay after start) until ctx
// ends. With Interval 0 it returns at once.
func (s *Service) Run(ctx context.Context) {
	if s.o.Interval <= 0 {
		return
	}
	timer := time.NewTimer(s.o.FirstDelay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if _, _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Error("lifecycle: pass", "err", err)
		}
		timer.Reset(s.o.Interval)
	}
}
