package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stowaway-scanner/stowaway/internal/catalog/all"
	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/server"
	"github.com/stowaway-scanner/stowaway/internal/server/admission"
	"github.com/stowaway-scanner/stowaway/internal/server/notify"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("serve", "serve [--addr HOST:PORT] [--data DIR] [--database postgres://...] [--db DIR]", stderr)
	var (
		cfg       server.Config
		dbDir     string
		accessKey string
		users     multiFlag
		verbose   bool
	)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:5000", "listen address")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "serve HTTPS (TLS 1.2+, HTTP/2) with this certificate (PEM, re-read when it changes; needs --tls-key); see docs/security.md")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&cfg.DataDir, "data", "stowaway-data", "data directory: the SQLite database, the layer cache and (without --storage) the registry's blobs")
	fs.StringVar(&cfg.Storage, "storage", "", "blob storage in S3-compatible object storage: s3://BUCKET[/PREFIX]?region=...&endpoint=http://HOST:PORT&forcepathstyle=true (credentials from the standard AWS environment or credentials file, never the URL; see README \"Object storage\")")
	fs.StringVar(&cfg.StorageConfig, "storage-config", "", "YAML file with distribution's storage section (one driver: s3 or filesystem, its parameters; optionally redirect) instead of --storage")
	fs.StringVar(&cfg.DatabaseURL, "database", "", "postgres://... to share the work between replicas (default: SQLite in the data directory)")
	fs.StringVar(&dbDir, "db", "", "vulnerability DB directory (default $STOWAWAY_DB_DIR, else the user cache dir)")
	fs.StringVar(&accessKey, "access-key", "", "ECR API key as ACCESS_KEY_ID:SECRET (default $STOWAWAY_ACCESS_KEY); it has admin on every repository (quick start; see --auth-config)")
	fs.Var(&users, "user", "registry user as NAME:PASSWORD with admin on every repository; repeatable (default $STOWAWAY_USERS, comma-separated; quick start; see --auth-config)")
	var authConfig string
	var authPoll time.Duration
	fs.StringVar(&authConfig, "auth-config", "", "YAML file of users (bcrypt password hashes, per-repository grants) and access keys (secrets from the environment or a file); re-read on SIGHUP and when it changes; combines with --user and --access-key; see docs/auth.md")
	fs.DurationVar(&authPoll, "auth-config-poll", 5*time.Second, "how often to check the --auth-config file for changes (0 = on SIGHUP only)")
	fs.IntVar(&cfg.Workers, "workers", 2, "scan workers")
	fs.DurationVar(&cfg.JobLease, "job-lease", 2*time.Minute, "how long a scan job stays claimed by a replica without its heartbeat (renewed every third of it while the scan runs): a replica that dies mid-scan has its scans taken over by another after this")
	fs.DurationVar(&cfg.ScanTimeout, "scan-timeout", 10*time.Minute, "deadline of one scan; a scan that exceeds it ends FAILED and is not retried (0 = none)")
	fs.StringVar(&cfg.PublicHost, "public-host", "", "host[:port] clients use, for repository URIs (default: each request's Host)")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "SigV4 region, and the region of ARNs (repositories, images, enhanced findings)")
	fs.StringVar(&cfg.RegistryID, "account-id", server.DefaultAccountID, "12-digit AWS account id: the registryId of responses and the account of ARNs and enhanced findings (awsAccountId)")
	var eventsConfig string
	fs.StringVar(&eventsConfig, "events-config", "", "YAML file of event sinks (webhooks, NATS JetStream) and their rules; see docs/events.md (default: no events)")
	var adm admissionFlags
	adm.register(fs)
	fs.StringVar(&cfg.SBOMFormats, "sbom-formats", "cyclonedx", "SBOM formats stored as OCI referrers of every scanned image: cyclonedx, cyclonedx,spdx or none")
	fs.DurationVar(&cfg.LifecycleInterval, "lifecycle-interval", 24*time.Hour, "period of the lifecycle pass that expires images by their repository's lifecycle policy and collects unreferenced blobs; 0 turns it off (first pass 30s after start)")
	fs.DurationVar(&cfg.GCGrace, "gc-grace", time.Hour, "blob garbage collection never removes blobs younger than this")
	var dbMirror string
	fs.DurationVar(&cfg.Rescan.Poll, "rescan-poll", time.Minute, "how often continuous scanning checks the vulnerability DB for a new build (and image eligibility)")
	fs.DurationVar(&cfg.Rescan.EligibilityWindow, "scan-eligibility-window", 30*24*time.Hour, "CONTINUOUS_SCAN images not pushed or pulled for this long go to SCAN_ELIGIBILITY_EXPIRED; 0 = lifetime")
	fs.DurationVar(&cfg.Rescan.DBUpdateInterval, "db-update-interval", 0, "run 'db update' inside serve this often (0 = never; continuous scanning picks up the new build)")
	fs.StringVar(&dbMirror, "db-mirror", "", "feed mirror directory or URL for --db-update-interval (default: the upstream feeds)")
	fs.DurationVar(&cfg.AuditRetention, "audit-retention", 90*24*time.Hour, "how long audit records (pushes, deletes, configuration changes, denied requests) are kept; see docs/security.md")
	fs.DurationVar(&cfg.UploadPurgeAge, "upload-purge-age", server.DefaultUploadPurgeAge, "interrupted uploads (sessions not completed or cancelled) started longer ago are purged")
	fs.IntVar(&cfg.MaxUploadsPerRepository, "max-uploads-per-repository", server.DefaultMaxUploadsPerRepository, "upload sessions open at once in one repository; one more is refused (429 TOOMANYREQUESTS, LimitExceededException); 0 = no cap")
	fs.IntVar(&cfg.MaxUploadsPerUser, "max-uploads-per-user", server.DefaultMaxUploadsPerUser, "upload sessions one user has open at once through this replica; one more is refused as above; 0 = no cap")
	fs.BoolVar(&cfg.MetricsAuth, "metrics-auth", false, "serve /metrics only to a principal with admin on every repository (default: open)")
	var pprofAddr string
	fs.StringVar(&pprofAddr, "pprof-addr", "", "serve Go's runtime profiles (/debug/pprof/: heap, allocs, CPU) on this separate, unauthenticated address, e.g. 127.0.0.1:6060 (default: off)")
	fs.BoolVar(&verbose, "v", false, "debug logging")
	if _, err := parse(fs, args); err != nil {
		return ExitError, err
	}
	if err := server.ValidAccountID(cfg.RegistryID); err != nil {
		return ExitError, usageError{"--account-id: " + err.Error()}
	}
	if cfg.Storage != "" && cfg.StorageConfig != "" {
		return ExitError, usageError{"--storage and --storage-config: give one"}
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return ExitError, usageError{"--tls-cert and --tls-key go together"}
	}
	if cfg.AuditRetention <= 0 {
		return ExitError, usageError{fmt.Sprintf("--audit-retention %s: want a positive duration", cfg.AuditRetention)}
	}
	if cfg.UploadPurgeAge <= 0 {
		return ExitError, usageError{fmt.Sprintf("--upload-purge-age %s: want a positive duration", cfg.UploadPurgeAge)}
	}
	for _, c := range []struct {
		flag string
		n    *int
	}{{"--max-uploads-per-repository", &cfg.MaxUploadsPerRepository}, {"--max-uploads-per-user", &cfg.MaxUploadsPerUser}} {
		switch {
		case *c.n < 0:
			return ExitError, usageError{fmt.Sprintf("%s %d: want 0 (no cap) or more", c.flag, *c.n)}
		case *c.n == 0:
			*c.n = -1 // server.Config: negative is no cap, 0 the default
		}
	}
	if cfg.JobLease < time.Second {
		return ExitError, usageError{fmt.Sprintf("--job-lease %s: want 1s or more", cfg.JobLease)}
	}
	if cfg.ScanTimeout < 0 {
		return ExitError, usageError{fmt.Sprintf("--scan-timeout %s: want a duration of 0 or more", cfg.ScanTimeout)}
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if accessKey == "" {
		accessKey = os.Getenv("STOWAWAY_ACCESS_KEY")
	}
	if accessKey != "" {
		id, secret, ok := strings.Cut(accessKey, ":")
		if !ok || id == "" || secret == "" {
			return ExitError, usageError{"--access-key: want ACCESS_KEY_ID:SECRET"}
		}
		cfg.AccessKeys = append(cfg.AccessKeys, server.AccessKey{ID: id, Secret: secret, Grants: []server.Grant{adminGrant()}})
	}
	if len(users) == 0 && os.Getenv("STOWAWAY_USERS") != "" {
		users = strings.Split(os.Getenv("STOWAWAY_USERS"), ",")
	}
	for _, u := range users {
		name, pw, ok := strings.Cut(u, ":")
		if !ok || name == "" || pw == "" {
			return ExitError, usageError{"--user: want NAME:PASSWORD"}
		}
		cfg.Users = append(cfg.Users, server.User{Name: name, Password: pw, Grants: []server.Grant{adminGrant()}})
	}
	if authPoll < 0 {
		return ExitError, usageError{fmt.Sprintf("--auth-config-poll %s: want a duration of 0 or more", authPoll)}
	}
	authSrc := authSource{path: authConfig, flagUsers: cfg.Users, flagKeys: cfg.AccessKeys}
	if authConfig != "" {
		u, k, err := authSrc.load()
		if err != nil {
			return ExitError, err
		}
		cfg.Users, cfg.AccessKeys, cfg.RequireAuth = u, k, true
		if cfg.RegistryCredentials, err = server.LoadRegistryCredentials(authConfig); err != nil {
			return ExitError, err
		}
		// Replication destinations: read again on every reload, below.
		if cfg.Replication.Destinations, err = server.LoadReplicationDestinations(authConfig); err != nil {
			return ExitError, err
		}
	}
	if eventsConfig != "" {
		ec, err := notify.Load(eventsConfig)
		if err != nil {
			return ExitError, err
		}
		cfg.Events = ec
	}
	ac, aerr := adm.serverConfig()
	if aerr != nil {
		return ExitError, aerr
	}
	cfg.Admission = ac
	dbDir, err := resolveDBDir(dbDir)
	if err != nil {
		return ExitError, err
	}
	cfg.Metrics = server.NewMetrics()
	cfg.Names = descriptorNames()
	cfg.Rescan.DBDir = dbDir
	if cfg.Admission != nil {
		cfg.Admission.Exploits = currentExploitDB(dbDir, serveDBOptions())
	}
	if cfg.Rescan.EligibilityWindow == 0 {
		cfg.Rescan.EligibilityWindow = rescan.Lifetime
	}
	if cfg.Rescan.DBUpdateInterval > 0 {
		logger := cfg.Logger
		cfg.Rescan.DBUpdate = func(ctx context.Context) error {
			rep, err := updateDB(ctx, dbDir, dbMirror, nil, false, io.Discard, logger)
			if err != nil {
				return err
			}
			return rep.Err()
		}
	}
	if pprofAddr != "" {
		stopPprof, err := startPprof(pprofAddr, cfg.Logger)
		if err != nil {
			return ExitError, err
		}
		defer stopPprof()
	}
	sc := &serverScanner{dbDir: dbDir, dbOpts: serveDBOptions(), cache: indexer.DirCache{Dir: filepath.Join(cfg.DataDir, "layer-cache")}, hit: func(string) { cfg.Metrics.LayerCacheHits.Inc() }}
	srv, err := server.New(ctx, cfg, sc)
	if err != nil {
		return ExitError, err
	}
	defer srv.Close()
	if authConfig != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		wctx, stop := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			watchAuthConfig(wctx, authSrc, authPoll, hup, reloadAuthConfig(srv, authConfig), cfg.Logger)
		}()
		defer func() { stop(); <-watched }()
	}
	if err := srv.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return ExitError, err
	}
	return ExitOK, nil
}

// serveDBOptions are how serve's scans and admission reviews open the
// vulnerability DB: not mapped, so that the pages a scan reads do not sit in
// the server's resident set while it runs (200–300 MiB of the file for an
// image with 1,500 findings; README "Server memory").
func serveDBOptions() vulndb.OpenOptions { return vulndb.OpenOptions{NoMmap: true} }

// serverScanner adapts the scan pipeline to the server: it opens the
// current vulnerability DB for every scan (so a 'db update' is picked up
// without a restart) and serves layers seen before from the layer cache.
type serverScanner struct {
	dbDir  string
	dbOpts vulndb.OpenOptions
	cache  indexer.LayerCache
	hit    func(string)
}

func (s *serverScanner) Scan(ctx context.Context, img v1.Image, digest string, enhanced bool) (*server.ScanResult, error) {
	d, err := vulndb.OpenWith(ctx, s.dbDir, s.dbOpts)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	src := &source.Source{Kind: source.KindRegistry, Ref: digest, Image: img, Digest: digest}
	res, err := scan.Image(ctx, src, &scan.VulnDB{DB: d}, scan.Options{
		Enhanced: enhanced, OS: all.OS(), Language: all.Language(), Cache: s.cache, OnCacheHit: s.hit,
	})
	if err != nil {
		return nil, err
	}
	out, err := toServerResult(*res)
	if err != nil {
		return nil, err
	}
	out.Inventory = res.Inventory
	return out, nil
}

var _ rescan.Matcher = (*serverScanner)(nil)

// currentExploitDB opens the current vulnerability DB in dir for an
// admission review, as serverScanner does for a scan (a `db update` is
// picked up without a restart).
func currentExploitDB(dir string, o vulndb.OpenOptions) admission.OpenExploitDB {
	return func(ctx context.Context) (admission.ExploitDB, func() error, error) {
		d, err := vulndb.OpenWith(ctx, dir, o)
		if err != nil {
			return nil, nil, err
		}
		return exploitDB{&scan.VulnDB{DB: d}}, d.Close, nil
	}
}

// exploitDB adapts the scan pipeline's exploit lookups to admission's.
type exploitDB struct{ db scan.ExploitDB }

func (x exploitDB) HasExploitData(ctx context.Context) (kev, epss bool, err error) {
	d, err := x.db.ExploitData(ctx)
	return d.KEV, d.EPSS, err
}

func (x exploitDB) Exploit(ctx context.Context, cve string) (kev bool, epss float64, err error) {
	e, err := x.db.Exploit(ctx, cve)
	if err != nil {
		return false, -1, err
	}
	epss = -1
	if e.EPSS != nil {
		epss = e.EPSS.Score
	}
	return e.KEV != nil, epss, nil
}

// Pass implements rescan.Matcher: continuous rescans re-match stored
// inventories through the same conversion as scans, with one DB handle and
// a shared lookup cache per pass.
func (s *serverScanner) Pass(db *vulndb.DB) rescan.Pass {
	return rescan.ScanMatcher{}.Pass(db)
}

// toServerResult converts a scan into the ECR findings shape the server
// stores (one conversion, shared with rescans).
func toServerResult(s report.Scan) (*server.ScanResult, error) {
	return report.ScanningResult(s)
}

// adminGrant gives every permission on every repository.
func adminGrant() server.Grant {
	return server.Grant{Repository: "*", Actions: []string{"pull", "push", "admin"}}
}
