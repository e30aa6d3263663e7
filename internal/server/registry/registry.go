// Package registry serves the OCI distribution v1.1 API under /v2/ by
// embedding github.com/distribution/distribution/v3 (over one of its
// storage drivers, storage.go: the filesystem in the data directory, or
// S3-compatible object storage) and wrapping it with what it lacks or what
// Stowaway adds:
//
//   - authentication, and authorization of each request by the IAM action
//     ECR documents for its route (routeAction: manifest GET
//     ecr:BatchGetImage, PUT ecr:PutImage, DELETE ecr:BatchDeleteImage,
//     uploads ecr:InitiateLayerUpload/UploadLayerPart/CompleteLayerUpload,
//     ...; docs/auth.md) through auth.Authorizer; cross-repository mounts
//     need ecr:GetDownloadUrlForLayer on the source or fall back to a plain
//     upload; a refusal is 403 DENIED whether or not the repository exists;
//   - the catalog, served here and not by distribution: only the
//     repositories the caller may describe (pull), paginated;
//   - the referrers API (GET /v2/<name>/referrers/<digest>, artifactType
//     filter, OCI-Filters-Applied), indexed from manifest PUTs that carry a
//     subject, which also get the OCI-Subject response header;
//   - push hooks: a successful manifest PUT records the image (repository,
//     digest, tag, media types, size, push time) in the store before the
//     client sees 201, in one transaction with the work PreparePush
//     returned (the replication outbox rows, the scan job), then calls
//     OnPush; DELETEs are mirrored in the store;
//   - immutable tags (ECR imageTagMutability, with its exclusion filters:
//     store.Repository.TagIsImmutable) enforced before the PUT;
//   - a 4 MiB manifest body limit;
//   - upload hygiene (uploads.go): sessions open at once capped per
//     repository and per user (429 TOOMANYREQUESTS), interrupted ones
//     purged after Options.Uploads.PurgeAge, both counted in /metrics;
//   - an audit record (internal/server/audit) for every push (a tag move
//     names the digest it left), every DELETE and every denied request,
//     authentication failures included; a caller the throttle blocks gets
//     429 TOOMANYREQUESTS with Retry-After;
//   - error bodies without server detail (errors.go): distribution's
//     "detail" is dropped and a 5xx is UNKNOWN naming the request id; an
//     invalid repository name is 400 NAME_INVALID on every route, and a
//     tags/list or _catalog "last" that is not a tag or name is a 400;
//   - the pull-through cache (pullthrough.go): a manifest GET or HEAD of a
//     repository under a pull-through cache rule's prefix fetches what the
//     cache lacks from the upstream, verified and bounded, and stores it
//     through the push path (PULL_THROUGH_CACHE creation template, scan on
//     push); a tag is re-checked upstream at most once per 24 h;
//   - SBOM authority: manifest annotations under dev.stowaway. are the
//     server's own (its SBOM referrers); a client push carrying one is
//     refused (400 MANIFEST_INVALID, logged with the principal), and every
//     /v2/ response says so with Stowaway-SBOM-Authority: enforced, so a
//     client may trust a Stowaway SBOM this registry lists (reserved.go).
//
// Repositories are created on first push, with the settings of the
// CREATE_ON_PUSH repository creation template matching the name. The
// package also gives the server read access to stored images as
// go-containerregistry v1.Images, the deletions ECR's API needs, and its
// image and layer operations (ecr.go): manifest reads, in-process manifest
// PUTs through the same hooks as a client's, blob stats and reads, and
// upload sessions.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/metrics"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// ServerPrincipal names the server itself in the audit trail (the SBOM
// referrers it pushes, the lifecycle pass's expirations).
const ServerPrincipal = "stowaway"

// MaxManifestSize bounds a manifest PUT body.
const MaxManifestSize = 4 << 20

// Store is what the registry records pushes in.
type Store interface {
	// EnsureRepositoryFromTemplate creates a pushed-to repository, with the
	// settings of its CREATE_ON_PUSH creation template.
	EnsureRepositoryFromTemplate(ctx context.Context, r store.Repository, purpose string) (bool, error)
	GetRepository(ctx context.Context, name string) (store.Repository, error)
	PutImage(ctx context.Context, img store.Image, tag string, inTx ...store.PushFunc) (bool, error)
	ResolveTag(ctx context.Context, repo, tag string) (string, error)
	DeleteImage(ctx context.Context, repo, digest string) error
	DeleteTag(ctx context.Context, repo, tag string) error
	PutReferrer(ctx context.Context, r store.Referrer) error
	ListReferrers(ctx context.Context, repo, subject, artifactType string) ([]store.Referrer, error)
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
	// RecordBlobRefs, BlobRefsSince and PruneBlobRefs are the shared
	// table of recent blob references that fences garbage collection
	// against manifest PUTs on every replica (gc.go).
	RecordBlobRefs(ctx context.Context, digests []string, at time.Time) error
	BlobRefsSince(ctx context.Context, digests []string, since time.Time) (map[string]bool, error)
	PruneBlobRefs(ctx context.Context, before time.Time) (int64, error)
}

// Options configures a Registry.
type Options struct {
	// Dir is the blob storage root on the local filesystem, used when
	// Storage names no driver.
	Dir string
	// Storage is the blob storage (zero: the filesystem under Dir).
	Storage Storage
	Store   Store
	Auth    *auth.Authenticator
	// Authz decides each request by its IAM action (nil: the grants
	// alone).
	Authz *auth.Authorizer
	// PreparePush, when set, runs before a manifest PUT is recorded,
	// outside any transaction (it may read the store), and returns the
	// work to run inside the transaction that records the image (nil:
	// none). An error from either fails the PUT (500) and records nothing.
	PreparePush func(ctx context.Context, img store.Image) (store.PushFunc, error)
	// OnPush runs after a manifest PUT was stored and recorded; created is
	// true the first time this digest is seen in the repository. It runs
	// before the client gets its response; errors are logged by OnPush.
	OnPush func(ctx context.Context, img store.Image, created bool)
	// OnPull, when set, runs after a successful manifest GET (by tag or
	// digest) with the manifest's digest: a pull, for scan eligibility.
	OnPull func(ctx context.Context, repo, digest string)
	// Audit records pushes, tag moves, deletes and denied requests (nil:
	// none).
	Audit *audit.Trail
	// Uploads bounds upload sessions: the purge age and the caps per
	// repository and per user (uploads.go).
	Uploads UploadLimits
	// Leases and Holder make the upload purge a singleton across replicas
	// (nil Leases: every replica purges).
	Leases Leaser
	Holder string
	// Metrics counts purged and refused uploads (nil: a private set).
	Metrics *metrics.Metrics
	// PullThrough configures the pull-through cache (pullthrough.go;
	// PullThrough.Store nil: none).
	PullThrough PullThrough
	Now         func() time.Time
	Logger      *slog.Logger
	// gcHook, when set, runs at each stage of a collection (gcStage*) and
	// stops it with its error: tests interleave PUTs of another replica
	// there, or simulate a crash.
	gcHook func(ctx context.Context, stage string) error
}

// Registry is the wrapped distribution registry.
type Registry struct {
	opts   Options
	app    *handlers.App
	driver storagedriver.StorageDriver
	ns     distribution.Namespace
	gc     gcState
	// limits are opts.Uploads with defaults; uploads tracks this
	// replica's sessions for the per-user cap.
	limits  UploadLimits
	uploads *uploadTracker
	// objectStore: the driver is S3's (uploads.go aborts the multipart
	// uploads of purged sessions).
	objectStore bool
	// fsRoot is the filesystem driver's root directory ("" on an object
	// store), for removing the empty directories a sweep leaves (gc.go).
	fsRoot string
	// pt is the pull-through cache (nil: none).
	pt *pullThrough
	// ready caches the storage probe of CheckStorage (ready.go).
	ready readyState
}

// New builds the registry. The HTTP upload secret comes from the store, so
// replicas sharing a database and a blob store can resume each other's
// uploads.
func New(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	secret, err := opts.Store.Secret(ctx, "registry-http", func() ([]byte, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		return []byte(hex.EncodeToString(b)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry: http secret: %w", err)
	}
	st := opts.Storage
	if st.Driver == "" {
		if opts.Dir == "" {
			return nil, errors.New("registry: no storage: want a directory or a driver")
		}
		root, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("registry: storage dir: %w", err)
		}
		st = Storage{Driver: "filesystem", Params: map[string]any{"rootdirectory": root}}
	}
	drv, err := openDriver(ctx, st)
	if err != nil {
		return nil, err
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			storageDrivers[st.Driver]: configuration.Parameters(st.Params),
			"delete":                  configuration.Parameters{"enabled": true},
			// Interrupted uploads are purged by RunUploadPurge, after
			// Options.Uploads.PurgeAge, not by distribution's purger (168 h,
			// started after up to an hour of jitter, on every replica).
			"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
			// Blobs stream through serve (and its authorization) unless
			// the storage asks for redirects to the object store.
			"redirect": configuration.Parameters{"disable": !st.Redirect},
		},
	}
	cfg.HTTP.Secret = string(secret)
	// Non-distributable layers may point at external http(s) URLs (the
	// distribution spec says registries should accept such manifests).
	cfg.Validation.Manifests.URLs.Allow = []string{"^https?://"}
	cfg.Log.AccessLog.Disabled = true
	routeLibraryLogs(opts.Logger)
	app, err := newApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ns, err := storage.NewRegistry(ctx, drv, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("registry: storage: %w", err)
	}
	reg := &Registry{opts: opts, app: app, driver: drv, ns: ns, limits: opts.Uploads.withDefaults(), uploads: newUploadTracker(), objectStore: st.IsObjectStore()}
	if root, ok := st.Params["rootdirectory"].(string); ok && !st.IsObjectStore() {
		reg.fsRoot = root
	}
	if opts.PullThrough.Store != nil {
		reg.pt = newPullThrough(opts.PullThrough)
	}
	return reg, nil
}

// newApp calls handlers.NewApp, which panics on bad configuration.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("registry: distribution: %v", r)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// Shutdown stops distribution's background work.
func (r *Registry) Shutdown() error { return r.app.Shutdown() }
