package vulndb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// Media types and annotations of the DB artifact.
const (
	// ArtifactType is the manifest's artifactType and its config's mediaType.
	ArtifactType = "application/vnd.stowaway.db.v1"
	// LayerMediaType is the one layer: the SQLite file, zstd-compressed.
	LayerMediaType = "application/vnd.stowaway.db.layer.v1.sqlite+zstd"

	AnnotationSchemaVersion      = "io.stowaway.db.schema-version"
	AnnotationBuildID            = "io.stowaway.db.build-id"
	AnnotationUncompressedDigest = "io.stowaway.db.uncompressed-digest"
	AnnotationUncompressedSize   = "io.stowaway.db.uncompressed-size"
	AnnotationCreated            = "org.opencontainers.image.created"
	AnnotationTitle              = "org.opencontainers.image.title"
)

// DefaultMaxPullSize caps the uncompressed size of a pulled DB.
const DefaultMaxPullSize = 16 << 30

// RemoteOptions tune Push and Pull.
type RemoteOptions struct {
	// Remote options for go-containerregistry (authentication, transport,
	// platform ...). The context is added by Push and Pull. Without
	// authentication options, the default keychain (~/.docker/config.json)
	// is used.
	Remote []remote.Option
	// MaxSize caps the uncompressed DB size accepted by Pull
	// (DefaultMaxPullSize when zero).
	MaxSize int64
}

func (o RemoteOptions) remote(ctx context.Context) []remote.Option {
	opts := []remote.Option{remote.WithContext(ctx)}
	if len(o.Remote) == 0 {
		opts = append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	return append(opts, o.Remote...)
}

// artifactConfig is the config blob: a small summary of the DB.
type artifactConfig struct {
	SchemaVersion int            `json:"schema_version"`
	BuildID       string         `json:"build_id"`
	BuiltAt       time.Time      `json:"built_at"`
	Sources       []SourceStatus `json:"sources"`
}

// Push uploads the current DB of dir to ref as an OCI artifact and returns
// the manifest digest.
func Push(ctx context.Context, dir, ref string, opts RemoteOptions) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("vulndb: push: reference: %w", err)
	}
	db, err := Open(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("vulndb: push: %w", err)
	}
	defer db.Close()
	st, err := db.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("vulndb: push: %w", err)
	}
	for i := range st.Sources {
		st.Sources[i].MalformedSample = nil
	}
	// Opened while the handle pins the build, so gc cannot take it away.
	src, err := os.Open(db.Path())
	if err != nil {
		return "", fmt.Errorf("vulndb: push: %w", err)
	}
	defer src.Close()

	tmp, err := os.CreateTemp("", "stowaway-db-push-*.zst")
	if err != nil {
		return "", fmt.Errorf("vulndb: push: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	rawSum, zSum := sha256.New(), sha256.New()
	enc, err := zstd.NewWriter(io.MultiWriter(tmp, zSum), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return "", fmt.Errorf("vulndb: push: compress: %w", err)
	}
	rawSize, err := io.Copy(enc, io.TeeReader(&ctxReader{ctx, src}, rawSum))
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		return "", fmt.Errorf("vulndb: push: compress: %w", err)
	}
	zSize, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", fmt.Errorf("vulndb: push: %w", err)
	}
	layer := &fileLayer{path: tmp.Name(), size: zSize,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(zSum.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(rawSum.Sum(nil))}}

	cfg, err := json.Marshal(artifactConfig{SchemaVersion: SchemaVersion, BuildID: st.BuildID, BuiltAt: st.BuiltAt, Sources: st.Sources})
	if err != nil {
		return "", fmt.Errorf("vulndb: push: config: %w", err)
	}
	cfgLayer := static.NewLayer(cfg, types.MediaType(ArtifactType))
	cfgDigest, _ := cfgLayer.Digest()

	ann := map[string]string{
		AnnotationSchemaVersion:      strconv.Itoa(SchemaVersion),
		AnnotationBuildID:            st.BuildID,
		AnnotationCreated:            st.BuiltAt.UTC().Format(time.RFC3339),
		AnnotationUncompressedDigest: layer.diffID.String(),
		AnnotationUncompressedSize:   strconv.FormatInt(rawSize, 10),
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: types.MediaType(ArtifactType), Size: int64(len(cfg)), Digest: cfgDigest},
		Layers: []v1.Descriptor{{MediaType: LayerMediaType, Size: zSize, Digest: layer.digest,
			Annotations: map[string]string{AnnotationTitle: "stowaway-db.sqlite.zst"}}},
		Annotations: ann,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("vulndb: push: manifest: %w", err)
	}
	ropts := opts.remote(ctx)
	if err := remote.WriteLayer(r.Context(), cfgLayer, ropts...); err != nil {
		return "", fmt.Errorf("vulndb: push: config blob: %w", err)
	}
	if err := remote.WriteLayer(r.Context(), layer, ropts...); err != nil {
		return "", fmt.Errorf("vulndb: push: DB blob: %w", err)
	}
	if err := remote.Put(r, rawManifest{raw}, ropts...); err != nil {
		return "", fmt.Errorf("vulndb: push: manifest: %w", err)
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// PullResult describes a pulled DB.
type PullResult struct {
	// Path is the new current DB file ("" when already current).
	Path    string
	BuildID string
	// Digest is the manifest digest that was pulled.
	Digest string
	// AlreadyCurrent is set when the current DB already has this build.
	AlreadyCurrent bool
}

// Pull downloads the DB artifact at ref and makes it the current DB of dir.
// It refuses artifacts of another type or schema version before
// downloading, verifies the compressed and uncompressed digests while
// streaming into a temporary file in dir, checks the file opens with this
// schema and passes SQLite's quick_check, and then swaps it in like Update.
// On any failure the current DB is untouched.
func Pull(ctx context.Context, ref, dir string, opts RemoteOptions) (*PullResult, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxPullSize
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("vulndb: pull: reference: %w", err)
	}
	ropts := opts.remote(ctx)
	desc, err := remote.Get(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("vulndb: pull %s: %w", ref, err)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		return nil, fmt.Errorf("vulndb: pull %s: %s is not an OCI image manifest: not a stowaway DB artifact", ref, desc.MediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		return nil, fmt.Errorf("vulndb: pull %s: manifest: %w", ref, err)
	}
	if m.ArtifactType != ArtifactType && m.Config.MediaType != ArtifactType {
		return nil, fmt.Errorf("vulndb: pull %s: artifact type %q, config %q: not a stowaway DB artifact (%s)", ref, m.ArtifactType, m.Config.MediaType, ArtifactType)
	}
	if v := m.Annotations[AnnotationSchemaVersion]; v != strconv.Itoa(SchemaVersion) {
		return nil, fmt.Errorf("vulndb: pull %s: %w: artifact has %q, this build reads %d", ref, ErrSchema, v, SchemaVersion)
	}
	var layerDesc *v1.Descriptor
	for i := range m.Layers {
		if m.Layers[i].MediaType == LayerMediaType {
			if layerDesc != nil {
				return nil, fmt.Errorf("vulndb: pull %s: more than one DB layer", ref)
			}
			layerDesc = &m.Layers[i]
		}
	}
	if layerDesc == nil {
		return nil, fmt.Errorf("vulndb: pull %s: no layer of type %s", ref, LayerMediaType)
	}
	res := &PullResult{BuildID: m.Annotations[AnnotationBuildID], Digest: desc.Digest.String()}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vulndb: pull: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.unlock()
	prevName, _ := readCurrent(dir)
	if prevName != "" && res.BuildID != "" {
		if cur, err := openFile(ctx, filepath.Join(dir, prevName), OpenOptions{}); err == nil {
			same := cur.BuildID() == res.BuildID
			cur.Close()
			if same {
				res.AlreadyCurrent = true
				return res, nil
			}
		}
	}
	dbName := newDBName(dir, time.Now())
	tmp := filepath.Join(dir, dbName+tmpSuffix)
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	layer, err := remote.Layer(r.Context().Digest(layerDesc.Digest.String()), ropts...)
	if err != nil {
		return nil, fmt.Errorf("vulndb: pull %s: layer: %w", ref, err)
	}
	if err := download(ctx, layer, *layerDesc, m.Annotations[AnnotationUncompressedDigest], tmp, opts.MaxSize); err != nil {
		return nil, fmt.Errorf("vulndb: pull %s: %w", ref, err)
	}
	db, err := openFile(ctx, tmp, OpenOptions{})
	if err != nil {
		return nil, fmt.Errorf("vulndb: pull %s: downloaded DB: %w", ref, err)
	}
	var check string
	err = db.db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&check)
	db.Close()
	if err != nil || check != "ok" {
		return nil, fmt.Errorf("vulndb: pull %s: downloaded DB fails quick_check: %q %v", ref, check, err)
	}
	if err := publish(dir, tmp, dbName, func(string) {}); err != nil {
		return nil, err
	}
	ok = true
	res.Path = filepath.Join(dir, dbName)
	_ = gc(dir, dbName, prevName)
	return res, nil
}

// download streams the layer into path, decompressing it, and checks the
// compressed digest and size (from the descriptor) and the uncompressed
// digest (from the annotation, when present).
func download(ctx context.Context, layer v1.Layer, d v1.Descriptor, rawDigest, path string, maxSize int64) error {
	rc, err := layer.Compressed()
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	defer rc.Close()
	zSum := sha256.New()
	counted := &countingReader{r: io.LimitReader(&ctxReader{ctx, rc}, d.Size+1), h: zSum}
	dec, err := zstd.NewReader(counted, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	defer dec.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	rawSum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, rawSum), io.LimitReader(dec, maxSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if counted.n > d.Size {
			// The decoder met the end of a blob cut at the manifest's
			// size: the blob is not the one the manifest names.
			return fmt.Errorf("download: layer is larger than the %d bytes the manifest says (%w)", d.Size, err)
		}
		return fmt.Errorf("download: %w", err)
	}
	if n > maxSize {
		return fmt.Errorf("download: the DB exceeds the %d-byte limit", maxSize)
	}
	// Read to the end of the blob: go-containerregistry verifies its digest
	// at EOF, and we check it ourselves too.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if counted.n != d.Size {
		return fmt.Errorf("download: layer is %d bytes, manifest says %d", counted.n, d.Size)
	}
	if got := "sha256:" + hex.EncodeToString(zSum.Sum(nil)); got != d.Digest.String() {
		return fmt.Errorf("download: layer digest %s does not match the manifest's %s", got, d.Digest)
	}
	if rawDigest != "" {
		if got := "sha256:" + hex.EncodeToString(rawSum.Sum(nil)); got != rawDigest {
			return fmt.Errorf("download: DB digest %s does not match the annotated %s", got, rawDigest)
		}
	}
	return nil
}

type countingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

// ctxReader stops a long copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type rawManifest struct{ b []byte }

func (m rawManifest) RawManifest() ([]byte, error)        { return m.b, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// fileLayer is a v1.Layer over the compressed DB in a temporary file.
type fileLayer struct {
	path           string
	size           int64
	digest, diffID v1.Hash
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return LayerMediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &decCloser{dec, f}, nil
}

type decCloser struct {
	dec *zstd.Decoder
	f   *os.File
}

func (d *decCloser) Read(p []byte) (int, error) { return d.dec.Read(p) }
func (d *decCloser) Close() error {
	d.dec.Close()
	return d.f.Close()
}
