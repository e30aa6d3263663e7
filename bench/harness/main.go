// Command harness runs Stowaway's benchmarks and prints each figure next to
// its floor measured in the same run: `gzip -dc` of the same layers for
// scans, so figures are ratios that survive a noisy machine. Results go to a
// table on stdout and a JSON file; --compare OLD.json prints the ratio of
// every figure to an earlier run.
//
//	go run ./bench/harness [-shared ../shared] [-out bench/out/latest.json] [-compare OLD.json]
//	    [-only db,scan,cold,server,rescan,findings] [-server-rounds 3] [-server-images GLOB] [-server-profiles DIR]
//	    [-rescan-images 10000] [-rescan-timeout 45m] [-findings 2051] [-findings-callers 50]
//
// The server section pushes every shared image with skopeo to `stowaway
// serve` and to the CNCF registry (/usr/bin/docker-registry; skipped with a
// message when absent) and times each scan on push; it samples both
// servers' VmRSS every 100 ms during the pushes and their scans (steady
// state = the median, next to VmHWM), and with -server-profiles DIR (or
// $STOWAWAY_BENCH_PROFILES) saves stowaway's heap profile after each scan
// and at each round's end, through serve --pprof-addr; with $STOWAWAY_WEED
// (SeaweedFS) it also pushes them, in the same rounds, to a second `stowaway
// serve --storage s3://...` whose blobs are in a SeaweedFS bucket, and
// reports both next to each other (and SeaweedFS's own CPU); the rescan section runs
// bench/rescan; the findings section runs bench/findings (DescribeImageScanFindings
// under 50 concurrent callers).
package main

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/s3test"
)

// Result is one measured case.
type Result struct {
	Name     string  `json:"name"`
	WallS    float64 `json:"wall_s"`
	CPUS     float64 `json:"cpu_s"`
	MaxRSSMB float64 `json:"max_rss_mib"`
	// Floor names the baseline and FloorS is its wall time in this run.
	Floor  string  `json:"floor,omitempty"`
	FloorS float64 `json:"floor_s,omitempty"`
	Ratio  float64 `json:"ratio_to_floor,omitempty"`
	// Value is a figure that is not a time (a rate, a ratio, a count) in Unit.
	Value float64 `json:"value,omitempty"`
	Unit  string  `json:"unit,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// Run is a whole harness run.
type Run struct {
	When   time.Time `json:"when"`
	GoOS   string    `json:"goos"`
	CPUs   int       `json:"cpus"`
	Commit string    `json:"commit,omitempty"`
	// Load and LoadEnd are /proc/loadavg when the run started and ended.
	Load    string   `json:"load,omitempty"`
	LoadEnd string   `json:"load_end,omitempty"`
	Results []Result `json:"results"`
	// Server holds the server section's per-image figures.
	Server *ServerRun `json:"server,omitempty"`
}

type measured struct {
	wall, cpu time.Duration
	rss       int64 // KiB
}

func measure(name string, args ...string) (measured, error) {
	return measureContext(context.Background(), name, args...)
}

// measureContext is measure with the command killed when ctx ends.
func measureContext(ctx context.Context, name string, args ...string) (measured, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if ctx.Err() != nil {
		return measured{}, fmt.Errorf("%s: killed after %s: %w", name, wall.Round(time.Second), ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 2 {
			return measured{}, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
		}
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return measured{wall: wall, cpu: cpu, rss: ru.Maxrss}, nil
}

// gunzipFloor extracts the layer blobs of a docker archive and times
// `gzip -dc` over all of them.
func gunzipFloor(archive string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "bench-layers-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	f, err := os.Open(archive)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var blobs []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		if h.Typeflag != tar.TypeReg || h.Size < 2 {
			continue
		}
		p := filepath.Join(dir, fmt.Sprintf("blob%d", len(blobs)))
		out, err := os.Create(p)
		if err != nil {
			return 0, err
		}
		if _, err := io.Copy(out, tr); err != nil {
			return 0, err
		}
		out.Close()
		magic := make([]byte, 2)
		if in, err := os.Open(p); err == nil {
			in.Read(magic)
			in.Close()
		}
		if magic[0] == 0x1f && magic[1] == 0x8b {
			blobs = append(blobs, p)
		}
	}
	if len(blobs) == 0 {
		return 0, fmt.Errorf("%s: no gzip layers", archive)
	}
	return timeGunzip(blobs)
}

// scanRuns is how many times each scan case and its floor run; the best
// of each is compared. On a shared virtual machine single runs vary by
// ±20%; the best of seven is stable to a few percent.
const scanRuns = 7

// timeGunzip is the best of scanRuns `gzip -dc` runs over blobs, page
// cache warm.
func timeGunzip(blobs []string) (time.Duration, error) {
	// Warm the page cache, then time.
	for _, b := range blobs {
		exec.Command("cat", b).Run()
	}
	best := time.Duration(0)
	for i := 0; i < scanRuns; i++ {
		m, err := measure("sh", append([]string{"-c", "for f in \"$@\"; do gzip -dc \"$f\" >/dev/null; done", "sh"}, blobs...)...)
		if err != nil {
			return 0, err
		}
		if best == 0 || m.wall < best {
			best = m.wall
		}
	}
	return best, nil
}

func best(n int, name string, args ...string) (measured, error) {
	var b measured
	for i := 0; i < n; i++ {
		m, err := measure(name, args...)
		if err != nil {
			return measured{}, err
		}
		if b.wall == 0 || m.wall < b.wall {
			b = m
		}
	}
	return b, nil
}

func result(name string, m measured, floor string, floorD time.Duration, note string) Result {
	r := Result{Name: name, WallS: m.wall.Seconds(), CPUS: m.cpu.Seconds(), MaxRSSMB: float64(m.rss) / 1024, Floor: floor, Note: note}
	if floorD > 0 {
		r.FloorS = floorD.Seconds()
		r.Ratio = m.wall.Seconds() / floorD.Seconds()
	}
	return r
}

func main() {
	shared := flag.String("shared", "../shared", "the shared data directory")
	out := flag.String("out", "bench/out/latest.json", "write the results here")
	compare := flag.String("compare", "", "an earlier results file to compare with")
	skipDB := flag.Bool("skip-db", false, "skip the DB build (uses an existing -db)")
	dbDir := flag.String("db", "bench/out/db", "DB directory used by the scans")
	only := flag.String("only", "", "comma-separated sections to run: db, scan, cold, server, rescan, findings (default all)")
	rounds := flag.Int("server-rounds", 3, "server section: rounds of pushing every shared image, each to fresh registries")
	serverImages := flag.String("server-images", "", "server section: only the shared images whose name matches this glob")
	serverProfiles := flag.String("server-profiles", os.Getenv("STOWAWAY_BENCH_PROFILES"), "server section: save stowaway serve's heap profiles (after each image's scan and at each round's end) in this directory (default $STOWAWAY_BENCH_PROFILES)")
	rescanImages := flag.Int("rescan-images", 10000, "rescan section: stored inventories")
	rescanTimeout := flag.Duration("rescan-timeout", 45*time.Minute, "rescan section: give up (and report it) after this long")
	findings := flag.Int("findings", 2051, "findings section: findings of the paged image")
	findingsCallers := flag.Int("findings-callers", 50, "findings section: concurrent callers")
	flag.Parse()
	want := sections(*only)
	if err := os.MkdirAll("bench/out", 0o755); err != nil {
		log.Fatal(err)
	}
	bin := "bench/out/stowaway"
	if b, err := exec.Command("go", "build", "-o", bin, "./cmd/stowaway").CombinedOutput(); err != nil {
		log.Fatalf("build: %v\n%s", err, b)
	}
	synthetic := "bench/out/synthetic.tar"
	if _, err := os.Stat(synthetic); err != nil && want("scan") {
		log.Printf("building %s (1 GiB, 8 layers)", synthetic)
		if b, err := exec.Command("go", "run", "./bench/mkimage", "-o", synthetic).CombinedOutput(); err != nil {
			log.Fatalf("mkimage: %v\n%s", err, b)
		}
	}
	run := Run{When: time.Now().UTC(), GoOS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU()}
	if b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		run.Commit = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		run.Load = strings.TrimSpace(string(b))
	}
	add := func(r Result, err error) {
		if err != nil {
			log.Printf("%s: %v", r.Name, err)
			return
		}
		run.Results = append(run.Results, r)
	}
	feeds := filepath.Join(*shared, "feeds")
	if !*skipDB && want("db") {
		if _, err := os.Stat(feeds); err == nil {
			run.Results = append(run.Results, benchDB(bin, feeds, *dbDir)...)
		}
	}
	images := filepath.Join(*shared, "images")
	for _, c := range []struct{ name, image, cmd string }{
		{"sbom synthetic 1 GiB/8 layers", synthetic, "sbom"},
		{"scan synthetic 1 GiB/8 layers (warm DB)", synthetic, "scan"},
		{"scan debian-12 (largest shared image, warm DB)", filepath.Join(images, "debian-12.tar"), "scan"},
		{"scan lang-java-go enhanced (warm DB)", filepath.Join(images, "lang-java-go.tar"), "scan-enhanced"},
	} {
		if _, err := os.Stat(c.image); err != nil || !want("scan") {
			continue
		}
		floor, err := gunzipFloor(c.image)
		if err != nil {
			add(Result{Name: c.name}, err)
			continue
		}
		var args []string
		switch c.cmd {
		case "sbom":
			args = []string{"sbom", c.image, "--format", "json", "-o", os.DevNull}
		case "scan":
			args = []string{"scan", c.image, "--db", *dbDir, "--format", "json", "-o", os.DevNull}
		case "scan-enhanced":
			args = []string{"scan", c.image, "--db", *dbDir, "--scan-type", "enhanced", "--format", "json", "-o", os.DevNull}
		}
		m, err := best(scanRuns, bin, args...)
		add(result(c.name, m, "gzip -dc of the same layers", floor, ""), err)
	}
	// Cold DB: the first scan after dropping the page cache (needs root).
	if !want("cold") {
		// skipped
	} else if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err == nil {
		img := filepath.Join(images, "debian-12.tar")
		if floor, err := gunzipFloor(img); err == nil {
			os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0)
			m, err := measure(bin, "scan", img, "--db", *dbDir, "--format", "json", "-o", os.DevNull)
			add(result("scan debian-12 (cold DB and image: page cache dropped)", m, "gzip -dc of the same layers (warm)", floor, ""), err)
		}
	}
	if want("server") {
		sr, results, err := serverSection(context.Background(), serverOptions{
			Bin: bin, Images: images, DB: pickDB(*dbDir), Rounds: *rounds, Filter: *serverImages, Weed: weedBin(), Profiles: *serverProfiles,
		})
		if err != nil {
			log.Printf("server: %v", err)
		}
		run.Server = sr
		run.Results = append(run.Results, results...)
	}
	if want("rescan") {
		ctx, cancel := context.WithTimeout(context.Background(), *rescanTimeout)
		results, err := rescanSection(ctx, *rescanImages, pickDB(*dbDir))
		cancel()
		if err != nil {
			log.Printf("rescan: %v", err)
		}
		run.Results = append(run.Results, results...)
	}
	if want("findings") {
		results, err := findingsSection(context.Background(), bin, *findings, *findingsCallers)
		if err != nil {
			log.Printf("findings: %v", err)
		}
		run.Results = append(run.Results, results...)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		run.LoadEnd = strings.TrimSpace(string(b))
	}
	print(run)
	if run.Server != nil {
		printServer(os.Stdout, run.Server)
	}
	b, _ := json.MarshalIndent(run, "", "  ")
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\nwrote %s\n", *out)
	if *compare != "" {
		if err := compareWith(run, *compare); err != nil {
			log.Fatal(err)
		}
	}
}

func print(run Run) {
	fmt.Printf("load average (/proc/loadavg) at start: %s; at end: %s\n", run.Load, run.LoadEnd)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tWALL s\tCPU s\tMAX RSS MiB\tFLOOR s\tRATIO\tVALUE\n")
	for _, r := range run.Results {
		floor, ratio := "-", "-"
		if r.FloorS > 0 {
			floor, ratio = fmt.Sprintf("%.2f", r.FloorS), fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, orDash("%.2f", r.WallS), orDash("%.2f", r.CPUS),
			orDash("%.1f", r.MaxRSSMB), floor, ratio, valueString(r))
	}
	tw.Flush()
}

func compareWith(run Run, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var old Run
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	prev := map[string]Result{}
	for _, r := range old.Results {
		prev[r.Name] = r
	}
	fmt.Printf("\ncompared with %s (commit %s, %s):\n", path, old.Commit, old.When.Format(time.RFC3339))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tRATIO-TO-FLOOR now/then\tWALL now/then\tCPU now/then\tRSS now/then\tVALUE now/then\n")
	for _, r := range run.Results {
		p, ok := prev[r.Name]
		if !ok {
			continue
		}
		rr := "-"
		if r.Ratio > 0 && p.Ratio > 0 {
			rr = fmt.Sprintf("%.2f", r.Ratio/p.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, rr, quotient(r.WallS, p.WallS), quotient(r.CPUS, p.CPUS),
			quotient(r.MaxRSSMB, p.MaxRSSMB), quotient(r.Value, p.Value))
	}
	return tw.Flush()
}

// weedBin is $STOWAWAY_WEED when it names a SeaweedFS binary, else "" (the
// server section's S3 variant is then skipped, saying why).
func weedBin() string {
	bin, err := s3test.Weed()
	if err != nil {
		return ""
	}
	return bin
}
