package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/names"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// WriteCycloneDX writes the image's CycloneDX SBOM with a vulnerabilities
// section: one entry per finding, affecting the package's bom-ref.
func WriteCycloneDX(w io.Writer, s Scan) error {
	var buf bytes.Buffer
	if err := sbom.Encode(&buf, s.Inventory, sbom.CycloneDX, s.Names); err != nil {
		return fmt.Errorf("cyclonedx: %w", err)
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return fmt.Errorf("cyclonedx: re-read SBOM: %w", err)
	}
	refs := map[string]string{} // purl -> bom-ref
	if bom.Components != nil {
		for _, c := range *bom.Components {
			if c.PackageURL != "" {
				refs[c.PackageURL] = c.BOMRef
			}
		}
	}
	vulns := make([]cdx.Vulnerability, 0, len(s.Findings))
	for _, f := range s.Findings {
		vulns = append(vulns, cdxVuln(s.Names, f, refs))
	}
	bom.Vulnerabilities = &vulns
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	return enc.EncodeVersion(bom, bom.SpecVersion)
}

func cdxSeverity(s severity.Severity) cdx.Severity {
	switch s {
	case severity.Critical:
		return cdx.SeverityCritical
	case severity.High:
		return cdx.SeverityHigh
	case severity.Medium:
		return cdx.SeverityMedium
	case severity.Low:
		return cdx.SeverityLow
	case severity.Informational:
		return cdx.SeverityInfo
	}
	return cdx.SeverityUnknown
}

func cdxVuln(n names.Names, f match.Finding, refs map[string]string) cdx.Vulnerability {
	v := cdx.Vulnerability{
		BOMRef:      f.ID + "/" + f.Package.PURL,
		ID:          f.ID,
		Description: f.Description,
		Source:      &cdx.Source{Name: strings.Join(f.Sources, ","), URL: f.URI},
	}
	ratings := []cdx.VulnerabilityRating{}
	if f.CVSS3 != nil {
		sc := f.CVSS3.Score
		m := cdx.ScoringMethodCVSSv31
		if f.CVSS3.Version == "3.0" {
			m = cdx.ScoringMethodCVSSv3
		}
		ratings = append(ratings, cdx.VulnerabilityRating{Source: &cdx.Source{Name: f.CVSS3.Source}, Score: &sc, Method: m, Vector: f.CVSS3.Vector, Severity: cdxSeverity(severity.FromCVSS(sc))})
	}
	if f.CVSS2 != nil {
		sc := f.CVSS2.Score
		ratings = append(ratings, cdx.VulnerabilityRating{Source: &cdx.Source{Name: f.CVSS2.Source}, Score: &sc, Method: cdx.ScoringMethodCVSSv2, Vector: f.CVSS2.Vector, Severity: cdxSeverity(severity.FromCVSSv2(sc))})
	}
	ratings = append(ratings, cdx.VulnerabilityRating{Source: &cdx.Source{Name: f.SeveritySource}, Severity: cdxSeverity(f.Severity), Method: cdx.ScoringMethodOther})
	v.Ratings = &ratings
	if len(f.Related) > 0 {
		rel := make([]cdx.VulnerabilityReference, 0, len(f.Related))
		for _, id := range f.Related {
			rel = append(rel, cdx.VulnerabilityReference{ID: id, Source: &cdx.Source{Name: n.AdvisoryDatabase(id)}})
		}
		v.References = &rel
	}
	ref := refs[f.Package.PURL]
	if ref == "" {
		ref = f.Package.PURL
	}
	affects := []cdx.Affects{{Ref: ref}}
	v.Affects = &affects
	state := cdx.IASInTriage // a scanner match, not a verdict on exploitability
	detail := string(f.Status)
	if f.FixedVersion != "" {
		v.Recommendation = fmt.Sprintf("Upgrade %s to %s or later", f.Package.Name, f.FixedVersion)
	}
	if f.Status == match.StatusUnknownVersion {
		// Still in triage, as every match: whether the installed version
		// is affected could not be decided.
		detail += ": versions could not be compared (" + f.VersionError + ")"
		if f.FixedVersion != "" {
			v.Recommendation = fmt.Sprintf("Make sure %s is at %s or later", f.Package.Name, f.FixedVersion)
		}
	}
	if f.FixedVersion != "" && f.FixChannel != "" {
		v.Recommendation += ". " + FixChannelNote(n, f.FixChannel)
		v.Properties = &[]cdx.Property{{Name: "stowaway:fix_channel", Value: string(f.FixChannel)}}
	}
	cdxExploit(&v, f)
	cdxSymbols(&v, f)
	detail += symbolDetail(f)
	v.Analysis = &cdx.VulnerabilityAnalysis{State: state, Detail: detail}
	if !f.Published.IsZero() {
		v.Published = f.Published.UTC().Format("2006-01-02T15:04:05Z")
	}
	if !f.Modified.IsZero() {
		v.Updated = f.Modified.UTC().Format("2006-01-02T15:04:05Z")
	}
	return v
}
