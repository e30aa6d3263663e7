// Package report writes scan results: a table for people, the ECR
// DescribeImageScanFindings JSON shape (timestamps epoch seconds, as the
// ECR API sends them: scanning.Epoch), SARIF 2.1.0 and a CycloneDX SBOM
// with vulnerabilities.
//
// ECR enhanced findings have Amazon Inspector's shape: one finding per
// vulnerability and advisory namespace listing every package it affects,
// fixAvailable YES, NO or PARTIAL, Inspector's levels (UNTRIAGED for
// UNDEFINED, in the counts too), scoreDetails.cvss, and the package manager
// Inspector names (names.Names.PackageManager). What depends on where the
// image lives (findingArn, awsAccountId, the image ARN, registry, tags,
// pushedAt) is added by ECR (the repository is Scan.Repository, else that
// of the image's reference) and, for a stored result (ScanningResult, not
// routed), by scanning.RouteEnhanced when the server serves it.
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
// Exploit context (exploitAvailable, the KEV entry, the EPSS score) is
// rendered in every format too; exploit.go lists where.
//
// Scan.Warnings adds one warning per degraded package to the inventory's.
// Image-controlled text in the table and in warnings is clipped and
// stripped of control characters (match.Clip).
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
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
	// Repository, RegistryID and Tag fill the ECR envelope. ECR routes
	// enhanced findings to the image: RegistryID (default 000000000000)
	// and Region (default us-east-1) make their ARNs, PushedAt is
	// pushedAt, Repository (default: the reference's) the repository.
	Repository, RegistryID, Tag string
	Region                      string
	PushedAt                    time.Time
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
	AWSAccountID string `json:"awsAccountId,omitempty"`
	Description  string `json:"description"`
	// EPSS, ExploitAvailable and ExploitabilityDetails are Inspector's
	// (EPSS.Percentile and KEV are Stowaway's; see exploit.go).
	EPSS                        *EPSSDetails           `json:"epss,omitempty"`
	ExploitAvailable            string                 `json:"exploitAvailable,omitempty"`
	ExploitabilityDetails       *ExploitabilityDetails `json:"exploitabilityDetails,omitempty"`
	FindingArn                  string                 `json:"findingArn,omitempty"`
	FirstObservedAt             scanning.Epoch         `json:"firstObservedAt"`
	FixAvailable                string                 `json:"fixAvailable"`
	KEV                         *KEVDetails            `json:"kev,omitempty"`
	LastObservedAt              scanning.Epoch         `json:"lastObservedAt"`
	PackageVulnerabilityDetails PackageVulnDetails     `json:"packageVulnerabilityDetails"`
	Remediation                 Remediation            `json:"remediation"`
	Resources                   []Resource             `json:"resources"`
	Score                       float64                `json:"score,omitempty"`
	ScoreDetails                *ScoreDetails          `json:"scoreDetails,omitempty"`
	Severity                    severity.Severity      `json:"severity"`
	Status                      string                 `json:"status"`
	Title                       string                 `json:"title"`
	Type                        string                 `json:"type"`
	UpdatedAt                   scanning.Epoch         `json:"updatedAt"`
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

// ScoreDetails is scoreDetails: the CVSS score behind score.
type ScoreDetails struct {
	CVSS CVSSScoreDetails `json:"cvss"`
}

// CVSSScoreDetails is scoreDetails.cvss. ScoreSource is who scored it (the
// CVSS entry's source); Adjustments is always empty: Stowaway does not
// adjust scores to the environment as Inspector may.
type CVSSScoreDetails struct {
	Adjustments   []CVSSAdjustment `json:"adjustments"`
	Score         float64          `json:"score"`
	ScoreSource   string           `json:"scoreSource"`
	ScoringVector string           `json:"scoringVector"`
	Version       string           `json:"version"`
}

// CVSSAdjustment is one adjustment of a score (metric and reason).
type CVSSAdjustment struct {
	Metric string `json:"metric"`
	Reason string `json:"reason"`
}

// VulnerablePackage is one package of an enhanced finding.
type VulnerablePackage struct {
	Arch           string `json:"arch,omitempty"`
	Epoch          int    `json:"epoch"`
	FilePath       string `json:"filePath,omitempty"`
	FixedInVersion string `json:"fixedInVersion,omitempty"`
	// FixChannel is Stowaway's: the Ubuntu Pro service that delivers
	// FixedInVersion (esm-infra, esm-apps, esm-infra-legacy), or empty.
	FixChannel string `json:"fixChannel,omitempty"`
	// SymbolPresence and VulnerableSymbols are Stowaway's: whether the
	// vulnerable Go symbols are in this binary (PRESENT, NOT_PRESENT,
	// UNKNOWN) and those found; set for Go modules and the standard
	// library only.
	SymbolPresence    string   `json:"symbolPresence,omitempty"`
	VulnerableSymbols []string `json:"vulnerableSymbols,omitempty"`
	Name              string   `json:"name"`
	PackageManager    string   `json:"packageManager"`
	Release           string   `json:"release,omitempty"`
	SourceLayerHash   string   `json:"sourceLayerHash,omitempty"`
	Version           string   `json:"version"`
	// DependencyScope and IntroducedThrough are Stowaway's (Inspector has
	// no such field): for a language package whose lockfile records a
	// dependency graph, "direct" or "transitive", and a shortest path
	// from the project to the package (name@version each, the package
	// last; empty when the file says transitive but not through which).
	DependencyScope   string   `json:"dependencyScope,omitempty"`
	IntroducedThrough []string `json:"introducedThrough,omitempty"`
}

// Remediation is remediation.recommendation.
type Remediation struct {
	Recommendation struct {
		Text string `json:"text"`
	} `json:"recommendation"`
}

// Resource is the scanned image. What names it in a registry (the image
// ARN as ID, repositoryName, registry, imageTags, pushedAt) is set by ECR
// and, for a stored result, by scanning.RouteEnhanced when the server
// serves it; ID is the scanned reference until then.
type Resource struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Details struct {
		AWSECRContainerImage struct {
			Architecture   string          `json:"architecture,omitempty"`
			Author         string          `json:"author,omitempty"`
			ImageHash      string          `json:"imageHash,omitempty"`
			ImageTags      []string        `json:"imageTags,omitempty"`
			Platform       string          `json:"platform,omitempty"`
			PushedAt       *scanning.Epoch `json:"pushedAt,omitempty"`
			Registry       string          `json:"registry,omitempty"`
			RepositoryName string          `json:"repositoryName,omitempty"`
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
	for _, kv := range exploitAttributes(f) {
		add(kv[0], kv[1])
	}
	for _, kv := range symbolAttributes(f) {
		add(kv[0], kv[1])
	}
	return attrs
}

func score(s float64) string {
	if s == 0 {
		return ""
	}
	return strconv.FormatFloat(s, 'f', 1, 64)
}

// packageManager names the package manager of p as Inspector does (see
// names.Names.PackageManager), or its type in capitals when no descriptor
// names one.
func packageManager(n names.Names, p inventory.Package) string {
	if pm, ok := n.PackageManager(p); ok {
		return pm
	}
	return strings.ToUpper(string(p.Type))
}

// ECR builds the DescribeImageScanFindings response for s, its enhanced
// findings routed to the image (scanning.RouteEnhanced's fields) as
// DescribeImageScanFindings serves them.
func ECR(s Scan) ECRResponse { return ecr(s, true) }

// ecr is ECR, routing enhanced findings when route is set (a stored
// result is routed when served: ScanningResult).
func ecr(s Scan, route bool) ECRResponse {
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
	if s.Enhanced {
		// Inspector counts its findings, one per vulnerability and
		// advisory source, at its levels.
		fs.FindingSeverityCounts = map[severity.Severity]int{}
		for _, g := range enhancedGroups(s.Findings) {
			e := enhanced(s, g)
			if route {
				routeEnhanced(&e, s.image())
			}
			fs.EnhancedFindings = append(fs.EnhancedFindings, e)
			fs.FindingSeverityCounts[e.Severity]++
		}
	} else {
		for _, f := range s.Findings {
			fs.Findings = append(fs.Findings, ECRFinding{Name: f.ID, Description: f.Description, URI: f.URI, Severity: f.Severity, Attributes: BasicAttributes(f)})
		}
	}
	r.ImageScanFindings = fs
	return r
}

// image is where s's image lives, for routing its enhanced findings. A
// scan that names no repository (scan --format json) is routed to the
// repository of its first tag, else of its reference, with the tags'
// tag parts.
func (s Scan) image() scanning.ECRImage {
	src := s.Inventory.Source
	im := scanning.ECRImage{Account: s.RegistryID, Region: s.Region, Repository: s.Repository, Digest: src.Digest, Tags: src.Tags, PushedAt: s.PushedAt}
	if im.Repository == "" {
		ref := src.Ref
		if len(src.Tags) > 0 {
			ref = src.Tags[0]
		}
		im.Repository, _ = splitRef(ref)
		im.Tags = nil
		for _, t := range src.Tags {
			if _, tag := splitRef(t); tag != "" {
				im.Tags = append(im.Tags, tag)
			}
		}
	}
	if im.Account == "" {
		im.Account = DefaultAccount
	}
	if im.Region == "" {
		im.Region = DefaultRegion
	}
	return im
}

// splitRef splits an image reference ("[kind:]host/team/app:tag@digest",
// "docker-archive:dir/app.tar") into a repository name, without the kind,
// the registry host, the digest and any file extension, and its tag.
func splitRef(ref string) (repo, tag string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	for _, kind := range []string{"registry:", "docker-archive:", "oci-layout:", "dir:"} {
		ref = strings.TrimPrefix(ref, kind)
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref, tag = ref[:i], ref[i+1:]
	}
	if first, rest, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		ref = rest
	}
	ref = strings.TrimSuffix(strings.TrimPrefix(ref, "/"), ".tar")
	return strings.ToLower(ref), tag
}

// DefaultAccount and DefaultRegion make the ARNs of a scan that names no
// account or region (the server's defaults of serve --account-id and
// --region).
const (
	DefaultAccount = "000000000000"
	DefaultRegion  = "us-east-1"
)

// routeEnhanced sets what names the image of e in its registry, as
// scanning.RouteEnhanced does for a stored finding.
func routeEnhanced(e *ECREnhancedFinding, im scanning.ECRImage) {
	var pkgs []string
	for _, p := range e.PackageVulnerabilityDetails.VulnerablePackages {
		pkgs = append(pkgs, p.Name)
	}
	e.FindingArn = scanning.FindingARN(im, e.PackageVulnerabilityDetails.VulnerabilityID, pkgs)
	e.AWSAccountID = im.Account
	for i := range e.Resources {
		r := &e.Resources[i]
		r.ID, r.Type = im.ARN(), "AWS_ECR_CONTAINER_IMAGE"
		d := &r.Details.AWSECRContainerImage
		d.RepositoryName, d.Registry, d.ImageHash = im.Repository, im.Account, im.Digest
		d.ImageTags = im.Tags
		if d.ImageTags == nil {
			d.ImageTags = []string{}
		}
		d.PushedAt = scanning.EpochOf(im.PushedAt)
	}
}

// enhancedGroups groups findings as Inspector does: one finding per
// vulnerability and advisory namespace, listing every package it affects
// (the binary packages of one source package, one library at several
// paths), in the order the findings come.
func enhancedGroups(fs []match.Finding) [][]match.Finding {
	var out [][]match.Finding
	at := map[[2]string]int{}
	for _, f := range fs {
		k := [2]string{f.ID, f.Namespace}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], f)
	}
	return out
}

// fixAvailable is Inspector's fixAvailable of a finding: YES when every
// affected package has a fixed version, NO when none has, else PARTIAL.
func fixAvailable(g []match.Finding) string {
	fixed := 0
	for _, f := range g {
		if f.FixedVersion != "" {
			fixed++
		}
	}
	switch fixed {
	case len(g):
		return "YES"
	case 0:
		return "NO"
	}
	return "PARTIAL"
}

// remediation is the recommendation for one affected package, or "" when
// there is none.
func remediation(s Scan, f match.Finding) string {
	var t string
	switch {
	case f.Status == match.StatusUnknownVersion && f.FixedVersion != "":
		t = fmt.Sprintf("Versions could not be compared (%s). Make sure %s is at %s or later.", f.VersionError, f.Package.Name, f.FixedVersion)
	case f.Status == match.StatusUnknownVersion:
		t = fmt.Sprintf("Versions could not be compared (%s). No fixed version is known.", f.VersionError)
	case f.FixedVersion != "":
		t = fmt.Sprintf("Upgrade %s to %s or later.", f.Package.Name, f.FixedVersion)
	}
	if f.FixedVersion != "" && f.FixChannel != "" {
		t += " " + FixChannelNote(s.Names, f.FixChannel)
	}
	return t
}

// lead is what a group of findings of one vulnerability says about the
// vulnerability: the first finding's, each field missing there taken from
// the first finding that has it, at the group's highest severity.
func lead(g []match.Finding) match.Finding {
	f := g[0]
	for _, x := range g[1:] {
		if severity.Compare(x.Severity, f.Severity) > 0 {
			f.Severity = x.Severity
		}
		if f.Description == "" {
			f.Description = x.Description
		}
		if f.URI == "" {
			f.URI = x.URI
		}
		if f.CVSS3 == nil {
			f.CVSS3 = x.CVSS3
		}
		if f.CVSS2 == nil {
			f.CVSS2 = x.CVSS2
		}
		if f.VendorSeverity == "" {
			f.VendorSeverity = x.VendorSeverity
		}
		if f.References == nil {
			f.References = x.References
		}
		if f.Related == nil {
			f.Related = x.Related
		}
		if f.Published.IsZero() {
			f.Published = x.Published
		}
		if f.Modified.IsZero() {
			f.Modified = x.Modified
		}
		if f.ExploitAvailable == "" {
			f.ExploitAvailable = x.ExploitAvailable
		}
		if f.KEV == nil {
			f.KEV = x.KEV
		}
		if f.EPSS == nil {
			f.EPSS = x.EPSS
		}
	}
	return f
}

// enhanced builds the enhanced finding of a group of findings of one
// vulnerability (enhancedGroups).
func enhanced(s Scan, g []match.Finding) ECREnhancedFinding {
	inv := s.Inventory
	f := lead(g)
	var pkgNames, texts []string
	e := ECREnhancedFinding{
		Description:     f.Description,
		FirstObservedAt: scanning.Epoch(s.CompletedAt),
		LastObservedAt:  scanning.Epoch(s.CompletedAt),
		UpdatedAt:       scanning.Epoch(s.CompletedAt),
		FixAvailable:    fixAvailable(g),
		Severity:        f.Severity.Inspector(),
		Status:          "ACTIVE",
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
	for _, c := range []*advisory.CVSS{f.CVSS3, f.CVSS2} {
		if c == nil {
			continue
		}
		d.CVSS = append(d.CVSS, CVSSScore{BaseScore: c.Score, ScoringVector: c.Vector, Source: c.Source, Version: c.Version})
		if e.ScoreDetails == nil {
			e.Score = c.Score
			e.ScoreDetails = &ScoreDetails{CVSS: CVSSScoreDetails{Adjustments: []CVSSAdjustment{}, Score: c.Score, ScoreSource: c.Source, ScoringVector: c.Vector, Version: c.Version}}
		}
	}
	for _, x := range g {
		p := x.Package
		vp := VulnerablePackage{Arch: p.Arch, Epoch: p.Epoch, FilePath: p.Path, FixedInVersion: x.FixedVersion, FixChannel: string(x.FixChannel), Name: p.Name,
			PackageManager: packageManager(s.Names, p), Release: p.Release, SourceLayerHash: p.Layer, Version: p.Version,
			SymbolPresence: string(x.SymbolPresence), VulnerableSymbols: x.VulnerableSymbols}
		if vp.FixedInVersion == "" {
			vp.FixedInVersion = "NotAvailable"
		}
		if dep := x.Dependency; dep != nil {
			vp.DependencyScope, vp.IntroducedThrough = string(dep.Scope), dep.IntroducedThrough
		}
		d.VulnerablePackages = append(d.VulnerablePackages, vp)
		if !slices.Contains(pkgNames, p.Name) {
			pkgNames = append(pkgNames, p.Name)
		}
		if t := remediation(s, x); t != "" && !slices.Contains(texts, t) {
			texts = append(texts, t)
		}
	}
	setExploit(&e, f)
	e.Title = fmt.Sprintf("%s - %s", f.ID, strings.Join(pkgNames, ", "))
	e.Remediation.Recommendation.Text = strings.Join(texts, " ")
	if e.Remediation.Recommendation.Text == "" {
		e.Remediation.Recommendation.Text = "None provided"
	}
	res := Resource{ID: inv.Source.Ref, Type: "AWS_ECR_CONTAINER_IMAGE"}
	img := &res.Details.AWSECRContainerImage
	img.Architecture, img.Author, img.ImageHash, img.ImageTags, img.RepositoryName = inv.Source.Architecture, inv.Source.Author, inv.Source.Digest, inv.Source.Tags, s.Repository
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
