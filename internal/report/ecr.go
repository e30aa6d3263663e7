// Package report writes scan results: a table for people, the ECR
// DescribeImageScanFindings JSON shape (timestamps epoch seconds, as the
// ECR API sends them: scanning.Epoch), SARIF 2.1.0 and a CycloneDX SBOM
// with vulnerabilities.
//
// UNKNOWN_VERSION findings (a version that could not be compared, see
// package match) are rendered in every format, counted by severity like
// any other:
//   - ECR basic findings: attribute status UNKNOWN_VERSION and
//     version_unparseable, the scheme's error naming the version;
//   - ECR enhanced findings: fixAvailable as usual (YES when the advisory
//     names a fix) and a remediation text that gives the reason;
//   - table: the STATUS column, and a "degraded:" line in the summary;
//   - SARIF: a result at its severity's level (never lowered, so a CI gate
//     keeps failing), the reason in the message and in the
//     versionUnparseable property;
//   - CycloneDX: analysis state in_triage like every match, the reason in
//     analysis.detail.
//
// A fix delivered only through a channel besides the distribution's
// standard archive (match.Finding.FixChannel, such as Ubuntu Pro's
// esm-infra, esm-apps or esm-infra-legacy) is marked in every format,
// named with the service the distribution's descriptor gives it (Scan.Names);
// standard fixes are not marked:
//   - ECR basic findings: attribute fix_channel;
//   - ECR enhanced findings: vulnerablePackages[].fixChannel (a Stowaway
//     field next to fixedInVersion) and the remediation text;
//   - table: the FIXED IN column, "2.23-0ubuntu11.3+esm3 (esm-infra)";
//   - SARIF: the fixChannel result property and the message;
//   - CycloneDX: the stowaway:fix_channel vulnerability property and the
//     recommendation.
//
// Scan.Warnings adds one warning per degraded package to the inventory's.
// Image-controlled text in the table and in warnings is clipped and
// stripped of control characters (match.Clip).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/scanstatus"
	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Scan is everything a report needs.
type Scan struct {
	Inventory *inventory.Inventory
	Findings  []match.Finding
	// Degraded are the packages whose versions could not be compared
	// (match.Result.Degraded); their findings that depend on the
	// comparison have status UNKNOWN_VERSION.
	Degraded []match.Degraded
	// Enhanced selects ECR's enhanced-scanning shape (enhancedFindings).
	Enhanced bool
	// Status is an ECR scan status (COMPLETE, UNSUPPORTED_IMAGE ...) and
	// StatusDescription its explanation.
	Status            scanstatus.Status
	StatusDescription string
	CompletedAt       time.Time
	// DBUpdatedAt is when the vulnerability data was last updated.
	DBUpdatedAt time.Time
	// Repository, RegistryID and Tag fill the ECR envelope.
	Repository, RegistryID, Tag string
	// Names are the descriptors that name package managers, advisory
	// databases and fix channels, and build missing PURLs.
	Names names.Names
}

// Warnings are the inventory's warnings followed by one line per degraded
// package, naming its type, name, version and file and why its version
// could not be compared.
func (s Scan) Warnings() []string {
	var out []string
	if s.Inventory != nil {
		out = append(out, s.Inventory.Warnings...)
	}
	for _, d := range s.Degraded {
		out = append(out, fmt.Sprintf("%s package %s: version cannot be compared: %s; findings for it that depend on the version have status %s",
			d.Package.Type, d.Label(), match.Clip(d.Reason, 512), match.StatusUnknownVersion))
	}
	return out
}

// ECR shapes, as in the DescribeImageScanFindings response.

// ECRResponse is the DescribeImageScanFindings response.
type ECRResponse struct {
	RegistryID        string            `json:"registryId,omitempty"`
	RepositoryName    string            `json:"repositoryName,omitempty"`
	ImageID           ECRImageID        `json:"imageId"`
	ImageScanStatus   ECRScanStatus     `json:"imageScanStatus"`
	ImageScanFindings *ECRImageFindings `json:"imageScanFindings,omitempty"`
	NextToken         string            `json:"nextToken,omitempty"`
}

// ECRImageID names an image.
type ECRImageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

// ECRScanStatus is imageScanStatus.
type ECRScanStatus struct {
	Status      scanstatus.Status `json:"status"`
	Description string            `json:"description,omitempty"`
}

// ECRImageFindings is imageScanFindings.
type ECRImageFindings struct {
	ImageScanCompletedAt         *scanning.Epoch           `json:"imageScanCompletedAt,omitempty"`
	VulnerabilitySourceUpdatedAt *scanning.Epoch           `json:"vulnerabilitySourceUpdatedAt,omitempty"`
	FindingSeverityCounts        map[severity.Severity]int `json:"findingSeverityCounts"`
	Findings                     []ECRFinding              `json:"findings,omitempty"`
	EnhancedFindings             []ECREnhancedFinding      `json:"enhancedFindings,omitempty"`
}

// ECRFinding is a basic-scan finding.
type ECRFinding struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Severity    severity.Severity `json:"severity"`
	Attributes  []ECRAttribute    `json:"attributes"`
}

// ECRAttribute is a key/value attribute.
type ECRAttribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ECREnhancedFinding is an Inspector-style finding.
type ECREnhancedFinding struct {
	AWSAccountID                string             `json:"awsAccountId,omitempty"`
	Description                 string             `json:"description"`
	ExploitAvailable            string             `json:"exploitAvailable,omitempty"`
	FindingArn                  string             `json:"findingArn"`
	FirstObservedAt             scanning.Epoch     `json:"firstObservedAt"`
	FixAvailable                string             `json:"fixAvailable"`
	LastObservedAt              scanning.Epoch     `json:"lastObservedAt"`
	PackageVulnerabilityDetails PackageVulnDetails `json:"packageVulnerabilityDetails"`
	Remediation                 Remediation        `json:"remediation"`
	Resources                   []Resource         `json:"resources"`
	Score                       float64            `json:"score,omitempty"`
	Severity                    severity.Severity  `json:"severity"`
	Status                      string             `json:"status"`
	Title                       string             `json:"title"`
	Type                        string             `json:"type"`
	UpdatedAt                   scanning.Epoch     `json:"updatedAt"`
}

// PackageVulnDetails is packageVulnerabilityDetails.
type PackageVulnDetails struct {
	CVSS                   []CVSSScore         `json:"cvss,omitempty"`
	ReferenceURLs          []string            `json:"referenceUrls,omitempty"`
	RelatedVulnerabilities []string            `json:"relatedVulnerabilities,omitempty"`
	Source                 string              `json:"source"`
	SourceURL              string              `json:"sourceUrl,omitempty"`
	VendorCreatedAt        *scanning.Epoch     `json:"vendorCreatedAt,omitempty"`
	VendorSeverity         severity.Severity   `json:"vendorSeverity,omitempty"`
	VendorUpdatedAt        *scanning.Epoch     `json:"vendorUpdatedAt,omitempty"`
	VulnerabilityID        string              `json:"vulnerabilityId"`
	VulnerablePackages     []VulnerablePackage `json:"vulnerablePackages"`
}

// CVSSScore is one CVSS entry of an enhanced finding.
type CVSSScore struct {
	BaseScore     float64 `json:"baseScore"`
	ScoringVector string  `json:"scoringVector"`
	Source        string  `json:"source"`
	Version       string  `json:"version"`
}

// VulnerablePackage is one package of an enhanced finding.
type VulnerablePackage struct {
	Arch           string `json:"arch,omitempty"`
	Epoch          int    `json:"epoch"`
	FilePath       string `json:"filePath,omitempty"`
	FixedInVersion string `json:"fixedInVersion,omitempty"`
	// FixChannel is Stowaway's: the Ubuntu Pro service that delivers
	// FixedInVersion (esm-infra, esm-apps, esm-infra-legacy), or empty.
	FixChannel      string `json:"fixChannel,omitempty"`
	Name            string `json:"name"`
	PackageManager  string `json:"packageManager"`
	Release         string `json:"release,omitempty"`
	SourceLayerHash string `json:"sourceLayerHash,omitempty"`
	Version         string `json:"version"`
}

// Remediation is remediation.recommendation.
type Remediation struct {
	Recommendation struct {
		Text string `json:"text"`
	} `json:"recommendation"`
}

// Resource is the scanned image.
type Resource struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Details struct {
		AWSECRContainerImage struct {
			Architecture   string   `json:"architecture,omitempty"`
			ImageHash      string   `json:"imageHash,omitempty"`
			ImageTags      []string `json:"imageTags,omitempty"`
			Platform       string   `json:"platform,omitempty"`
			RepositoryName string   `json:"repositoryName,omitempty"`
		} `json:"awsEcrContainerImage"`
	} `json:"details"`
}

// SeverityCounts counts findings per ECR level, leaving out zeros.
func SeverityCounts(fs []match.Finding) map[severity.Severity]int {
	out := map[severity.Severity]int{}
	for _, f := range fs {
		out[f.Severity]++
	}
	return out
}

// BasicAttributes are a finding's ECR attributes (at most 50).
func BasicAttributes(f match.Finding) []ECRAttribute {
	attrs := []ECRAttribute{
		{"package_name", f.Package.Name},
		{"package_version", f.Package.Version},
	}
	add := func(k, v string) {
		if v != "" && len(attrs) < 50 {
			attrs = append(attrs, ECRAttribute{k, v})
		}
	}
	if f.CVSS2 != nil {
		add("CVSS2_SCORE", score(f.CVSS2.Score))
		add("CVSS2_VECTOR", f.CVSS2.Vector)
	}
	if f.CVSS3 != nil {
		add("CVSS3_SCORE", score(f.CVSS3.Score))
		add("CVSS3_VECTOR", f.CVSS3.Vector)
	}
	add("fixed_version", f.FixedVersion)
	add("fix_channel", string(f.FixChannel))
	add("status", string(f.Status))
	add("version_unparseable", f.VersionError)
	add("severity_source", f.SeveritySource)
	add("vendor_severity", string(f.VendorSeverity))
	add("package_path", f.Package.Path)
	add("layer_diff_id", f.Package.Layer)
	add("source_package_name", f.Package.SourceName)
	add("namespace", f.Namespace)
	if len(f.Related) > 0 {
		add("related_vulnerabilities", strings.Join(f.Related, ","))
	}
	return attrs
}

func score(s float64) string {
	if s == 0 {
		return ""
	}
	return strconv.FormatFloat(s, 'f', 1, 64)
}

// packageManager names the package manager as Inspector does: the OS
// package formats here, a language ecosystem's as its descriptor says.
func packageManager(n names.Names, t inventory.Type) string {
	switch t {
	case inventory.TypeDeb:
		return "DPKG"
	case inventory.TypeAPK:
		return "APK"
	case inventory.TypeRPM:
		return "OS"
	}
	if pm, ok := n.PackageManager(t); ok {
		return pm
	}
	return strings.ToUpper(string(t))
}

// ECR builds the DescribeImageScanFindings response for s.
func ECR(s Scan) ECRResponse {
	inv := s.Inventory
	r := ECRResponse{
		RegistryID:      s.RegistryID,
		RepositoryName:  s.Repository,
		ImageID:         ECRImageID{ImageDigest: inv.Source.Digest, ImageTag: s.Tag},
		ImageScanStatus: ECRScanStatus{Status: s.Status, Description: s.StatusDescription},
	}
	if r.ImageScanStatus.Status == "" {
		r.ImageScanStatus = ECRScanStatus{Status: scanstatus.Complete, Description: "The scan was completed successfully."}
	}
	if r.ImageID.ImageTag == "" && len(inv.Source.Tags) > 0 {
		r.ImageID.ImageTag = inv.Source.Tags[0]
	}
	fs := &ECRImageFindings{FindingSeverityCounts: SeverityCounts(s.Findings)}
	fs.ImageScanCompletedAt = scanning.EpochOf(s.CompletedAt)
	fs.VulnerabilitySourceUpdatedAt = scanning.EpochOf(s.DBUpdatedAt)
	for _, f := range s.Findings {
		if s.Enhanced {
			fs.EnhancedFindings = append(fs.EnhancedFindings, enhanced(s, f))
			continue
		}
		fs.Findings = append(fs.Findings, ECRFinding{Name: f.ID, Description: f.Description, URI: f.URI, Severity: f.Severity, Attributes: BasicAttributes(f)})
	}
	r.ImageScanFindings = fs
	return r
}

func enhanced(s Scan, f match.Finding) ECREnhancedFinding {
	inv := s.Inventory
	fix := "NO"
	if f.FixedVersion != "" {
		fix = "YES"
	}
	e := ECREnhancedFinding{
		Description:     f.Description,
		FindingArn:      fmt.Sprintf("arn:stowaway:finding/%s/%s/%s", strings.TrimPrefix(inv.Source.Digest, "sha256:"), f.ID, f.Package.PURL),
		FirstObservedAt: scanning.Epoch(s.CompletedAt),
		LastObservedAt:  scanning.Epoch(s.CompletedAt),
		UpdatedAt:       scanning.Epoch(s.CompletedAt),
		FixAvailable:    fix,
		Severity:        f.Severity,
		Status:          "ACTIVE",
		Title:           fmt.Sprintf("%s - %s", f.ID, f.Package.Name),
		Type:            "PACKAGE_VULNERABILITY",
	}
	d := &e.PackageVulnerabilityDetails
	d.VulnerabilityID = f.ID
	d.Source = strings.Join(f.Sources, ",")
	d.SourceURL = f.URI
	d.VendorSeverity = f.VendorSeverity
	d.ReferenceURLs = f.References
	d.RelatedVulnerabilities = f.Related
	d.VendorCreatedAt = scanning.EpochOf(f.Published)
	d.VendorUpdatedAt = scanning.EpochOf(f.Modified)
	for _, c := range []*match.Finding{&f} {
		if c.CVSS3 != nil {
			d.CVSS = append(d.CVSS, CVSSScore{BaseScore: c.CVSS3.Score, ScoringVector: c.CVSS3.Vector, Source: c.CVSS3.Source, Version: c.CVSS3.Version})
			e.Score = c.CVSS3.Score
		}
		if c.CVSS2 != nil {
			d.CVSS = append(d.CVSS, CVSSScore{BaseScore: c.CVSS2.Score, ScoringVector: c.CVSS2.Vector, Source: c.CVSS2.Source, Version: c.CVSS2.Version})
			if e.Score == 0 {
				e.Score = c.CVSS2.Score
			}
		}
	}
	p := f.Package
	vp := VulnerablePackage{Arch: p.Arch, Epoch: p.Epoch, FilePath: p.Path, FixedInVersion: f.FixedVersion, FixChannel: string(f.FixChannel), Name: p.Name,
		PackageManager: packageManager(s.Names, p.Type), Release: p.Release, SourceLayerHash: p.Layer, Version: p.Version}
	if vp.FixedInVersion == "" {
		vp.FixedInVersion = "NotAvailable"
	}
	d.VulnerablePackages = []VulnerablePackage{vp}
	switch {
	case f.Status == match.StatusUnknownVersion && f.FixedVersion != "":
		e.Remediation.Recommendation.Text = fmt.Sprintf("Versions could not be compared (%s). Make sure %s is at %s or later.", f.VersionError, p.Name, f.FixedVersion)
	case f.Status == match.StatusUnknownVersion:
		e.Remediation.Recommendation.Text = fmt.Sprintf("Versions could not be compared (%s). No fixed version is known.", f.VersionError)
	case f.FixedVersion != "":
		e.Remediation.Recommendation.Text = fmt.Sprintf("Upgrade %s to %s or later.", p.Name, f.FixedVersion)
	default:
		e.Remediation.Recommendation.Text = "None provided"
	}
	if f.FixedVersion != "" && f.FixChannel != "" {
		e.Remediation.Recommendation.Text += " " + FixChannelNote(s.Names, f.FixChannel)
	}
	res := Resource{ID: inv.Source.Ref, Type: "AWS_ECR_CONTAINER_IMAGE"}
	img := &res.Details.AWSECRContainerImage
	img.Architecture, img.ImageHash, img.ImageTags, img.RepositoryName = inv.Source.Architecture, inv.Source.Digest, inv.Source.Tags, s.Repository
	if inv.Distro != nil {
		img.Platform = strings.ToUpper(inv.Distro.ID) + "_" + inv.Distro.Release
	}
	e.Resources = []Resource{res}
	return e
}

// FixChannelNote says, for people, where a fix of channel ch comes from and
// what a machine needs to install it, in the words of the distribution
// that declares the channel (n): "The fix is delivered only through
// <service> (<channel>): <enable> to install it."
func FixChannelNote(n names.Names, ch advisory.FixChannel) string {
	c := n.FixChannel(ch)
	return fmt.Sprintf("The fix is delivered only through %s (%s): %s to install it.", c.Service, ch, c.Enable)
}

// WriteJSON writes the ECR response as indented JSON.
func WriteJSON(w io.Writer, s Scan) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(ECR(s))
}

// sortedKeys returns the severity keys of counts, worst first.
func sortedKeys(counts map[severity.Severity]int) []severity.Severity {
	keys := make([]severity.Severity, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return severity.Compare(keys[i], keys[j]) > 0 })
	return keys
}
