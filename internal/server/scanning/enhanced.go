package scanning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// An enhanced finding is stored as the scan made it, without what depends
// on where the image lives: the same scan result serves every tag, and
// tags move. RouteEnhanced adds those fields when a finding is served or
// announced, from an ECRImage.

// ECRImage is what routes enhanced findings to an image in a registry,
// as Amazon Inspector writes it into every finding.
type ECRImage struct {
	// Account is the 12-digit account (registry) id and Region the
	// region, both of ARNs.
	Account, Region string
	Repository      string
	// Digest is the image manifest digest, sha256:<hex>.
	Digest   string
	Tags     []string
	PushedAt time.Time
}

// ARN is the image's ARN as Inspector names an ECR image resource:
// arn:aws:ecr:<region>:<account>:repository/<repository>/sha256:<hex>.
func (im ECRImage) ARN() string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s/%s", im.Region, im.Account, im.Repository, im.Digest)
}

// FindingARN is the ARN of Inspector's form of the finding of vulnerability
// vulnID in packages of the image: arn:aws:inspector2:<region>:<account>:
// finding/<32 hex>, the hex a hash of the repository, the digest, the
// vulnerability id and the package names (in any order). It is the same for
// every rescan that reports the vulnerability in the same packages.
func FindingARN(im ECRImage, vulnID string, packages []string) string {
	ps := slices.Clone(packages)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	h := sha256.New()
	for _, s := range append([]string{im.Repository, im.Digest, vulnID}, ps...) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	return fmt.Sprintf("arn:aws:inspector2:%s:%s:finding/%s", im.Region, im.Account, hex.EncodeToString(h.Sum(nil))[:32])
}

// EnhancedIdentity is what identifies a stored enhanced finding: its
// vulnerability and the names of its vulnerable packages.
func EnhancedIdentity(raw json.RawMessage) (vulnID string, packages []string, err error) {
	var f struct {
		Details struct {
			VulnerabilityID    string `json:"vulnerabilityId"`
			VulnerablePackages []struct {
				Name string `json:"name"`
			} `json:"vulnerablePackages"`
		} `json:"packageVulnerabilityDetails"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", nil, fmt.Errorf("scanning: enhanced finding: %w", err)
	}
	for _, p := range f.Details.VulnerablePackages {
		packages = append(packages, p.Name)
	}
	return f.Details.VulnerabilityID, packages, nil
}

// EnhancedDetails are what an announcement of a stored enhanced finding
// carries besides its identity: fixAvailable and each vulnerable
// package's packageManager by package name.
func EnhancedDetails(raw json.RawMessage) (fixAvailable string, managers map[string]string, err error) {
	var f struct {
		FixAvailable string `json:"fixAvailable"`
		Details      struct {
			VulnerablePackages []struct {
				Name           string `json:"name"`
				PackageManager string `json:"packageManager"`
			} `json:"vulnerablePackages"`
		} `json:"packageVulnerabilityDetails"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", nil, fmt.Errorf("scanning: enhanced finding: %w", err)
	}
	managers = map[string]string{}
	for _, p := range f.Details.VulnerablePackages {
		managers[p.Name] = p.PackageManager
	}
	return f.FixAvailable, managers, nil
}

// RouteEnhanced returns the stored enhanced finding raw with the fields
// that name the image in its registry set from im: findingArn,
// awsAccountId, and on its resource the image ARN as id and, in
// details.awsEcrContainerImage, repositoryName, registry, imageTags and
// pushedAt (epoch seconds). Every other field is kept as stored.
func RouteEnhanced(raw json.RawMessage, im ECRImage) (json.RawMessage, error) {
	vulnID, pkgs, err := EnhancedIdentity(raw)
	if err != nil {
		return nil, err
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("scanning: enhanced finding: %w", err)
	}
	var res []map[string]json.RawMessage
	if r, ok := f["resources"]; ok && string(r) != "null" {
		if err := json.Unmarshal(r, &res); err != nil {
			return nil, fmt.Errorf("scanning: enhanced finding resources: %w", err)
		}
	}
	if len(res) == 0 {
		res = []map[string]json.RawMessage{{}}
	}
	tags := im.Tags
	if tags == nil {
		tags = []string{}
	}
	set := func(m map[string]json.RawMessage, k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("scanning: enhanced finding %s: %w", k, err)
		}
		m[k] = b
		return nil
	}
	for _, r := range res {
		var details map[string]json.RawMessage
		if d, ok := r["details"]; ok && string(d) != "null" {
			if err := json.Unmarshal(d, &details); err != nil {
				return nil, fmt.Errorf("scanning: enhanced finding details: %w", err)
			}
		}
		if details == nil {
			details = map[string]json.RawMessage{}
		}
		var img map[string]json.RawMessage
		if d, ok := details["awsEcrContainerImage"]; ok && string(d) != "null" {
			if err := json.Unmarshal(d, &img); err != nil {
				return nil, fmt.Errorf("scanning: enhanced finding image details: %w", err)
			}
		}
		if img == nil {
			img = map[string]json.RawMessage{}
		}
		if err := set(img, "repositoryName", im.Repository); err != nil {
			return nil, err
		}
		if err := set(img, "registry", im.Account); err != nil {
			return nil, err
		}
		if err := set(img, "imageTags", tags); err != nil {
			return nil, err
		}
		if err := set(img, "imageHash", im.Digest); err != nil {
			return nil, err
		}
		if !im.PushedAt.IsZero() {
			if err := set(img, "pushedAt", Epoch(im.PushedAt)); err != nil {
				return nil, err
			}
		}
		if err := set(details, "awsEcrContainerImage", img); err != nil {
			return nil, err
		}
		if err := set(r, "details", details); err != nil {
			return nil, err
		}
		if err := set(r, "id", im.ARN()); err != nil {
			return nil, err
		}
		if err := set(r, "type", "AWS_ECR_CONTAINER_IMAGE"); err != nil {
			return nil, err
		}
	}
	if err := set(f, "resources", res); err != nil {
		return nil, err
	}
	if err := set(f, "findingArn", FindingARN(im, vulnID, pkgs)); err != nil {
		return nil, err
	}
	if err := set(f, "awsAccountId", im.Account); err != nil {
		return nil, err
	}
	out, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("scanning: enhanced finding: %w", err)
	}
	return out, nil
}
