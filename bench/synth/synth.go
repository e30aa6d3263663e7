// Package synth makes synthetic scan results for benchmarks: the findings
// load benchmark (bench/findings) and internal/server/ecrapi's Go
// benchmarks and paging tests use the same shape.
package synth

import (
	"fmt"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/server/scanning"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// Result is a basic-scan result of n findings shaped like an Ubuntu
// image's: a description of a few hundred bytes and the attributes the
// scanner writes, cycling through four severities and 400 packages. It
// completed at at, against a DB updated an hour before.
func Result(n int, at time.Time) scanning.Result {
	res := scanning.Result{Status: scanning.StatusComplete, SeverityCounts: map[severity.Severity]int{}, CompletedAt: at, VulnerabilitySourceUpdatedAt: at.Add(-time.Hour)}
	sevs := []severity.Severity{severity.Low, severity.Medium, severity.High, severity.Critical}
	for i := range n {
		sev := sevs[i%len(sevs)]
		res.SeverityCounts[sev]++
		pkg := fmt.Sprintf("libpkg%d", i%400)
		res.Findings = append(res.Findings, scanning.Finding{
			Name:        fmt.Sprintf("CVE-20%02d-%05d", 10+i%15, i),
			Description: strings.Repeat(fmt.Sprintf("A flaw in %s allows a remote attacker to cause a denial of service. ", pkg), 4),
			URI:         fmt.Sprintf("https://ubuntu.com/security/CVE-20%02d-%05d", 10+i%15, i),
			Severity:    sev,
			Attributes: []scanning.Attribute{
				{Key: "package_name", Value: pkg},
				{Key: "package_version", Value: "1.2.3-4ubuntu0.5"},
				{Key: "CVSS3_SCORE", Value: "7.5"},
				{Key: "CVSS3_VECTOR", Value: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
				{Key: "fixed_version", Value: "1.2.3-4ubuntu0.6"},
				{Key: "status", Value: "FIXABLE"},
				{Key: "severity_source", Value: "vendor"},
				{Key: "vendor_severity", Value: strings.ToLower(string(sev))},
				{Key: "package_path", Value: "var/lib/dpkg/status"},
				{Key: "layer_diff_id", Value: "sha256:" + strings.Repeat("ab", 32)},
				{Key: "source_package_name", Value: pkg + "-src"},
				{Key: "namespace", Value: "ubuntu:14.04"},
			},
		})
	}
	return res
}
