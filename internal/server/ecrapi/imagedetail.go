package ecrapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// ImageDetail's fields beyond the image row (ECR's ImageDetail shape).

// imageStatusActive is ImageStatus for every stored image: this registry
// has no archive storage class, so no image is ARCHIVED or ACTIVATING.
const imageStatusActive = "ACTIVE"

// imageFacts fills d's imageStatus, lastRecordedPullTime (absent for an
// image never pulled) and, for a referrer (a manifest with a subject, such
// as the SBOMs the server stores), subjectManifestDigest and its
// artifactType as artifactMediaType, so that a script deleting untagged
// images can tell a referrer from an orphan.
func (a *API) imageFacts(ctx context.Context, img store.Image, d *imageDetail) error {
	d.ImageStatus = imageStatusActive
	pulled, err := a.o.Store.LastPull(ctx, img.Repository, img.Digest)
	if err != nil {
		return fmt.Errorf("ecrapi: image detail: %w", err)
	}
	d.LastRecordedPullTime = epochPtr(pulled)
	ref, err := a.o.Store.ReferrerOf(ctx, img.Repository, img.Digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ecrapi: image detail: %w", err)
	}
	d.SubjectManifestDigest = ref.Subject
	if ref.ArtifactType != "" {
		d.ArtifactMediaType = ref.ArtifactType
	}
	return nil
}
