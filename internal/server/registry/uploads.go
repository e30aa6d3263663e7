package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"strings"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Upload hygiene: an upload session (POST /v2/NAME/blobs/uploads/, or
// ECR's InitiateLayerUpload) holds storage until it is completed or
// cancelled. Sessions a client abandoned are purged once older than
// UploadLimits.PurgeAge (distribution's own purger, which waited 168 h, ran
// with up to an hour of jitter and never purged a session without a start
// time, is turned off), and the sessions open
// at once are capped per repository and per user.
//
// The repository count is read from storage (the repository's _uploads
// directory), so it holds across replicas sharing the blob store. The user
// count is this replica's: the sessions it opened for the user that still
// exist in storage (a session completed, cancelled or purged anywhere
// stops counting); with N replicas a user may hold up to N times the cap.

// Upload limit defaults (serve's flags).
const (
	DefaultUploadPurgeAge          = 24 * time.Hour
	DefaultMaxUploadsPerRepository = 256
	DefaultMaxUploadsPerUser       = 128
)

// UploadLimits bounds upload sessions. Zero values are the defaults; a
// negative cap means no cap.
type UploadLimits struct {
	// PerRepository caps the sessions open in one repository (default
	// DefaultMaxUploadsPerRepository).
	PerRepository int
	// PerUser caps the sessions one principal opened through this replica
	// and has not finished (default DefaultMaxUploadsPerUser). With
	// authentication off every caller is "anonymous".
	PerUser int
	// PurgeAge: a session started longer ago is purged (default
	// DefaultUploadPurgeAge).
	PurgeAge time.Duration
	// PurgeInterval is how often the purge runs (default PurgeAge/4,
	// at most 1h, at least 1s).
	PurgeInterval time.Duration
}

func (l UploadLimits) withDefaults() UploadLimits {
	if l.PerRepository == 0 {
		l.PerRepository = DefaultMaxUploadsPerRepository
	}
	if l.PerUser == 0 {
		l.PerUser = DefaultMaxUploadsPerUser
	}
	if l.PurgeAge <= 0 {
		l.PurgeAge = DefaultUploadPurgeAge
	}
	if l.PurgeInterval <= 0 {
		l.PurgeInterval = min(max(l.PurgeAge/4, time.Second), time.Hour)
	}
	return l
}

// ErrTooManyUploads is what a refused upload session's error wraps.
var ErrTooManyUploads = errors.New("registry: too many uploads in progress")

// UploadLimitError says which cap refused a session.
type UploadLimitError struct {
	// Limit is "repository" or "user".
	Limit      string
	Repository string
	User       string
	Open, Max  int
	PurgeAge   time.Duration
}

func (e *UploadLimitError) Error() string {
	who := fmt.Sprintf("repository %s has", e.Repository)
	flag := "--max-uploads-per-repository"
	if e.Limit == "user" {
		who = fmt.Sprintf("user %s has", e.User)
		flag = "--max-uploads-per-user"
	}
	return fmt.Sprintf("%s %d uploads in progress, the most this server allows (%s %d): complete or cancel some; interrupted uploads are purged after %s",
		who, e.Open, flag, e.Max, e.PurgeAge)
}

func (e *UploadLimitError) Unwrap() error { return ErrTooManyUploads }

// Leaser makes the purge a singleton across replicas (the store).
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

type trackedUpload struct {
	repo, user string
	started    time.Time
}

// uploadTracker holds this replica's open sessions by id, the users'
// reservations of sessions being opened, and a lock per repository (in 64
// stripes) held while a session is being opened there.
type uploadTracker struct {
	mu          sync.Mutex
	open        map[string]trackedUpload
	pendingUser map[string]int
	repoLocks   [64]sync.Mutex
}

func newUploadTracker() *uploadTracker {
	return &uploadTracker{open: map[string]trackedUpload{}, pendingUser: map[string]int{}}
}

func (t *uploadTracker) repoLock(repo string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(repo))
	return &t.repoLocks[h.Sum32()%uint32(len(t.repoLocks))]
}

// reserveUpload checks both caps for a new session of user in repo and
// holds a place for it; release (call it exactly once; later calls do
// nothing) records the session's id, or frees the place when id is "".
// Until release, the repository's lock is held, so the storage count is
// exact for this replica (two requests never both take the last place, and
// a session being created is never counted twice); the user's count is
// exact through its reservations.
func (r *Registry) reserveUpload(ctx context.Context, repo, user string) (release func(id string), err error) {
	lim, t := r.limits, r.uploads
	rl := t.repoLock(repo)
	rl.Lock()
	held := true
	defer func() {
		if held {
			rl.Unlock()
		}
	}()
	if lim.PerRepository > 0 {
		n, err := r.CountUploads(ctx, repo)
		if err != nil {
			return nil, err
		}
		if n >= lim.PerRepository {
			r.opts.Metrics.UploadsRefused.WithLabelValues("repository").Inc()
			return nil, &UploadLimitError{Limit: "repository", Repository: repo, User: user, Open: n, Max: lim.PerRepository, PurgeAge: lim.PurgeAge}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if lim.PerUser > 0 {
		n, err := r.userUploadsLocked(ctx, user, lim.PerUser)
		if err != nil {
			return nil, err
		}
		if n += t.pendingUser[user]; n >= lim.PerUser {
			r.opts.Metrics.UploadsRefused.WithLabelValues("user").Inc()
			return nil, &UploadLimitError{Limit: "user", Repository: repo, User: user, Open: n, Max: lim.PerUser, PurgeAge: lim.PurgeAge}
		}
	}
	t.pendingUser[user]++
	held = false
	var once sync.Once
	return func(id string) {
		once.Do(func() {
			t.mu.Lock()
			decr(t.pendingUser, user)
			if id != "" {
				t.open[id] = trackedUpload{repo: repo, user: user, started: r.opts.Now()}
			}
			t.mu.Unlock()
			rl.Unlock()
		})
	}, nil
}

func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// userUploadsLocked counts user's tracked sessions. Only when the count
// reaches the cap does it check each one in storage (one stat a session),
// forgetting those finished, cancelled or purged since, on any replica.
func (r *Registry) userUploadsLocked(ctx context.Context, user string, limit int) (int, error) {
	t := r.uploads
	var mine []string
	for id, u := range t.open {
		if u.user == user {
			mine = append(mine, id)
		}
	}
	if len(mine)+t.pendingUser[user] < limit {
		return len(mine), nil
	}
	n := 0
	for _, id := range mine {
		u := t.open[id]
		_, err := r.driver.Stat(ctx, uploadDir(u.repo, id))
		switch {
		case isPathNotFound(err):
			delete(t.open, id)
		case err != nil:
			return 0, fmt.Errorf("registry: upload %s of %s: %w", id, u.repo, err)
		default:
			n++
		}
	}
	return n, nil
}

// forgetUpload drops a session this replica tracks (completed or
// cancelled).
func (r *Registry) forgetUpload(id string) {
	r.uploads.mu.Lock()
	delete(r.uploads.open, id)
	r.uploads.mu.Unlock()
}

// repositoriesRoot is distribution's repositories directory in the driver.
const repositoriesRoot = "/docker/registry/v2/repositories"

func uploadDir(repo, id string) string {
	return path.Join(repositoriesRoot, repo, "_uploads", id)
}

// PurgeUploads deletes the upload sessions started more than PurgeAge ago
// and returns how many it deleted. It walks every repository's _uploads
// (skipping _layers and _manifests) and reads each session's startedat, as
// distribution's storage.PurgeUploads does, with one difference: a session
// directory without a readable startedat (what distribution's cancel left
// behind, see the /v2/ DELETE in handler.go) is dated by its modification
// time, where distribution keeps it forever; storage without directory
// times (object stores) makes it purgeable at once, which is safe because
// distribution creates a session's directory by writing its startedat.
func (r *Registry) PurgeUploads(ctx context.Context) (int, error) {
	cutoff := r.opts.Now().Add(-r.limits.PurgeAge)
	var stale []string
	var errs error
	walkErr := r.driver.Walk(ctx, repositoriesRoot, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			return nil
		}
		p := fi.Path()
		switch base := path.Base(p); {
		case base == "_layers" || base == "_manifests":
			return storagedriver.ErrSkipDir
		case path.Base(path.Dir(p)) != "_uploads":
			return nil
		}
		started, err := r.sessionStart(ctx, p, fi.ModTime())
		if err != nil {
			errs = errors.Join(errs, err)
		} else if started.Before(cutoff) {
			stale = append(stale, p)
		}
		return storagedriver.ErrSkipDir
	})
	if walkErr != nil && !isPathNotFound(walkErr) {
		errs = errors.Join(errs, walkErr)
	}
	deleted := 0
	for _, dir := range stale {
		if err := r.abortPartialData(ctx, dir); err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		if err := r.driver.Delete(ctx, dir); err != nil && !isPathNotFound(err) {
			errs = errors.Join(errs, err)
			continue
		}
		deleted++
		r.opts.Metrics.UploadsPurged.Inc()
		r.opts.Logger.Info("registry: purged an interrupted upload", "upload", strings.TrimPrefix(dir, repositoriesRoot+"/"))
	}
	// Forget the tracked sessions purged here, and those past the age
	// whose directory another replica purged.
	r.uploads.mu.Lock()
	for _, dir := range stale {
		delete(r.uploads.open, path.Base(dir))
	}
	for id, u := range r.uploads.open {
		if u.started.Before(cutoff) {
			delete(r.uploads.open, id)
		}
	}
	r.uploads.mu.Unlock()
	if errs != nil {
		return deleted, fmt.Errorf("registry: purge uploads: %w", errs)
	}
	return deleted, nil
}

// maxAborts bounds the unfinished multipart uploads aborted for one
// session's data.
const maxAborts = 16

// abortPartialData discards the bytes of an interrupted session that are
// not objects yet. On S3 the driver writes a session's data as a multipart
// upload, completed only when the blob is committed: an interrupted push
// leaves its parts in an unfinished multipart upload, which listing and
// deleting objects never sees (storage billed and kept until a bucket
// lifecycle rule aborts it). Opening the data for appending finds that
// multipart upload and cancelling the writer aborts it; repeated while one
// is found. The filesystem has no such state (deleting the directory
// removes the data).
func (r *Registry) abortPartialData(ctx context.Context, dir string) error {
	if !r.objectStore {
		return nil
	}
	data := path.Join(dir, "data")
	for range maxAborts {
		w, err := r.driver.Writer(ctx, data, true)
		if err != nil {
			// No multipart upload: not found, or a data object that
			// deleting the directory removes.
			return nil
		}
		if err := w.Cancel(ctx); err != nil {
			return fmt.Errorf("%s: abort the unfinished upload: %w", data, err)
		}
	}
	return nil
}

// maxStartedAt bounds a startedat file (an RFC 3339 time).
const maxStartedAt = 64

// sessionStart is when the session in dir started: its startedat, else
// (missing, unreadable or not a time) the directory's modification time.
func (r *Registry) sessionStart(ctx context.Context, dir string, modTime time.Time) (time.Time, error) {
	f := path.Join(dir, "startedat")
	fi, err := r.driver.Stat(ctx, f)
	switch {
	case isPathNotFound(err):
		return modTime, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("%s: %w", f, err)
	case fi.Size() > maxStartedAt:
		return modTime, nil
	}
	b, err := r.driver.GetContent(ctx, f)
	if isPathNotFound(err) {
		return modTime, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", f, err)
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return modTime, nil
	}
	return t, nil
}

const uploadPurgeLease = "upload-purge"

// RunUploadPurge purges interrupted uploads every PurgeInterval until ctx
// ends, on one replica at a time when Options.Leases is set.
func (r *Registry) RunUploadPurge(ctx context.Context) {
	tick := time.NewTicker(r.limits.PurgeInterval)
	defer tick.Stop()
	for {
		r.purgePass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *Registry) purgePass(ctx context.Context) {
	if l := r.opts.Leases; l != nil {
		ok, err := l.AcquireLease(ctx, uploadPurgeLease, r.opts.Holder, r.opts.Now(), 10*time.Minute)
		if err != nil {
			if ctx.Err() == nil {
				r.opts.Logger.Warn("registry: upload purge lease", "err", err)
			}
			return
		}
		if !ok {
			return
		}
		defer func() {
			if err := l.ReleaseLease(context.WithoutCancel(ctx), uploadPurgeLease, r.opts.Holder); err != nil {
				r.opts.Logger.Warn("registry: release upload purge lease", "err", err)
			}
		}()
	}
	n, err := r.PurgeUploads(ctx)
	if err != nil && ctx.Err() == nil {
		r.opts.Logger.Error("registry: upload purge", "err", err)
	}
	if n > 0 {
		r.opts.Logger.Info("registry: purged interrupted uploads", "uploads", n, "age", r.limits.PurgeAge)
	}
}
