package ecrapi

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
)

// imageFactsSeen is what imageFacts adds to an ImageDetail, as the SDK
// decoded it (zero values for absent fields).
type imageFactsSeen struct {
	Status, ManifestType, ArtifactType, Subject string
	Pulled                                      time.Time
}

// checkImageFacts compares the SDK-decoded details with want, by digest.
func checkImageFacts(details []ecrtypes.ImageDetail, want map[string]imageFactsSeen) error {
	got := map[string]imageFactsSeen{}
	for _, d := range details {
		f := imageFactsSeen{
			Status:       string(d.ImageStatus),
			ManifestType: aws.ToString(d.ImageManifestMediaType),
			ArtifactType: aws.ToString(d.ArtifactMediaType),
			Subject:      aws.ToString(d.SubjectManifestDigest),
		}
		if d.LastRecordedPullTime != nil {
			f.Pulled = d.LastRecordedPullTime.UTC()
		}
		got[aws.ToString(d.ImageDigest)] = f
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return fmt.Errorf("DescribeImages' image facts mismatch (-want +got):\n%s", diff)
	}
	return nil
}
