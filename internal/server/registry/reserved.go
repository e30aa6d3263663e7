package registry

import (
	"slices"
	"strings"
)

// ReservedAnnotationPrefix marks the manifest annotations only the server
// writes: the SBOMs internal/server/sbomref stores carry
// dev.stowaway.catalogers and dev.stowaway.scan-type, and a client may
// reuse such an SBOM instead of indexing the image. A client push whose
// manifest carries an annotation under this prefix (compared without
// regard to case) is refused with 400 MANIFEST_INVALID, so every referrer
// this registry lists with one was written by the server itself
// (PutArtifact), never by a pusher hiding their own image's findings.
const ReservedAnnotationPrefix = "dev.stowaway."

// Every /v2/ response carries HeaderSBOMAuthority: SBOMAuthorityEnforced,
// before authentication, so that clients know this registry enforces the
// reservation; an SBOM read from a registry without the header is not
// trusted (anyone with push rights there could have forged it). A pusher
// cannot set a response header.
const (
	HeaderSBOMAuthority   = "Stowaway-SBOM-Authority"
	SBOMAuthorityEnforced = "enforced"
)

// reservedAnnotation returns the first (sorted) reserved annotation key of
// ann, or "".
func reservedAnnotation(ann map[string]string) string {
	var keys []string
	for k := range ann {
		if strings.HasPrefix(strings.ToLower(k), ReservedAnnotationPrefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return keys[0]
}
