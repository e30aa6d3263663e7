package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// rescanCmd is the continuous-rescan benchmark's package. Its interface:
//
//	go run ./bench/rescan -images N -packages P -db DIR -json OUT.json
//
// It matches N synthetic stored inventories of P packages against the DB in
// full, then runs a pass where 1% of the (namespace, package) pairs changed,
// and writes its figures as JSON (rescanFigures).
const rescanCmd = "./bench/rescan"

// rescanSection builds and runs bench/rescan at the given fleet size and
// turns its JSON figures into results. It is skipped (with a message) when
// bench/rescan does not exist.
func rescanSection(ctx context.Context, images int, db string) ([]Result, error) {
	if _, err := os.Stat(filepath.Join(rescanCmd, "main.go")); err != nil {
		return nil, fmt.Errorf("%s not found: continuous-rescan section skipped", rescanCmd)
	}
	bin := "bench/out/rescan"
	if b, err := exec.Command("go", "build", "-o", bin, rescanCmd).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %w: %s", rescanCmd, err, lastLines(string(b), 5))
	}
	out := "bench/out/rescan.json"
	os.Remove(out)
	args := []string{"-images", strconv.Itoa(images), "-packages", "300", "-json", out}
	if db != "" {
		args = append(args, "-db", db)
	}
	m, err := measureContext(ctx, bin, args...)
	if err != nil {
		return nil, fmt.Errorf("run (-rescan-images %d; try fewer, or a longer -rescan-timeout): %w", images, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read its JSON: %w", err)
	}
	prefix := fmt.Sprintf("rescan %d images x 300 packages: ", images)
	results, err := rescanResults(b, prefix)
	if err != nil {
		return nil, err
	}
	whole := result(prefix+"whole command", m, "", 0, "go run ./bench/rescan -images "+strconv.Itoa(images)+" -packages 300")
	return append([]Result{whole}, results...), nil
}

// rescanFigures is the JSON bench/rescan writes.
type rescanFigures struct {
	Images           int          `json:"images"`
	FindingsPerImage float64      `json:"findingsPerImage"`
	SeedSeconds      float64      `json:"seedSeconds"`
	FullSeconds      float64      `json:"fullSeconds"`
	FullImagesPerSec float64      `json:"fullImagesPerSecond"`
	MemoHitRate      float64      `json:"fullMemoHitRate"`
	Change           rescanChange `json:"change1pct"`
	Base             rescanChange `json:"changeBasePackage"`
}

// rescanChange is one DB-change pass of bench/rescan.
type rescanChange struct {
	Pairs        int     `json:"pairs"`
	Images       int     `json:"imagesRematched"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"imagesPerSecond"`
}

// rescanResults reads bench/rescan's JSON: its own figures (rescanFigures)
// as a full re-match and a 1%-change pass whose floor is the full re-match
// of the same run; any other document generically. A {"results": [...]} document in
// the harness's own Result shape is taken as it is (names prefixed);
// otherwise every numeric leaf becomes a result named by its path, a
// seconds figure (key ending in _s or _seconds) as a wall time and any
// other number as a value, with a rate unit for keys that name one.
func rescanResults(b []byte, prefix string) ([]Result, error) {
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("rescan JSON: %w", err)
	}
	if m, ok := doc.(map[string]any); ok {
		if _, ok := m["fullImagesPerSecond"]; ok {
			var f rescanFigures
			if err := json.Unmarshal(b, &f); err != nil {
				return nil, fmt.Errorf("rescan JSON: %w", err)
			}
			change := func(name string, c rescanChange) Result {
				r := Result{Name: prefix + name, WallS: c.Seconds, Value: c.ImagesPerSec, Unit: "images/s",
					Note: fmt.Sprintf("%d changed pairs, %d images re-matched", c.Pairs, c.Images)}
				if f.FullSeconds > 0 {
					r.Floor, r.FloorS, r.Ratio = "full re-match, same run", f.FullSeconds, c.Seconds/f.FullSeconds
				}
				return r
			}
			out := []Result{
				{Name: prefix + "seed (first findings written)", WallS: f.SeedSeconds},
				{Name: prefix + "full re-match", WallS: f.FullSeconds, Value: f.FullImagesPerSec, Unit: "images/s",
					Note: fmt.Sprintf("%d images, %.0f findings/image, package memo hit rate %.3f", f.Images, f.FindingsPerImage, f.MemoHitRate)},
				change("change of 1% of package names", f.Change),
			}
			if f.Base.Pairs > 0 {
				out = append(out, change("change of one base package", f.Base))
			}
			return out, nil
		}
		if _, ok := m["results"].([]any); ok {
			var run struct{ Results []Result }
			if err := json.Unmarshal(b, &run); err != nil {
				return nil, fmt.Errorf("rescan JSON: results: %w", err)
			}
			for i := range run.Results {
				run.Results[i].Name = prefix + run.Results[i].Name
			}
			return run.Results, nil
		}
	}
	var out []Result
	flatten("", doc, func(path string, v float64) {
		r := Result{Name: prefix + path}
		switch key := strings.ToLower(path[strings.LastIndex(path, ".")+1:]); {
		case strings.Contains(key, "per_s") || strings.Contains(key, "per_sec") || strings.Contains(key, "persec") || strings.Contains(key, "/s") ||
			strings.Contains(key, "rate") || strings.Contains(key, "throughput"):
			r.Value, r.Unit = v, "/s"
		case strings.HasSuffix(key, "seconds") || strings.HasSuffix(key, "_s"):
			r.WallS = v
		case strings.HasSuffix(key, "_mib") || strings.HasSuffix(key, "_mb"):
			r.MaxRSSMB = v
		default:
			r.Value = v
		}
		out = append(out, r)
	})
	if len(out) == 0 {
		return nil, errors.New("rescan JSON: no figures")
	}
	return out, nil
}

// flatten calls fn for every number in v, with its dotted path (array
// elements by index, or by their "name" field when they have one), in
// key order.
func flatten(path string, v any, fn func(string, float64)) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t := v.(type) {
	case float64:
		fn(path, t)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			flatten(join(k), t[k], fn)
		}
	case []any:
		for i, e := range t {
			k := strconv.Itoa(i)
			if m, ok := e.(map[string]any); ok {
				if name, ok := m["name"].(string); ok && name != "" {
					k = name
				}
			}
			flatten(join(k), e, fn)
		}
	}
}
