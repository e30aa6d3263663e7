package events

import (
	"encoding/json"
	"fmt"
	"github.com/stowaway-scanner/stowaway/internal/severity"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Detail types and sources of the events Stowaway emits.
const (
	SourceECR = "aws.ecr"
	// SourceInspector2 is the source of enhanced scan events.
	SourceInspector2 = "aws.inspector2"
	// DetailTypeScan is Amazon ECR's basic scan completion event.
	DetailTypeScan = "ECR Image Scan"
	// DetailTypeInspectorScan is the completion event of an enhanced scan,
	// which Amazon ECR delegates to Amazon Inspector.
	DetailTypeInspectorScan = "Inspector2 Scan"
	// DetailTypeFindingsChange is Stowaway's own event for a continuous
	// rescan that found new findings or resolved old ones.
	DetailTypeFindingsChange = "ECR Image Scan Findings Change"
)

// DetailTypes lists every detail type Stowaway emits.
func DetailTypes() []string {
	return []string{DetailTypeScan, DetailTypeInspectorScan, DetailTypeFindingsChange}
}

// InspectorScanComplete is the scan-status of a completed enhanced scan.
const InspectorScanComplete = "INITIAL_SCAN_COMPLETE"

// Event is an EventBridge envelope. Detail is kept as raw JSON so an event
// read back from the outbox is byte-for-byte what was built.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Meta carries the envelope fields that vary per event. A zero ID gets a
// random UUID and a zero Time gets the current time.
type Meta struct {
	ID   string
	Time time.Time
}

// Image identifies the scanned image.
type Image struct {
	Account    string
	Region     string
	Repository string
	Digest     string
	Tags       []string
}

// RepositoryARN returns the image's repository ARN as ECR writes it.
func (im Image) RepositoryARN() string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", im.Region, im.Account, im.Repository)
}

// ImageARN returns the image's ARN as Amazon Inspector names an ECR image
// resource: the repository ARN, "/" and the digest.
func (im Image) ImageARN() string { return im.RepositoryARN() + "/" + im.Digest }

// Finding is one finding in a findings-change event. A finding of an
// enhanced scan also carries what Amazon Inspector routes findings by:
// its finding ARN, fixAvailable (YES, NO, PARTIAL) and the package's
// packageManager, as DescribeImageScanFindings gives them. Any finding
// with a CVE also carries its exploit context when the vulnerability DB
// has it: exploit-available (YES when the CVE is in CISA's KEV catalog,
// NO when not) and epss-score (absent when unscored).
type Finding struct {
	Name             string            `json:"name"`
	Severity         severity.Severity `json:"severity"`
	PackageName      string            `json:"package-name"`
	PackageVersion   string            `json:"package-version"`
	FindingARN       string            `json:"finding-arn,omitempty"`
	FixAvailable     string            `json:"fix-available,omitempty"`
	PackageManager   string            `json:"package-manager,omitempty"`
	ExploitAvailable string            `json:"exploit-available,omitempty"`
	EPSSScore        *float64          `json:"epss-score,omitempty"`
}

type scanDetail struct {
	ScanStatus     string                    `json:"scan-status"`
	RepositoryName string                    `json:"repository-name"`
	Counts         map[severity.Severity]int `json:"finding-severity-counts"`
	ImageDigest    string                    `json:"image-digest"`
	ImageTags      []string                  `json:"image-tags"`
	// ScanTypeVersion is Stowaway's addition: the BASIC_SCAN_TYPE_VERSION
	// the scan ran under (absent when unknown).
	ScanTypeVersion string `json:"basic-scan-type-version,omitempty"`
}

type changeDetail struct {
	RepositoryName string                    `json:"repository-name"`
	ImageDigest    string                    `json:"image-digest"`
	ImageTags      []string                  `json:"image-tags"`
	NewFindings    []Finding                 `json:"new-findings"`
	Resolved       []Finding                 `json:"resolved-findings"`
	Counts         map[severity.Severity]int `json:"finding-severity-counts"`
}

// ScanCompleted builds the "ECR Image Scan" event for a finished basic scan.
// Counts with a zero value are left out, as ECR does.
func ScanCompleted(m Meta, img Image, status string, counts map[severity.Severity]int) (Event, error) {
	return BasicScanCompleted(m, img, status, counts, "")
}

// BasicScanCompleted is ScanCompleted with the BASIC_SCAN_TYPE_VERSION
// account setting the scan ran under (AWS_NATIVE or CLAIR) in the detail's
// basic-scan-type-version ("" leaves it out, as ScanCompleted does).
func BasicScanCompleted(m Meta, img Image, status string, counts map[severity.Severity]int, scanTypeVersion string) (Event, error) {
	d := scanDetail{
		ScanStatus:      status,
		RepositoryName:  img.Repository,
		Counts:          nonZero(counts),
		ImageDigest:     img.Digest,
		ImageTags:       nonNil(img.Tags),
		ScanTypeVersion: scanTypeVersion,
	}
	return envelope(m, img, DetailTypeScan, d)
}

// NewFindings builds the "ECR Image Scan Findings Change" event for a
// continuous rescan: added are the findings that appeared, resolved those
// that disappeared, counts the image's severity counts after the rescan.
func NewFindings(m Meta, img Image, added, resolved []Finding, counts map[severity.Severity]int) (Event, error) {
	d := changeDetail{
		RepositoryName: img.Repository,
		ImageDigest:    img.Digest,
		ImageTags:      nonNil(img.Tags),
		NewFindings:    nonNil(added),
		Resolved:       nonNil(resolved),
		Counts:         nonZero(counts),
	}
	return envelope(m, img, DetailTypeFindingsChange, d)
}

// InspectorScan builds the "Inspector2 Scan" event (source aws.inspector2)
// for a finished enhanced scan, as Amazon Inspector emits it for ECR images:
// repository-name is the repository ARN, scan-status is
// INITIAL_SCAN_COMPLETE for a completed scan (other statuses, such as
// FAILED, are passed through), the counts carry a TOTAL (and UNTRIAGED for
// unscored findings, as the scan's counts do), and the event's resource
// is the image ARN. Counts with a zero value are left out.
func InspectorScan(m Meta, img Image, status string, counts map[severity.Severity]int) (Event, error) {
	if status == "COMPLETE" {
		status = InspectorScanComplete
	}
	c := nonZero(counts)
	total := 0
	for k, v := range c {
		if k != "TOTAL" {
			total += v
		}
	}
	c["TOTAL"] = total
	d := scanDetail{
		ScanStatus:     status,
		RepositoryName: img.RepositoryARN(),
		Counts:         c,
		ImageDigest:    img.Digest,
		ImageTags:      nonNil(img.Tags),
	}
	ev, err := envelope(m, img, DetailTypeInspectorScan, d)
	ev.Source = SourceInspector2
	ev.Resources = []string{img.ImageARN()}
	return ev, err
}

func envelope(m Meta, img Image, detailType string, detail any) (Event, error) {
	raw, err := json.Marshal(detail)
	if err != nil {
		return Event{}, fmt.Errorf("events: encode %s detail: %w", detailType, err)
	}
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	if m.Time.IsZero() {
		m.Time = time.Now()
	}
	return Event{
		Version:    "0",
		ID:         m.ID,
		DetailType: detailType,
		Source:     SourceECR,
		Account:    img.Account,
		Time:       m.Time.UTC().Format(time.RFC3339),
		Region:     img.Region,
		Resources:  []string{img.RepositoryARN()},
		Detail:     raw,
	}, nil
}

func nonZero(counts map[severity.Severity]int) map[severity.Severity]int {
	out := make(map[severity.Severity]int, len(counts))
	for k, v := range counts {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// summary is what filters need from any event's detail.
type summary struct {
	RepositoryName string                    `json:"repository-name"`
	Counts         map[severity.Severity]int `json:"finding-severity-counts"`
	NewFindings    []Finding                 `json:"new-findings"`
}

func (e Event) summary() (summary, error) {
	var s summary
	if err := json.Unmarshal(e.Detail, &s); err != nil {
		return summary{}, fmt.Errorf("events: decode %q detail of %s: %w", e.DetailType, e.ID, err)
	}
	// Inspector2 events name the repository by its ARN.
	if strings.HasPrefix(s.RepositoryName, "arn:") {
		if _, name, ok := strings.Cut(s.RepositoryName, ":repository/"); ok {
			s.RepositoryName = name
		}
	}
	return s, nil
}

// Slug returns the detail type in lower case with runs of other characters
// replaced by "-" ("ECR Image Scan" becomes "ecr-image-scan").
func Slug(detailType string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(detailType) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
