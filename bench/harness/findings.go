package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// findingsCmd is the DescribeImageScanFindings load benchmark's package.
// Its interface:
//
//	go run ./bench/findings -bin STOWAWAY -findings N -callers C -json OUT.json
//
// It seeds one image with N findings, starts `stowaway serve` on it and
// drives the API with C concurrent SDK callers paging through the findings
// (findingsFigures).
const findingsCmd = "./bench/findings"

// findingsFigures is the JSON bench/findings writes.
type findingsFigures struct {
	Findings int `json:"findings"`
	Callers  int `json:"callers"`
	Page     int `json:"page"`
	Alone    []struct {
		MaxResults int     `json:"max_results"`
		P50MS      float64 `json:"p50_ms"`
	} `json:"alone"`
	RPS         float64 `json:"requests_per_second"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	ServerRSSMB float64 `json:"server_peak_rss_mib"`
	ServerCPUS  float64 `json:"server_cpu_s"`
	Seconds     float64 `json:"seconds"`
}

// findingsSection builds and runs bench/findings against bin and turns its
// figures into results.
func findingsSection(ctx context.Context, bin string, findings, callers int) ([]Result, error) {
	if _, err := os.Stat(filepath.Join(findingsCmd, "main.go")); err != nil {
		return nil, fmt.Errorf("%s not found: findings section skipped", findingsCmd)
	}
	exe := "bench/out/findings"
	if b, err := exec.Command("go", "build", "-o", exe, findingsCmd).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %w: %s", findingsCmd, err, lastLines(string(b), 5))
	}
	out := "bench/out/findings.json"
	os.Remove(out)
	cmd := exec.CommandContext(ctx, exe, "-bin", bin, "-findings", strconv.Itoa(findings), "-callers", strconv.Itoa(callers), "-json", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("run: %w: %s", err, lastLines(string(b), 5))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read its JSON: %w", err)
	}
	var f findingsFigures
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	prefix := fmt.Sprintf("DescribeImageScanFindings, %d findings: ", f.Findings)
	var results []Result
	for _, a := range f.Alone {
		results = append(results, Result{Name: fmt.Sprintf("%s1 caller, maxResults %d, p50", prefix, a.MaxResults), Value: a.P50MS, Unit: "ms"})
	}
	note := fmt.Sprintf("%d SDK callers paging by %d for %.0f s; RSS and CPU of the server process", f.Callers, f.Page, f.Seconds)
	return append(results,
		Result{Name: prefix + "load, requests/s", Value: f.RPS, Unit: "req/s", CPUS: f.ServerCPUS, MaxRSSMB: f.ServerRSSMB, Note: note},
		Result{Name: prefix + "load, p50", Value: f.P50MS, Unit: "ms", Note: note},
		Result{Name: prefix + "load, p99", Value: f.P99MS, Unit: "ms", Note: note},
	), nil
}
