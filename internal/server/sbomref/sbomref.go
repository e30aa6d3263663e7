// Package sbomref stores the SBOM of every scanned image as an OCI 1.1
// artifact whose subject is the image, and picks a stored SBOM that a client
// may use instead of indexing the image again.
//
// The artifact: an image manifest with artifactType
// application/vnd.cyclonedx+json (CycloneDX 1.6) or application/spdx+json
// (SPDX 2.3), the empty config (application/vnd.oci.empty.v1+json), one
// layer holding the document, subject = the image manifest, and the
// annotations
//
//   - org.opencontainers.image.created: when it was written (RFC 3339, UTC);
//   - dev.stowaway.catalogers: the sorted, comma-separated "name@version"
//     list of the catalogers that produced the inventory (the versions that
//     also key the layer cache);
//   - dev.stowaway.scan-type: BASIC (OS packages) or ENHANCED (OS and
//     language packages).
//
// Policy choices:
//   - Only COMPLETE scans with an inventory get an SBOM.
//   - A new SBOM supersedes the Stowaway SBOMs of the same format for the
//     same image (those carrying dev.stowaway.catalogers) that are older:
//     they are deleted once the new one is stored. "Older" is by created
//     annotation, then digest, so two replicas writing at once converge on
//     one. SBOMs pushed by users (without the annotation) are left alone.
//   - Failures are logged with the repository and digest and never touch
//     the scan result, which is committed before the hook runs.
//   - A stored SBOM can stand in for indexing (Choose) only when its
//     catalogers are exactly the ones the client would run for its scan
//     type; an ENHANCED SBOM serves a BASIC scan (its OS part), a BASIC one
//     never serves an ENHANCED scan.
//
// Trust: the dev.stowaway.* annotations are reserved to the server
// (registry.ReservedAnnotationPrefix): the registry refuses client pushes
// that carry them, so the only referrers listed with them are the ones this
// Writer stored, and every /v2/ response carries HeaderAuthority:
// AuthorityEnforced. A client reuses a stored SBOM only from a registry
// whose referrers response carries that header: on any other registry
// (go-containerregistry's, a cloud registry) anyone with push rights can
// push an SBOM artifact with these annotations for their own image, an
// empty one included, and hide its findings from a CI gate.
package sbomref

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/server/registry"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Artifact types and annotations of stored SBOMs.
const (
	ArtifactTypeCycloneDX = "application/vnd.cyclonedx+json"
	ArtifactTypeSPDX      = "application/spdx+json"

	AnnotationCreated    = ocispec.AnnotationCreated
	AnnotationCatalogers = "dev.stowaway.catalogers"
	AnnotationScanType   = "dev.stowaway.scan-type"

	ScanTypeBasic    = "BASIC"
	ScanTypeEnhanced = "ENHANCED"

	// HeaderAuthority: AuthorityEnforced is on every response of a
	// registry that refuses client pushes of the annotations above.
	HeaderAuthority   = registry.HeaderSBOMAuthority
	AuthorityEnforced = registry.SBOMAuthorityEnforced
)

// ArtifactType is the artifactType (and layer media type) of an SBOM format.
func ArtifactType(f sbom.Format) (string, error) {
	switch f {
	case sbom.CycloneDX:
		return ArtifactTypeCycloneDX, nil
	case sbom.SPDX:
		return ArtifactTypeSPDX, nil
	}
	return "", fmt.Errorf("sbomref: format %q cannot be stored as a referrer (want cyclonedx or spdx)", f)
}

// ParseFormats reads a comma-separated format list (--sbom-formats). The
// empty string means CycloneDX only; "none" means no SBOMs are stored.
func ParseFormats(s string) ([]sbom.Format, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []sbom.Format{sbom.CycloneDX}, nil
	}
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	var out []sbom.Format
	for _, part := range strings.Split(s, ",") {
		f, err := sbom.ParseFormat(part)
		if err != nil {
			return nil, fmt.Errorf("sbomref: %w", err)
		}
		if _, err := ArtifactType(f); err != nil {
			return nil, err
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// Catalogers is the dev.stowaway.catalogers value of an inventory made by
// cs: sorted, de-duplicated "name@version" entries joined by commas.
func Catalogers(cs []inventory.CatalogerInfo) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s@%d", c.Name, c.Version))
	}
	slices.Sort(parts)
	return strings.Join(slices.Compact(parts), ",")
}

// ScanType is the dev.stowaway.scan-type value.
func ScanType(enhanced bool) string {
	if enhanced {
		return ScanTypeEnhanced
	}
	return ScanTypeBasic
}

// Registry writes and deletes artifacts (registry.Registry).
type Registry interface {
	ManifestDescriptor(ctx context.Context, repo, dgst string) (ocispec.Descriptor, error)
	PutArtifact(ctx context.Context, repo string, a registry.Artifact) (ocispec.Descriptor, error)
	DeleteArtifact(ctx context.Context, repo, dgst string) error
}

// Referrers lists an image's referrers (the store).
type Referrers interface {
	ListReferrers(ctx context.Context, repo, subject, artifactType string) ([]store.Referrer, error)
}

// Options configure a Writer.
type Options struct {
	// Formats to store (default: CycloneDX only).
	Formats   []sbom.Format
	Registry  Registry
	Referrers Referrers
	// ToolVersion is recorded in the SBOMs' tool entry.
	ToolVersion string
	// Names build a PURL an inventory lacks (sbom.Options.Names).
	Names  names.Names
	Now    func() time.Time
	Logger *slog.Logger
}

// Writer stores SBOMs of scanned images.
type Writer struct {
	o Options
}

// New checks the options and builds a Writer.
func New(o Options) (*Writer, error) {
	if o.Registry == nil || o.Referrers == nil {
		return nil, errors.New("sbomref: a registry and a referrer store are required")
	}
	if o.Formats == nil {
		o.Formats = []sbom.Format{sbom.CycloneDX}
	}
	for _, f := range o.Formats {
		if _, err := ArtifactType(f); err != nil {
			return nil, err
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Writer{o: o}, nil
}

// After is a jobs.AfterFunc: it stores the SBOMs of a COMPLETE scan that
// indexed the image, and logs (never returns) what went wrong.
func (w *Writer) After(ctx context.Context, j *store.Job, res *scanning.Result, out store.JobOutcome) {
	if j == nil || res == nil || res.Inventory == nil || out.Status != string(scanning.StatusComplete) {
		return
	}
	if _, err := w.Store(ctx, j.Repository, j.Digest, j.Enhanced, res.Inventory); err != nil {
		w.o.Logger.Error("sbomref: store the SBOM referrer", "repository", j.Repository, "digest", j.Digest, "err", err)
	}
}

// Store writes inv as one artifact per configured format with the image
// repo@dgst as subject, then deletes the older Stowaway SBOMs of each
// format. It returns the stored descriptors; a format that failed is
// skipped and reported in the joined error.
func (w *Writer) Store(ctx context.Context, repo, dgst string, enhanced bool, inv *inventory.Inventory) ([]ocispec.Descriptor, error) {
	subject, err := w.o.Registry.ManifestDescriptor(ctx, repo, dgst)
	if err != nil {
		return nil, fmt.Errorf("sbomref: subject: %w", err)
	}
	now := w.o.Now().UTC()
	ann := map[string]string{
		AnnotationCreated:    now.Format(time.RFC3339Nano),
		AnnotationCatalogers: Catalogers(inv.Catalogers),
		AnnotationScanType:   ScanType(enhanced),
	}
	var stored []ocispec.Descriptor
	var errs []error
	for _, f := range w.o.Formats {
		d, err := w.storeOne(ctx, repo, subject, f, inv, ann)
		if err != nil {
			errs = append(errs, fmt.Errorf("sbomref: %s: %w", f, err))
			continue
		}
		stored = append(stored, d)
	}
	return stored, errors.Join(errs...)
}

func (w *Writer) storeOne(ctx context.Context, repo string, subject ocispec.Descriptor, f sbom.Format, inv *inventory.Inventory, ann map[string]string) (ocispec.Descriptor, error) {
	at, err := ArtifactType(f)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var buf bytes.Buffer
	if err := sbom.EncodeWith(&buf, inv, f, sbom.Options{ToolVersion: w.o.ToolVersion, Names: w.o.Names}); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode: %w", err)
	}
	d, err := w.o.Registry.PutArtifact(ctx, repo, registry.Artifact{
		ArtifactType: at,
		Subject:      subject,
		Layers:       []registry.ArtifactLayer{{MediaType: at, Data: buf.Bytes()}},
		Annotations:  maps(ann),
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("store: %w", err)
	}
	if err := w.supersede(ctx, repo, subject.Digest.String(), at, d); err != nil {
		return d, fmt.Errorf("supersede: %w", err)
	}
	return d, nil
}

// supersede deletes the Stowaway SBOMs of artifact type at for subject that
// are older than d.
func (w *Writer) supersede(ctx context.Context, repo, subject, at string, d ocispec.Descriptor) error {
	refs, err := w.o.Referrers.ListReferrers(ctx, repo, subject, at)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		if r.Digest == d.Digest.String() {
			continue
		}
		if _, ours := r.Annotations[AnnotationCatalogers]; !ours {
			continue
		}
		if older(r.Annotations[AnnotationCreated], r.Digest, d.Annotations[AnnotationCreated], d.Digest.String()) {
			if err := w.o.Registry.DeleteArtifact(ctx, repo, r.Digest); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// older orders SBOMs by creation time, then digest.
func older(createdA, digestA, createdB, digestB string) bool {
	return order(createdA, digestA, createdB, digestB) < 0
}

func order(createdA, digestA, createdB, digestB string) int {
	ta, _ := time.Parse(time.RFC3339Nano, createdA)
	tb, _ := time.Parse(time.RFC3339Nano, createdB)
	return cmp.Or(ta.Compare(tb), cmp.Compare(digestA, digestB))
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Candidate is a referrer descriptor as a client sees it in a referrers
// index.
type Candidate struct {
	Digest       string
	ArtifactType string
	Annotations  map[string]string
}

// Want describes the scan a client is about to run.
type Want struct {
	// Enhanced is the requested scan type.
	Enhanced bool
	// Basic and Enhanced catalogers are Catalogers() of what the client
	// would run for a BASIC and an ENHANCED scan.
	BasicCatalogers, EnhancedCatalogers string
}

// Choose picks the newest CycloneDX SBOM among cands that can stand in for
// indexing (see the package doc). When none can, reason says why in one
// line.
func Choose(cands []Candidate, want Want) (c Candidate, ok bool, reason string) {
	var fit []Candidate
	var reasons []string
	for _, c := range cands {
		if c.ArtifactType != ArtifactTypeCycloneDX {
			continue
		}
		if _, err := digest.Parse(c.Digest); err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: bad digest", c.Digest))
			continue
		}
		st, cats := c.Annotations[AnnotationScanType], c.Annotations[AnnotationCatalogers]
		switch {
		case cats == "":
			reasons = append(reasons, fmt.Sprintf("%s: no %s annotation", short(c.Digest), AnnotationCatalogers))
		case st == ScanTypeEnhanced && cats == want.EnhancedCatalogers,
			st == ScanTypeBasic && !want.Enhanced && cats == want.BasicCatalogers:
			fit = append(fit, c)
		case st == ScanTypeBasic && want.Enhanced:
			reasons = append(reasons, fmt.Sprintf("%s: a BASIC SBOM cannot serve an ENHANCED scan", short(c.Digest)))
		case st != ScanTypeBasic && st != ScanTypeEnhanced:
			reasons = append(reasons, fmt.Sprintf("%s: unknown scan type %q", short(c.Digest), st))
		default:
			reasons = append(reasons, fmt.Sprintf("%s: catalogers differ (stored %s)", short(c.Digest), cats))
		}
	}
	if len(fit) == 0 {
		if len(reasons) == 0 {
			return Candidate{}, false, "no stored CycloneDX SBOM"
		}
		return Candidate{}, false, strings.Join(reasons, "; ")
	}
	// Newest first.
	slices.SortFunc(fit, func(a, b Candidate) int {
		return order(b.Annotations[AnnotationCreated], b.Digest, a.Annotations[AnnotationCreated], a.Digest)
	})
	return fit[0], true, ""
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
