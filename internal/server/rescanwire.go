package server

import (
	"context"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/jobs"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RescanConfig configures continuous rescanning (package rescan).
type RescanConfig struct {
	// DBDir is the vulnerability DB directory the rescanner watches; ""
	// turns rescanning off. The Scanner must implement rescan.Matcher.
	DBDir string
	// Poll is how often the DB build id and eligibility are checked
	// (default 1m).
	Poll time.Duration
	// EligibilityWindow: CONTINUOUS_SCAN images not pushed or pulled for
	// this long go to SCAN_ELIGIBILITY_EXPIRED (default 720h; negative =
	// lifetime).
	EligibilityWindow time.Duration
	// DBUpdate, when set, runs every DBUpdateInterval (a scheduled
	// `db update`).
	DBUpdate         func(ctx context.Context) error
	DBUpdateInterval time.Duration
}

// wireRescan adds the inventory and finding-history recorder to the job
// hooks, the pull recorder, and (when configured) the rescanner.
func (s *Server) wireRescan(sq *store.SQL, scanner Scanner, prepare *[]jobs.PrepareFunc) error {
	codec, err := rescan.NewCodec()
	if err != nil {
		return err
	}
	rec := &rescan.Recorder{Store: sq, Codec: codec}
	*prepare = append(*prepare, rec.Prepare)
	rc := s.cfg.Rescan
	m, ok := scanner.(rescan.Matcher)
	if rc.DBDir == "" || !ok {
		return nil
	}
	var ann rescan.Announcer
	if s.notifier != nil {
		ann = s.notifier
	}
	met, err := rescan.NewMetrics(s.cfg.Metrics.Registerer())
	if err != nil {
		return err
	}
	s.rescanner, err = rescan.New(rescan.Options{
		Store: sq, Matcher: m, DBDir: rc.DBDir, Announcer: ann,
		Window: rc.EligibilityWindow, Poll: rc.Poll,
		Update: rc.DBUpdate, UpdateInterval: rc.DBUpdateInterval,
		Holder: s.cfg.InstanceID, Now: s.cfg.Now, Logger: s.cfg.Logger,
		Observe: met.Observe,
	})
	return err
}

// onPull records a pull for scan eligibility.
func (s *Server) onPull(ctx context.Context, repo, digest string) {
	s.pulls.Pulled(ctx, repo, digest)
}

func (s *Server) runRescan(ctx context.Context) {
	if s.rescanner != nil {
		_ = s.rescanner.Run(ctx)
	}
}
