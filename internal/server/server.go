package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/admission"
	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/console"
	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
	"github.com/stowaway-scanner/stowaway/internal/server/jobs"
	"github.com/stowaway-scanner/stowaway/internal/server/lifecycle"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/server/policyeval"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/replication"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/tlsconf"
)

// Server is a running scanning registry.
type Server struct {
	cfg     Config
	store   *store.SQL
	reg     *registry.Registry
	api     *ecrapi.API
	pool    *jobs.Pool
	auth    *auth.Authenticator
	authz   *auth.Authorizer
	handler http.Handler
	close   sync.Once
	// notifier is nil unless Config.Events is set.
	notifier *notify.Notifier
	// lifecycle runs lifecycle policy previews and passes.
	lifecycle *lifecycle.Service
	// console is the web console.
	console http.Handler
	// rescanner is nil unless Config.Rescan.DBDir is set; pulls records
	// pulls for scan eligibility.
	rescanner *rescan.Rescanner
	pulls     *rescan.PullRecorder
	// admission is the admission webhook (nil unless Config.Admission).
	admission *admission.Policy
	// policies evaluates the stored repository and registry policies.
	policies *policyeval.Evaluator
	// tls serves the main listener over TLS (nil: plain HTTP).
	tls *tls.Config
	// audit is the audit trail.
	audit *audit.Trail
	// creds are the registry credentials (pull-through cache upstreams).
	creds *auth.CredentialSet
	// replicator replicates pushes to the configured destinations.
	replicator *replication.Replicator
}

// New opens the store and blob storage and wires the server. Call Run, or
// use Handler and call Close when done.
func New(ctx context.Context, cfg Config, scanner Scanner) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: a data directory is required")
	}
	if scanner == nil {
		return nil, errors.New("server: a scanner is required")
	}
	setDefaults(&cfg)
	if err := ValidAccountID(cfg.RegistryID); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	st, err := store.Open(ctx, cfg.DataDir, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{cfg: cfg, store: st}
	if err := s.wire(ctx, scanner); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func setDefaults(cfg *Config) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:5000"
	}
	if cfg.RegistryID == "" {
		cfg.RegistryID = DefaultAccountID
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.APITimeout <= 0 {
		cfg.APITimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.InstanceID == "" {
		h, _ := os.Hostname()
		cfg.InstanceID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
}

func (s *Server) wire(ctx context.Context, scanner Scanner) error {
	cfg := s.cfg
	secret, err := s.store.Secret(ctx, "ecr-token", randomHex)
	if err != nil {
		return fmt.Errorf("server: token secret: %w", err)
	}
	newAuth := auth.New
	if cfg.RequireAuth {
		newAuth = auth.NewRequired
	}
	s.auth, err = newAuth(cfg.Users, cfg.AccessKeys, secret, cfg.Now)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if !s.auth.Enabled() {
		cfg.Logger.Warn("server: no users or access keys configured; authentication is OFF and every caller is an admin")
	}
	// The stored repository and registry policies take part in every
	// authorization decision; Config.PolicyEvaluator replaces them (tests).
	s.policies = policyeval.New(policyeval.Options{Source: s.store, Account: cfg.RegistryID, Region: cfg.Region, Now: cfg.Now})
	var policies auth.PolicyEvaluator = s.policies
	if cfg.PolicyEvaluator != nil {
		policies = cfg.PolicyEvaluator
	}
	s.authz = auth.NewAuthorizer(cfg.RegistryID, policies)
	s.audit, err = audit.New(audit.Options{
		Store: s.store, Leases: s.store, Holder: cfg.InstanceID, Retention: cfg.AuditRetention,
		Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	blobs, err := blobStorage(cfg)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if blobs.IsObjectStore() {
		cfg.Logger.Info("server: blob storage", "storage", blobs.String())
	}
	s.creds = auth.NewCredentialSet(cfg.RegistryCredentials)
	s.reg, err = registry.New(ctx, registry.Options{
		Dir:         filepath.Join(cfg.DataDir, "registry"),
		Storage:     blobs,
		Store:       s.store,
		Auth:        s.auth,
		Authz:       s.authz,
		PreparePush: s.preparePush,
		OnPush:      s.onPush,
		OnPull:      s.onPull,
		Audit:       s.audit,
		Uploads: registry.UploadLimits{
			PerRepository: cfg.MaxUploadsPerRepository, PerUser: cfg.MaxUploadsPerUser, PurgeAge: cfg.UploadPurgeAge,
		},
		Leases:  s.store,
		Holder:  cfg.InstanceID,
		Metrics: cfg.Metrics,
		PullThrough: registry.PullThrough{
			Store: s.store, Credentials: s.creds, Recheck: cfg.PullThroughRecheck, Transport: cfg.PullThroughTransport,
		},
		Now:    cfg.Now,
		Logger: cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	rc := cfg.Replication
	s.replicator, err = replication.New(ctx, replication.Options{
		DB: s.store.DB(), Dialect: s.store.Dialect(), Store: s.store, Source: s.reg,
		Self:         replication.Destination{Region: cfg.Region, RegistryID: cfg.RegistryID},
		Destinations: rc.Destinations, Transport: rc.Transport,
		Poll: rc.Poll, Lease: rc.Lease, MaxAttempts: rc.MaxAttempts, BackoffBase: rc.BackoffBase, BackoffMax: rc.BackoffMax,
		Registerer: cfg.Metrics.Registerer(), Now: cfg.Now, Logger: cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	sbomFormats, err := sbomref.ParseFormats(cfg.SBOMFormats)
	if err != nil {
		return fmt.Errorf("server: --sbom-formats: %w", err)
	}
	var after []jobs.AfterFunc
	if len(sbomFormats) > 0 {
		sbw, err := sbomref.New(sbomref.Options{Formats: sbomFormats, Registry: s.reg, Referrers: s.store, Now: cfg.Now, Logger: cfg.Logger, Names: cfg.Names})
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		after = append(after, sbw.After)
	}
	var prepare []jobs.PrepareFunc
	if cfg.Events != nil {
		s.notifier, err = notify.New(ctx, *cfg.Events, notify.Options{
			DB: s.store.DB(), Dialect: s.store.Dialect(), Account: cfg.RegistryID, Region: cfg.Region,
			Logger: cfg.Logger, Registerer: cfg.Metrics.Registerer(), Now: cfg.Now,
		})
		if err != nil {
			return fmt.Errorf("server: %w", err)
		}
		prepare = append(prepare, s.notifier.Prepare)
	}
	s.pulls = &rescan.PullRecorder{Store: s.store, Throttle: time.Minute, Now: cfg.Now, Logger: cfg.Logger}
	if err := s.wireRescan(s.store, scanner, &prepare); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.pool = jobs.New(jobs.Options{
		Queue:       s.store,
		Images:      s.reg,
		Scanner:     scanner,
		ErrNotImage: registry.ErrNotImage,
		After:       after,
		Prepare:     prepare,
		WorkerID:    cfg.InstanceID,
		Workers:     cfg.Workers,
		Lease:       cfg.JobLease,
		MaxAttempts: cfg.MaxAttempts,
		ScanTimeout: cfg.ScanTimeout,
		// In-flight scans get most of the shutdown budget, then are
		// requeued before Serve stops waiting.
		ShutdownGrace: cfg.ShutdownTimeout * 2 / 3,
		Now:           cfg.Now,
		Logger:        cfg.Logger,
		BasicScanTypeVersion: func(ctx context.Context) (string, error) {
			return ecrapi.BasicScanTypeVersion(ctx, s.store)
		},
		Observe: func(status string, d time.Duration) {
			cfg.Metrics.ScansTotal.WithLabelValues(status).Inc()
			cfg.Metrics.ScanDuration.Observe(d.Seconds())
		},
	})
	s.lifecycle = lifecycle.New(lifecycle.Options{
		Store: s.store, Registry: s.reg, Interval: cfg.LifecycleInterval, GCGrace: cfg.GCGrace,
		Holder: cfg.InstanceID, Audit: s.audit, Now: cfg.Now, Logger: cfg.Logger,
	})
	layerSecret, err := s.store.Secret(ctx, "ecr-layer-url", randomHex)
	if err != nil {
		return fmt.Errorf("server: layer URL secret: %w", err)
	}
	s.api = ecrapi.New(ecrapi.Options{
		Store:      s.store,
		Registry:   s.reg,
		Auth:       s.auth,
		Authz:      s.authz,
		RegistryID: cfg.RegistryID,
		Region:     cfg.Region,
		PublicHost: cfg.PublicHost,
		Now:        cfg.Now,
		Notify:     s.pool.Notify,
		Logger:     cfg.Logger,

		LifecycleStore: s.store,
		Lifecycle:      s.lifecycle,

		Images:         s.reg,
		Referrers:      s.store,
		LayerURLSecret: layerSecret,
		OnPull:         s.onPull,

		RepoConfig: s.store,

		Policies:      s.store,
		PolicyChanged: s.policies.Invalidate,
		Audit:         s.audit,

		PullThrough:        s.store,
		Upstreams:          s.reg,
		Credentials:        s.creds,
		PullThroughChanged: s.reg.InvalidatePullThroughRules,
		Replication:        s.replicator,
	})
	if err := cfg.Metrics.RegisterQueueDepth(func() float64 {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.store.QueueDepth(c)
		if err != nil {
			return -1
		}
		return float64(n)
	}); err != nil {
		return fmt.Errorf("server: metrics: %w", err)
	}
	s.console, err = console.New(console.Options{Store: s.store, Auth: s.auth, Authz: s.authz, Audit: s.audit, Now: cfg.Now, Logger: cfg.Logger, Names: cfg.Names})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := s.wireAdmission(); err != nil {
		return err
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return errors.New("server: TLS needs both a certificate and a key (--tls-cert, --tls-key)")
	}
	if cfg.TLSCertFile != "" {
		if s.tls, err = tlsconf.Server(cfg.TLSCertFile, cfg.TLSKeyFile, ""); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	s.handler = s.routes()
	return nil
}

// ReplacePrincipals swaps in a new set of users and access keys (a reloaded
// --auth-config) at once; on an error the old set stays. Requests in
// flight keep the principal they authenticated as.
func (s *Server) ReplacePrincipals(users []User, keys []AccessKey) error {
	if err := s.auth.Replace(users, keys); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// ReplaceRegistryCredentials swaps in a reloaded set of registry
// credentials (--auth-config's registry_credentials) at once.
func (s *Server) ReplaceRegistryCredentials(creds []auth.RegistryCredential) {
	s.creds.Replace(creds)
}

// ReplaceReplicationDestinations swaps in a reloaded set of replication
// destinations (--auth-config's replication section) at once; on an error
// the old set stays. The stored rules keep naming what they named: rows
// for a destination no longer configured wait and are retried.
func (s *Server) ReplaceReplicationDestinations(dsts []ReplicationDestination) error {
	if err := s.replicator.ReplaceDestinations(dsts); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// preparePush is the registry's PreparePush: it reads the replication
// rules and the repository's effective scanning before the push's
// transaction (a SQLite store has one connection), and returns the writes
// that go in it: the replication outbox rows of the destinations the rules
// name, and a scan job when the image is new and scanning says so. A push
// is recorded with them or not at all. A scanning configuration that
// cannot be read skips the scan (logged), as the push matters more.
func (s *Server) preparePush(ctx context.Context, img store.Image) (store.PushFunc, error) {
	enqueue, err := s.replicator.Prepare(ctx, img.Repository, img.Digest)
	if err != nil {
		return nil, fmt.Errorf("server: replicate on push: %w", err)
	}
	scan, enhanced := s.scanOnPush(ctx, img)
	if enqueue == nil && !scan {
		return nil, nil
	}
	now := s.cfg.Now().UTC()
	return func(ctx context.Context, tx *store.Tx, created bool) error {
		if enqueue != nil {
			if err := enqueue(ctx, tx); err != nil {
				return fmt.Errorf("server: replicate on push: %w", err)
			}
		}
		if !scan || !created {
			return nil
		}
		err := tx.StartScan(ctx, img.Repository, img.Digest, enhanced, now, ecrapi.ScanInterval)
		if err != nil && !errors.Is(err, store.ErrRateLimited) {
			return fmt.Errorf("server: scan on push: %w", err)
		}
		return nil
	}, nil
}

// scanOnPush says whether the repository's effective scanning scans img
// when it is pushed, and whether with enhanced scanning. Errors are logged
// and scan nothing.
func (s *Server) scanOnPush(ctx context.Context, img store.Image) (scan, enhanced bool) {
	if !scanning.IsImageConfig(img.ArtifactMediaType) {
		return false, false
	}
	log := s.cfg.Logger.With("repository", img.Repository, "digest", img.Digest)
	raw, err := s.store.GetScanningConfig(ctx)
	if err != nil {
		log.Error("server: scan on push: read configuration", "err", err)
		return false, false
	}
	cfg, err := scanning.DecodeConfig(raw)
	if err != nil {
		log.Error("server: scan on push", "err", err)
		return false, false
	}
	repo, err := s.store.GetRepository(ctx, img.Repository)
	if err != nil {
		log.Error("server: scan on push: read repository", "err", err)
		return false, false
	}
	eff := cfg.Evaluate(repo.Name, repo.ScanOnPush)
	return eff.ScanOnPush, eff.Enhanced
}

// onPush runs after a push was recorded (with its outbox rows and scan
// job, preparePush): it wakes the scan workers for a new image.
func (s *Server) onPush(_ context.Context, _ store.Image, created bool) {
	if created {
		s.pool.Notify()
	}
}

// PolicyEvaluator answers authorization questions from the stored
// repository and registry policies (auth's PolicyEvaluator).
func (s *Server) PolicyEvaluator() *policyeval.Evaluator { return s.policies }

// Handler serves the registry (/v2/), the ECR API (POST / with
// X-Amz-Target), /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on Config.Addr and serves until ctx ends, then shuts down
// gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (as Run) and closes the server when done.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	stopAdmission, aerr := s.startAdmission()
	if aerr != nil {
		return aerr
	}
	defer stopAdmission()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	poolDone := make(chan struct{})
	go func() {
		defer close(poolDone)
		_ = s.pool.Run(workCtx)
	}()
	lifecycleDone := make(chan struct{})
	go func() {
		defer close(lifecycleDone)
		s.lifecycle.Run(workCtx)
	}()
	rescanDone := make(chan struct{})
	go func() {
		defer close(rescanDone)
		s.runRescan(workCtx)
	}()
	auditDone := make(chan struct{})
	go func() {
		defer close(auditDone)
		s.audit.Run(workCtx)
	}()
	purgeDone := make(chan struct{})
	go func() {
		defer close(purgeDone)
		s.reg.RunUploadPurge(workCtx)
	}()
	replicationDone := make(chan struct{})
	go func() {
		defer close(replicationDone)
		_ = s.replicator.Run(workCtx)
	}()
	eventsDone := make(chan struct{})
	go func() {
		defer close(eventsDone)
		if s.notifier != nil {
			_ = s.notifier.Run(workCtx)
		}
	}()
	serveErr := make(chan error, 1)
	if s.tls != nil {
		// ServeTLS with empty file names serves tls's GetCertificate
		// (re-read on change) and answers ALPN "h2" with net/http's HTTP/2.
		srv.TLSConfig = s.tls
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	s.cfg.Logger.Info("server: listening", "addr", ln.Addr().String(), "tls", s.tls != nil)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("server: serve: %w", err)
	}
	s.cfg.Logger.Info("server: shutting down")
	// Stop claiming work while HTTP drains; in-flight scans get
	// ShutdownGrace, then are requeued. The store stays open until the pool
	// has handed its jobs back.
	stopWork()
	shCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shCtx); serr != nil {
		s.cfg.Logger.Warn("server: http shutdown", "err", serr)
	}
	select {
	case <-poolDone:
	case <-time.After(s.cfg.ShutdownTimeout + 10*time.Second):
		s.cfg.Logger.Warn("server: workers did not stop in time")
	}
	// The dispatcher stops at once: a delivery cut short stays leased in
	// the outbox and is retried after the lease.
	<-eventsDone
	<-replicationDone
	<-lifecycleDone
	<-rescanDone
	<-auditDone
	<-purgeDone
	return err
}

// Close releases the store and the registry. Serve calls it.
func (s *Server) Close() error {
	var err error
	s.close.Do(func() {
		if s.notifier != nil {
			s.notifier.Close()
		}
		if s.reg != nil {
			err = errors.Join(err, s.reg.Shutdown())
		}
		err = errors.Join(err, s.store.Close())
	})
	return err
}

// blobStorage is the registry's storage: Config.Storage or
// Config.StorageConfig, else the filesystem under DataDir/registry.
func blobStorage(cfg Config) (registry.Storage, error) {
	switch {
	case cfg.Storage != "" && cfg.StorageConfig != "":
		return registry.Storage{}, errors.New("--storage and --storage-config: give one")
	case cfg.Storage != "":
		return registry.ParseStorageURL(cfg.Storage, os.Getenv)
	case cfg.StorageConfig != "":
		return registry.LoadStorageConfig(cfg.StorageConfig)
	}
	return registry.Storage{}, nil
}
