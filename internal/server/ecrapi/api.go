// Package ecrapi serves the Amazon ECR control-plane API (AWS JSON 1.1:
// POST / with X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Action>),
// so `aws ecr --endpoint-url ...` works unchanged.
//
// Every request is verified with SigV4 against the configured access keys
// (service "ecr", the configured region, 5 minutes of clock skew) unless the
// server runs without any credentials. Errors are HTTP 400 (500 for
// ServerException) with {"__type", "message"}. Timestamps are epoch seconds
// (scanning.Epoch). Every response carries an x-amzn-RequestId (a UUID),
// logged with the call.
//
// Every ECR operation answers: those not implemented with an ECR error
// that says what is missing and where it is tracked (operations.go,
// docs/ecr-api.md); UnknownOperationException is for targets that are no
// ECR operation.
//
// Authentication failures are throttled per (access key id, source
// address) by auth.Authenticator.Guard: while blocked a caller gets
// ThrottlingException, even with the right secret. Failures, denials (need)
// and every successful state-changing operation (audit.go) are audit
// records.
//
// Permissions: every operation Foo needs the IAM action ecr:Foo on its
// repository ("" for registry-wide ones), decided by Options.Authz from the
// grants and policies (auth.Level: reading actions are in pull, image and
// layer writes and StartImageScan in push, the rest in admin; registry-wide
// ones need a "*" grant). A refusal is AccessDeniedException whether or not
// the repository exists. DescribeRepositories without names lists only the
// repositories the caller may describe (pull); docs/auth.md.
//
// The image and layer operations (Options.Images, Options.Referrers) act on
// the registry's storage: PutImage is an in-process manifest PUT through the
// registry (so push hooks and scan on push apply, and a retag starts no
// scan), layer uploads are the registry's upload sessions, and
// GetDownloadUrlForLayer hands out URLs signed with LayerURLSecret that
// LayerHandler serves without other credentials (docs/ecr-images.md).
// PutImage and UploadLayerPart have their own body limits (a 4 MiB manifest,
// a 20 MiB part), with at most a few such bodies in flight.
//
// Repository and registry settings (resource tags, tag mutability with
// exclusion filters, account settings, DescribeRegistry, repository
// creation templates) are in repoconfig.go; docs/ecr-repository-settings.md
// says what each means here. Repository policies and the registry policy
// are in policies.go (docs/ecr-policies.md). Pull-through cache rules are
// in pullthrough.go (the registry serves the pulls).
//
// Policy choices beyond ECR's documentation: pushing creates the repository
// if needed; StartImageScan under ENHANCED is allowed only for repositories a
// rule covers (ValidationException otherwise); deleting an image's last tag
// deletes the image, as in ECR.
package ecrapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// TargetPrefix prefixes X-Amz-Target.
const TargetPrefix = "AmazonEC2ContainerRegistry_V20150921."

// MaxBodySize bounds an API request body.
const MaxBodySize = 1 << 20

// ScanInterval is the minimum time between two scans of one image.
const ScanInterval = 24 * time.Hour

// Store is the state the API reads and writes.
type Store interface {
	CreateRepository(ctx context.Context, r store.Repository) error
	GetRepository(ctx context.Context, name string) (store.Repository, error)
	ListRepositories(ctx context.Context) ([]store.Repository, error)
	UpdateRepository(ctx context.Context, r store.Repository) error
	DeleteRepository(ctx context.Context, name string) error
	GetImage(ctx context.Context, repo, digest string) (store.Image, error)
	ResolveTag(ctx context.Context, repo, tag string) (string, error)
	ListImages(ctx context.Context, repo string) ([]store.Image, error)
	DeleteImage(ctx context.Context, repo, digest string) error
	DeleteTag(ctx context.Context, repo, tag string) error
	ScanFindingsPage(ctx context.Context, repo, digest string, start, limit int) (store.FindingsPage, error)
	StartScan(ctx context.Context, repo, digest string, enhanced bool, now time.Time, minInterval time.Duration) error
	GetScanningConfig(ctx context.Context) (json.RawMessage, error)
	PutScanningConfig(ctx context.Context, cfg json.RawMessage) error

	// DescribeImages' pull time and referrer facts (imagedetail.go).
	LastPull(ctx context.Context, repo, digest string) (time.Time, error)
	ReferrerOf(ctx context.Context, repo, digest string) (store.Referrer, error)
}

// Registry performs deletions in blob storage.
type Registry interface {
	DeleteManifest(ctx context.Context, repo, digest string) error
	// DeleteReferrers deletes the referrer artifacts (SBOMs, signatures)
	// of a deleted image.
	DeleteReferrers(ctx context.Context, repo, digest string) (int, error)
	Untag(ctx context.Context, repo, tag string) error
	DeleteRepository(ctx context.Context, repo string) error
}

// Options configures the API.
type Options struct {
	Store    Store
	Registry Registry
	Auth     *auth.Authenticator
	// Authz authorizes each operation by its IAM action, ecr:<Operation>
	// (nil: the grants alone).
	Authz *auth.Authorizer
	// RegistryID is the 12-digit account id used in ARNs and responses.
	RegistryID string
	Region     string
	// PublicHost is the registry host[:port] in repository URIs and the
	// authorization token's proxy endpoint; "" uses the request's Host.
	PublicHost string
	// TokenTTL is the authorization token lifetime (default 12h).
	TokenTTL time.Duration
	Now      func() time.Time
	// Notify is called after a scan is enqueued.
	Notify func()
	Logger *slog.Logger
	// LifecycleStore and Lifecycle serve the lifecycle policy actions; nil
	// answers them with ValidationException (not enabled).
	LifecycleStore LifecycleStore
	Lifecycle      LifecyclePreviewer

	// Image and layer operations (imageops.go, layers.go, referrers.go).
	// Images and Referrers serve them; nil answers them with
	// UnknownOperationException.
	Images    ImageStorage
	Referrers ReferrerLister
	// LayerURLSecret signs GetDownloadUrlForLayer's URLs (shared by
	// replicas); empty leaves GetDownloadUrlForLayer unsupported.
	LayerURLSecret []byte
	// OnPull, when set, runs after BatchGetImage returned an image: a pull,
	// as the registry's manifest GET reports one.
	OnPull func(ctx context.Context, repo, digest string)

	// RepoConfig serves the repository and registry settings (resource
	// tags, account settings, creation templates, repoconfig.go); nil
	// answers those operations with an ECR error saying they are not
	// enabled.
	RepoConfig RepoConfigStore

	// Policies serves the repository and registry policy operations
	// (policies.go); nil answers them with an ECR error saying they are
	// not enabled. PolicyChanged, when set, runs after a policy was
	// written or deleted (repo "" for the registry policy), so this
	// replica's evaluator stops using its cached copy at once.
	Policies      PolicyStore
	PolicyChanged func(repo string)
	// Audit records state changes and denied calls (nil: none).
	Audit *audit.Trail

	// PullThrough serves the pull-through cache rule operations
	// (pullthrough.go); nil answers them with ValidationException (not
	// enabled). Upstreams validates a rule against its upstream,
	// Credentials resolves credentialArns, and PullThroughChanged, when
	// set, runs after a rule was created, updated or deleted (so this
	// replica's registry reads the rules again at once).
	PullThrough        PullThroughStore
	Upstreams          Upstreams
	Credentials        CredentialLookup
	PullThroughChanged func()
	// Replication serves PutReplicationConfiguration and
	// DescribeImageReplicationStatus (replication.go); nil answers them
	// with ValidationException (not enabled) and DescribeRegistry with no
	// rules.
	Replication Replication
}

// API is the ECR API handler.
type API struct {
	o       Options
	actions map[string]action
	// bodyLimits overrides MaxBodySize per operation; large holds a slot
	// per request reading or processing such a body.
	bodyLimits map[string]int64
	large      chan struct{}
	// unavailable answers the ECR operations not in actions
	// (operations.go).
	unavailable map[string]unavailableOp
}

type call struct {
	r    *http.Request
	op   string // the operation, "PutImage"
	body []byte
	p    *auth.Principal
}

type action func(ctx context.Context, c *call) (any, error)

// New builds the API handler.
func New(o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Notify == nil {
		o.Notify = func() {}
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 12 * time.Hour
	}
	a := &API{o: o, unavailable: unavailableOps()}
	a.actions = map[string]action{
		"CreateRepository":                        a.createRepository,
		"DescribeRepositories":                    a.describeRepositories,
		"DeleteRepository":                        a.deleteRepository,
		"DescribeImages":                          a.describeImages,
		"ListImages":                              a.listImages,
		"BatchDeleteImage":                        a.batchDeleteImage,
		"PutImageScanningConfiguration":           a.putImageScanningConfiguration,
		"PutRegistryScanningConfiguration":        a.putRegistryScanningConfiguration,
		"GetRegistryScanningConfiguration":        a.getRegistryScanningConfiguration,
		"BatchGetRepositoryScanningConfiguration": a.batchGetRepositoryScanningConfiguration,
		"StartImageScan":                          a.startImageScan,
		"DescribeImageScanFindings":               a.describeImageScanFindings,
		"GetAuthorizationToken":                   a.getAuthorizationToken,
		"PutLifecyclePolicy":                      a.putLifecyclePolicy,
		"GetLifecyclePolicy":                      a.getLifecyclePolicy,
		"DeleteLifecyclePolicy":                   a.deleteLifecyclePolicy,
		"StartLifecyclePolicyPreview":             a.startLifecyclePolicyPreview,
		"GetLifecyclePolicyPreview":               a.getLifecyclePolicyPreview,
	}
	maps.Copy(a.actions, a.imageActions())
	a.bodyLimits, a.large = imageBodyLimits(), make(chan struct{}, largeBodies)
	maps.Copy(a.actions, a.repoConfigActions())
	maps.Copy(a.actions, a.policyActions())
	maps.Copy(a.actions, a.pullThroughActions())
	maps.Copy(a.actions, a.replicationActions())
	return a
}

// Error is an ECR API error.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

func apiErr(typ, format string, a ...any) *Error {
	if len(a) > 0 {
		format = fmt.Sprintf(format, a...)
	}
	return &Error{Type: typ, Message: format}
}

// RequestIDHeader carries the id of every API response (a UUID), errors
// included; the server logs each call with it.
const RequestIDHeader = "x-amzn-RequestId"

// ServeHTTP handles one API call.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The server's middleware gives every request an id; the API answers
	// with it as x-amzn-RequestId.
	id := audit.FromContext(r.Context()).ID
	if id == "" {
		id = uuid.NewString()
		r = r.WithContext(audit.WithRequest(r.Context(), audit.Request{Source: audit.SourceAddr(r), ID: id}))
	}
	w.Header().Set(RequestIDHeader, id)
	started := a.o.Now()
	op, principal, err := a.serve(w, r)
	log := a.o.Logger.With("requestId", id, "operation", op, "principal", principal, "elapsed", a.o.Now().Sub(started))
	if err == nil {
		log.Debug("ecrapi: call")
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		log.Error("ecrapi: internal error", "err", err)
		e = apiErr("ServerException", "internal server error (request id %s)", id)
		writeError(w, http.StatusInternalServerError, e)
		return
	}
	log.Info("ecrapi: call refused", "errorType", e.Type, "message", e.Message)
	writeError(w, http.StatusBadRequest, e)
}

// serve runs one call and writes its response when it succeeds; it returns
// the operation, the caller and the error to answer with otherwise.
func (a *API) serve(w http.ResponseWriter, r *http.Request) (op, principal string, err error) {
	if r.Method != http.MethodPost {
		return "", "", apiErr("UnknownOperationException", "the ECR API accepts POST only")
	}
	target := r.Header.Get("X-Amz-Target")
	name, ok := strings.CutPrefix(target, TargetPrefix)
	if !ok {
		return "", "", apiErr("UnknownOperationException", "missing or unknown X-Amz-Target")
	}
	limit := int64(MaxBodySize)
	if l, ok := a.bodyLimits[name]; ok && a.actions[name] != nil {
		// A large body holds one of few slots while it arrives: only a
		// request naming a configured access key may take one, and it has
		// largeBodyReadTimeout to send its body.
		rc := http.NewResponseController(w)
		if a.o.Auth.Enabled() {
			if _, _, err := sigV4Key(r, a.o.Auth.AccessKeySecret); err != nil {
				// The body is never read: an expired read deadline keeps
				// net/http from waiting for it before answering.
				_ = rc.SetReadDeadline(time.Now())
				return name, "", err
			}
		}
		_ = rc.SetReadDeadline(time.Now().Add(largeBodyReadTimeout))
		select {
		case a.large <- struct{}{}:
			defer func() { <-a.large }()
		default:
			return name, "", apiErr("ThrottlingException", "too many %s requests in progress; retry later", name)
		}
		limit = l
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return "", "", apiErr("SerializationException", "request body unreadable or larger than %d bytes", limit)
	}
	p, err := a.authenticate(r, name, body)
	if err != nil {
		return "", "", err
	}
	act, ok := a.actions[name]
	if !ok {
		if err := a.unavailableError(name); err != nil {
			return name, p.Name, err
		}
		return "", p.Name, apiErr("UnknownOperationException", "%s is not an ECR operation", clipName(name))
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	// Every operation serves this registry only: a request naming another
	// registryId is refused, not answered from this one's data.
	var named struct {
		RegistryID string `json:"registryId"`
	}
	if json.Unmarshal(body, &named) == nil {
		if err := a.ownRegistry(named.RegistryID); err != nil {
			return name, p.Name, err
		}
	}
	c := &call{r: r, body: body, p: p, op: name}
	out, err := act(r.Context(), c)
	if err != nil {
		return name, p.Name, err
	}
	a.recordChange(r.Context(), name, c, out)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
	return name, p.Name, nil
}

// clipName bounds a caller's operation name in an error message.
func clipName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

func (a *API) authenticate(r *http.Request, op string, body []byte) (*auth.Principal, error) {
	if !a.o.Auth.Enabled() {
		return a.o.Auth.AccessKeyPrincipal(""), nil
	}
	return a.authenticateThrottled(r, op, body)
}

func writeError(w http.ResponseWriter, status int, e *Error) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Type, "message": e.Message})
}

func decode(c *call, v any) error {
	if err := json.Unmarshal(c.body, v); err != nil {
		return apiErr("SerializationException", "cannot parse request: %v", err)
	}
	return nil
}

// need authorizes the call's operation, ecr:<Operation>, on repo ("" for
// a registry-wide operation). A refusal is AccessDeniedException, worded as
// ECR's, whether or not the repository exists: only a caller allowed to
// ask learns that a repository does not exist.
func (a *API) need(ctx context.Context, c *call, repo string) error {
	return a.needAction(ctx, c, "ecr:"+c.op, repo)
}

func (a *API) needAction(ctx context.Context, c *call, action, repo string) error {
	if a.allowed(ctx, c, action, repo) {
		return nil
	}
	resource := "arn:aws:ecr:" + a.o.Region + ":" + a.o.RegistryID + ":repository/" + repo
	if repo == "" {
		resource = "arn:aws:ecr:" + a.o.Region + ":" + a.o.RegistryID + ":registry"
	}
	who := c.p.ARN(a.o.Authz.Account())
	if who == "" {
		who = c.p.Name
	}
	return apiErr("AccessDeniedException", "User: %s is not authorized to perform: %s on resource: %s", who, action, resource)
}

// allowed asks the authorizer, logging a refusal with its reason.
func (a *API) allowed(ctx context.Context, c *call, action, repo string) bool {
	d := a.o.Authz.Authorize(ctx, c.p, action, repo, auth.SourceIP(c.r.RemoteAddr))
	if !d.Allowed {
		a.o.Audit.Check(ctx, c.p.Name, action, repo, false, d.Reason)
		a.o.Logger.Info("ecrapi: access denied", "principal", c.p.Name, "action", action, "repository", repo, "reason", d.Reason)
	}
	return d.Allowed
}

// epoch is a time as ECR's wire has it, epoch seconds (scanning.Epoch).
type epoch = scanning.Epoch

// epochPtr is t as an epoch, nil when zero.
func epochPtr(t time.Time) *epoch { return scanning.EpochOf(t) }

// paging

func pageBounds(nextToken string, maxResults *int, total int) (start, end int, next string, err error) {
	start, limit, err := pageRequest(nextToken, maxResults)
	if err != nil {
		return 0, 0, "", err
	}
	return pageWindow(start, limit, total)
}

// pageRequest reads a page request: the offset nextToken names and the page
// size. The offset is checked against the total by pageWindow.
func pageRequest(nextToken string, maxResults *int) (start, limit int, err error) {
	limit = 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 1000 {
			return 0, 0, apiErr("InvalidParameterException", "maxResults must be between 1 and 1000")
		}
		limit = *maxResults
	}
	if nextToken != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(nextToken)
		n, perr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		// No sequence is near 2^31 long (and the offset reaches int4
		// columns in PostgreSQL).
		if derr != nil || perr != nil || !strings.HasPrefix(string(raw), "offset:") || n < 0 || n > math.MaxInt32/2 {
			return 0, 0, invalidToken()
		}
		start = n
	}
	return start, limit, nil
}

func invalidToken() error { return apiErr("InvalidParameterException", "invalid nextToken") }

// pageWindow is the page [start, end) of a sequence of total items and the
// token of the next page ("" on the last).
func pageWindow(start, limit, total int) (int, int, string, error) {
	if start > total {
		return 0, 0, "", invalidToken()
	}
	end := min(start+limit, total)
	next := ""
	if end < total {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return start, end, next, nil
}

func (a *API) scanningConfig(ctx context.Context) (scanning.Config, error) {
	raw, err := a.o.Store.GetScanningConfig(ctx)
	if err != nil {
		return scanning.Config{}, err
	}
	return scanning.DecodeConfig(raw)
}

func (a *API) host(r *http.Request) string {
	if a.o.PublicHost != "" {
		return a.o.PublicHost
	}
	return r.Host
}
