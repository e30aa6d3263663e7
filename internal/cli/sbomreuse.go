package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/server/sbomref"
	"github.com/stowaway-scanner/stowaway/internal/source"
)

// storedSBOM looks for an SBOM that Stowaway's registry stored as a
// referrer of the registry image src (internal/server/sbomref) and that can
// stand in for indexing: one whose catalogers are exactly those this binary
// runs for the scan type, listed by a registry that vouches for Stowaway
// SBOMs (its referrers response carries sbomref.HeaderAuthority: only then
// were the annotated SBOMs written by the registry's own scans, not pushed
// by whoever may push the image). It returns the SBOM's inventory, reshaped
// as indexing src would give it, and the SBOM's digest; or an error saying
// in one line why indexing is needed. rt is the registry transport.
func storedSBOM(ctx context.Context, src *source.Source, rt http.RoundTripper, insecure, enhanced bool, osCats, langCats []catalog.FileCataloger) (*inventory.Inventory, string, error) {
	if src.Kind != source.KindRegistry || src.Digest == "" {
		return nil, "", errors.New("not a registry image")
	}
	var nopts []name.Option
	if insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(src.Ref, nopts...)
	if err != nil {
		return nil, "", fmt.Errorf("reference %s: %w", src.Ref, err)
	}
	repo := ref.Context()
	if rt == nil {
		rt = source.NewTransport(source.DefaultTimeouts())
	}
	aw := &authorityWatch{base: rt}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(aw)}
	idx, err := remote.Referrers(repo.Digest(src.Digest), append(ropts, remote.WithFilter("artifactType", sbomref.ArtifactTypeCycloneDX))...)
	if err != nil {
		return nil, "", fmt.Errorf("list referrers: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("list referrers: %w", err)
	}
	var cands []sbomref.Candidate
	for _, d := range im.Manifests {
		cands = append(cands, sbomref.Candidate{Digest: d.Digest.String(), ArtifactType: d.ArtifactType, Annotations: d.Annotations})
	}
	if len(cands) > 0 && !aw.vouched.Load() {
		return nil, "", fmt.Errorf("the registry does not vouch for Stowaway SBOMs (its referrers response has no %s: %s header), so the %d stored CycloneDX SBOM(s) may have been pushed by anyone with push rights and are not used",
			sbomref.HeaderAuthority, sbomref.AuthorityEnforced, len(cands))
	}
	want := sbomref.Want{
		Enhanced:           enhanced,
		BasicCatalogers:    sbomref.Catalogers(catalogerInfos(osCats)),
		EnhancedCatalogers: sbomref.Catalogers(catalogerInfos(append(slices.Clone(osCats), langCats...))),
	}
	c, ok, reason := sbomref.Choose(cands, want)
	if !ok {
		return nil, "", errors.New(reason)
	}
	inv, err := fetchSBOM(repo.Digest(c.Digest), ropts)
	if err != nil {
		return nil, c.Digest, err
	}
	// The document must describe this image and what its annotations say.
	if inv.Source.Digest != src.Digest {
		return nil, c.Digest, fmt.Errorf("SBOM %s describes image %q, not %s", c.Digest, inv.Source.Digest, src.Digest)
	}
	if got := sbomref.Catalogers(inv.Catalogers); got != c.Annotations[sbomref.AnnotationCatalogers] {
		return nil, c.Digest, fmt.Errorf("SBOM %s lists catalogers %q, its annotation %q", c.Digest, got, c.Annotations[sbomref.AnnotationCatalogers])
	}
	if !enhanced && c.Annotations[sbomref.AnnotationScanType] == sbomref.ScanTypeEnhanced {
		basicPart(inv, langCats)
	}
	inv.Source.Ref, inv.Source.Kind, inv.Source.Tags = src.Ref, src.Kind, src.Tags
	return inv, c.Digest, nil
}

// authorityWatch records whether a successful referrers response carried
// sbomref.HeaderAuthority: AuthorityEnforced.
type authorityWatch struct {
	base    http.RoundTripper
	vouched atomic.Bool
}

func (a *authorityWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK && strings.Contains(req.URL.Path, "/referrers/") &&
		resp.Header.Get(sbomref.HeaderAuthority) == sbomref.AuthorityEnforced {
		a.vouched.Store(true)
	}
	return resp, err
}

// fetchSBOM reads a one-layer SBOM artifact and decodes its document.
func fetchSBOM(d name.Digest, ropts []remote.Option) (*inventory.Inventory, error) {
	img, err := remote.Image(d, ropts...)
	if err != nil {
		return nil, fmt.Errorf("fetch SBOM manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("fetch SBOM manifest: %w", err)
	}
	if len(m.Layers) != 1 || string(m.Layers[0].MediaType) != sbomref.ArtifactTypeCycloneDX {
		return nil, fmt.Errorf("SBOM %s: want one %s layer, got %d layers", d.DigestStr(), sbomref.ArtifactTypeCycloneDX, len(m.Layers))
	}
	if m.Layers[0].Size > sbom.MaxDecodeSize {
		return nil, fmt.Errorf("SBOM %s: document of %d bytes is over the %d-byte limit", d.DigestStr(), m.Layers[0].Size, sbom.MaxDecodeSize)
	}
	l, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("fetch SBOM document: %w", err)
	}
	rc, err := l.Compressed() // verified against its digest as it is read
	if err != nil {
		return nil, fmt.Errorf("fetch SBOM document: %w", err)
	}
	defer rc.Close()
	inv, err := sbom.Decode(rc, descriptorNames())
	if err != nil {
		return nil, fmt.Errorf("SBOM %s: %w", d.DigestStr(), err)
	}
	// Decode stops at the end of the JSON value; reading on checks the
	// digest of the whole blob.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fmt.Errorf("SBOM %s: %w", d.DigestStr(), err)
	}
	return inv, nil
}

// basicPart reduces an ENHANCED inventory to what a BASIC scan indexes: the
// OS packages, and neither the language catalogers nor their warnings.
func basicPart(inv *inventory.Inventory, langCats []catalog.FileCataloger) {
	isLang := map[string]bool{}
	for _, c := range langCats {
		isLang[c.Name()] = true
	}
	inv.Packages = slices.DeleteFunc(inv.Packages, func(p inventory.Package) bool { return !p.Type.IsOS() })
	inv.Catalogers = slices.DeleteFunc(inv.Catalogers, func(c inventory.CatalogerInfo) bool { return isLang[c.Name] })
	inv.Warnings = slices.DeleteFunc(inv.Warnings, func(w string) bool {
		name, _, ok := strings.Cut(w, ":")
		return ok && isLang[name]
	})
}

func catalogerInfos(cs []catalog.FileCataloger) []inventory.CatalogerInfo {
	out := make([]inventory.CatalogerInfo, 0, len(cs))
	for _, c := range cs {
		out = append(out, inventory.CatalogerInfo{Name: c.Name(), Version: c.Version()})
	}
	return out
}
