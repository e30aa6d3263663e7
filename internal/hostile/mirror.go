package hostile

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The advisories of the fixture mirror. Alpine's come in secdb's format,
// the language ones as OSV records in osv.dev's <Ecosystem>/all.zip dumps;
// ids and fixed versions are the real ones where the record is real.
const (
	BusyboxCVE = "CVE-2023-42363" // busybox, fixed in 1.36.1-r17
	MuslCVE    = "CVE-2025-26519" // musl, fixed here in 1.2.4-r3
	LibfooCVE  = "CVE-2026-10001" // a fixture: libfoo, fixed in 1.2.5-r0
	LodashCVE  = "CVE-2021-23337" // lodash, fixed in 4.17.21
	DebugCVE   = "CVE-2017-16137" // debug, fixed in 2.6.9
	LeftPadID  = "GHSA-f1x7-0000-0001"
	RequestCVE = "CVE-2018-18074" // requests, fixed in 2.20.0
	RackCVE    = "CVE-2019-16782" // rack, fixed in 2.0.8
)

const secdb = `{"apkurl":"{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk","archs":["x86_64"],"reponame":"main","urlprefix":"https://dl-cdn.alpinelinux.org/alpine","distroversion":"v3.19","packages":[
{"pkg":{"name":"busybox","secfixes":{"1.36.1-r17":["CVE-2023-42363"]}}},
{"pkg":{"name":"musl","secfixes":{"1.2.4-r3":["CVE-2025-26519"]}}},
{"pkg":{"name":"libfoo","secfixes":{"1.2.5-r0":["CVE-2026-10001"]}}}]}`

type osvRecord struct {
	ID       string         `json:"id"`
	Aliases  []string       `json:"aliases,omitempty"`
	Modified string         `json:"modified"`
	Summary  string         `json:"summary"`
	Affected []osvAffected  `json:"affected"`
	Severity []osvSeverity  `json:"severity,omitempty"`
	DBSpec   map[string]any `json:"database_specific,omitempty"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Ranges []osvRange `json:"ranges"`
}

type osvRange struct {
	Type   string              `json:"type"`
	Events []map[string]string `json:"events"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

func record(id, cve, eco, pkg, rangeType, fixed, vector string) osvRecord {
	r := osvRecord{ID: id, Modified: "2024-01-01T00:00:00Z", Summary: pkg + " fixture advisory", DBSpec: map[string]any{"severity": "HIGH"}}
	if cve != "" {
		r.Aliases = []string{cve}
	}
	a := osvAffected{Ranges: []osvRange{{Type: rangeType, Events: []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}
	a.Package.Ecosystem, a.Package.Name = eco, pkg
	r.Affected = []osvAffected{a}
	if vector != "" {
		r.Severity = []osvSeverity{{Type: "CVSS_V3", Score: vector}}
	}
	return r
}

const highVector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"

// Mirror writes the fixture feed mirror (the layout `db update --mirror`
// reads) into dir.
func Mirror(dir string) error {
	files := map[string][]byte{"alpine/secdb/v3.19/main.json": []byte(secdb)}
	zips := map[string][]osvRecord{
		"npm": {
			record("GHSA-35jh-r3h4-6jhm", LodashCVE, "npm", "lodash", "SEMVER", "4.17.21", highVector),
			record("GHSA-gxpj-cx7g-858c", DebugCVE, "npm", "debug", "SEMVER", "2.6.9", highVector),
			record(LeftPadID, "", "npm", "left-pad", "SEMVER", "1.3.0", highVector),
		},
		"PyPI":     {record("PYSEC-2018-28", RequestCVE, "PyPI", "requests", "ECOSYSTEM", "2.20.0", highVector)},
		"RubyGems": {record("GHSA-hrqr-hxpp-chr3", RackCVE, "RubyGems", "rack", "ECOSYSTEM", "2.0.8", highVector)},
		// The other dumps the mirror carries, empty.
		"Maven": nil, "Go": nil, "crates.io": nil, "NuGet": nil, "Packagist": nil,
	}
	for eco, recs := range zips {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, r := range recs {
			w, err := zw.Create(r.ID + ".json")
			if err != nil {
				return fmt.Errorf("hostile: mirror: %w", err)
			}
			if err := json.NewEncoder(w).Encode(r); err != nil {
				return fmt.Errorf("hostile: mirror: %w", err)
			}
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("hostile: mirror: %w", err)
		}
		files["osv/"+eco+"/all.zip"] = buf.Bytes()
	}
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("hostile: mirror: %w", err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			return fmt.Errorf("hostile: mirror: %w", err)
		}
	}
	return nil
}
