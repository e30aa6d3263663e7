package scanning

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRouteEnhanced(t *testing.T) {
	im := ECRImage{Account: "123456789012", Region: "eu-west-1", Repository: "team/app", Digest: "sha256:abc",
		PushedAt: time.Date(2026, 11, 22, 9, 30, 0, 250e6, time.UTC)}
	if got, want := im.ARN(), "arn:aws:ecr:eu-west-1:123456789012:repository/team/app/sha256:abc"; got != want {
		t.Errorf("ARN = %q, want %q", got, want)
	}
	a := FindingARN(im, "CVE-1", []string{"b", "a", "a"})
	if a != FindingARN(im, "CVE-1", []string{"a", "b"}) {
		t.Error("FindingARN depends on the order of packages")
	}
	if !regexp.MustCompile(`^arn:aws:inspector2:eu-west-1:123456789012:finding/[a-f0-9]{32}$`).MatchString(a) {
		t.Errorf("FindingARN = %q", a)
	}
	for _, other := range []string{FindingARN(im, "CVE-2", []string{"a", "b"}), FindingARN(im, "CVE-1", []string{"a"}),
		FindingARN(ECRImage{Account: im.Account, Region: im.Region, Repository: "team/other", Digest: im.Digest}, "CVE-1", []string{"a", "b"})} {
		if other == a {
			t.Errorf("FindingARN %q names two findings", a)
		}
	}
	for _, tc := range []struct {
		name, in string
		want     map[string]any
		wantErr  bool
	}{
		{
			name: "resource kept, routing set",
			in:   `{"title":"t","packageVulnerabilityDetails":{"vulnerabilityId":"CVE-1","vulnerablePackages":[{"name":"a"},{"name":"b"}]},"resources":[{"id":"registry:x","type":"AWS_ECR_CONTAINER_IMAGE","details":{"awsEcrContainerImage":{"architecture":"arm64","author":"me"}}}]}`,
			want: map[string]any{
				"title": "t", "findingArn": a, "awsAccountId": "123456789012",
				"packageVulnerabilityDetails": map[string]any{"vulnerabilityId": "CVE-1", "vulnerablePackages": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
				"resources": []any{map[string]any{"id": im.ARN(), "type": "AWS_ECR_CONTAINER_IMAGE", "details": map[string]any{"awsEcrContainerImage": map[string]any{
					"architecture": "arm64", "author": "me", "repositoryName": "team/app", "registry": "123456789012", "imageTags": []any{}, "imageHash": "sha256:abc", "pushedAt": 1795339800.25,
				}}}},
			},
		},
		{
			name: "no resource: one is made",
			in:   `{"packageVulnerabilityDetails":{"vulnerabilityId":"CVE-1","vulnerablePackages":[{"name":"a"},{"name":"b"}]}}`,
			want: map[string]any{
				"findingArn": a, "awsAccountId": "123456789012",
				"packageVulnerabilityDetails": map[string]any{"vulnerabilityId": "CVE-1", "vulnerablePackages": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
				"resources": []any{map[string]any{"id": im.ARN(), "type": "AWS_ECR_CONTAINER_IMAGE", "details": map[string]any{"awsEcrContainerImage": map[string]any{
					"repositoryName": "team/app", "registry": "123456789012", "imageTags": []any{}, "imageHash": "sha256:abc", "pushedAt": 1795339800.25,
				}}}},
			},
		},
		{name: "not an object", in: `[1]`, wantErr: true},
		{name: "resources not a list", in: `{"resources":{}}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := RouteEnhanced(json.RawMessage(tc.in), im)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
