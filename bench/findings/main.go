// Command findings measures DescribeImageScanFindings under load on a real
// `stowaway serve`: it seeds a data directory through the store's own write
// path (a scan job completed with a synthetic result of -findings basic
// findings shaped like an Ubuntu image's), starts the server on it, and
// drives the HTTP API with the AWS SDK for Go v2 ECR client (SigV4-signed
// requests, SDK retries off):
//
//   - alone: one caller, the first page at maxResults 1, 100 and 1000;
//   - load: -callers goroutines, each paging through all the findings with
//     maxResults -page over and over for -duration (after a warm-up), every
//     pass checked to return all the findings.
//
// It prints requests/s, p50/p99 latency and the server's peak RSS (VmHWM of
// the server process), and writes them as JSON.
//
//	go run ./bench/findings [-bin bench/out/stowaway] [-findings 2051] [-callers 50] [-page 100] [-duration 20s] [-json bench/out/findings.json]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/stowaway-scanner/stowaway/bench/synth"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

const (
	repo            = "bench/ubuntu"
	keyID, secretAK = "AKIDBENCH", "bench-secret"
)

// Report is the JSON output.
type Report struct {
	Commit   string  `json:"commit,omitempty"`
	Findings int     `json:"findings"`
	Callers  int     `json:"callers"`
	Page     int     `json:"page"`
	Load     string  `json:"load,omitempty"`
	Alone    []Alone `json:"alone"`
	// Load figures.
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	Passes      int     `json:"passes"`
	RPS         float64 `json:"requests_per_second"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	MaxMS       float64 `json:"max_ms"`
	ServerRSSMB float64 `json:"server_peak_rss_mib"`
	ServerCPUS  float64 `json:"server_cpu_s"`
	// ClosedRetries counts calls retried on net.ErrClosed (see describe).
	ClosedRetries int64 `json:"closed_connection_retries"`
}

// Alone is one caller's latency for the first page at one page size.
type Alone struct {
	MaxResults int     `json:"max_results"`
	N          int     `json:"n"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
}

func main() {
	var (
		bin      = flag.String("bin", "", "the stowaway binary (default: build ./cmd/stowaway)")
		findings = flag.Int("findings", 2051, "findings of the image (ubuntu-14.04 has 2,051)")
		callers  = flag.Int("callers", 50, "concurrent callers")
		page     = flag.Int("page", 100, "maxResults of the callers under load")
		duration = flag.Duration("duration", 20*time.Second, "measured load time")
		warmup   = flag.Duration("warmup", 3*time.Second, "load before measuring")
		aloneN   = flag.Int("alone", 100, "calls per page size for the single-caller figures")
		out      = flag.String("json", "bench/out/findings.json", "write the figures here")
	)
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "bench-findings-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if *bin == "" {
		*bin = filepath.Join(dir, "stowaway")
		if b, err := exec.Command("go", "build", "-o", *bin, "./cmd/stowaway").CombinedOutput(); err != nil {
			log.Fatalf("build: %v\n%s", err, b)
		}
	}
	data := filepath.Join(dir, "data")
	digest, err := seed(ctx, data, *findings)
	if err != nil {
		log.Fatalf("seed: %v", err)
	}
	srv, addr, err := serve(ctx, *bin, dir, data)
	if err != nil {
		log.Fatal(err)
	}
	defer stop(srv)

	// The SDK's own client, keeping a connection per caller alive.
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*(*callers), 2*(*callers)
	})
	client := ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + addr),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secretAK, ""),
		HTTPClient:   hc,
		Retryer:      aws.NopRetryer{},
	})
	rep := Report{Findings: *findings, Callers: *callers, Page: *page}
	if b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rep.Commit = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		rep.Load = strings.TrimSpace(string(b))
	}
	for _, m := range []int{1, 100, 1000} {
		var lat []time.Duration
		for range *aloneN {
			t := time.Now()
			if _, err := describe(ctx, client, digest, m, nil); err != nil {
				log.Fatalf("alone, maxResults %d: %v", m, err)
			}
			lat = append(lat, time.Since(t))
		}
		rep.Alone = append(rep.Alone, Alone{MaxResults: m, N: len(lat), P50MS: ms(pct(lat, 50)), P99MS: ms(pct(lat, 99))})
	}
	cpu0, _, err := procStats(srv.Process.Pid)
	if err != nil {
		log.Fatal(err)
	}
	lat, passes, elapsed, err := load(ctx, client, digest, *findings, *callers, *page, *warmup, *duration)
	if err != nil {
		log.Fatalf("load: %v", err)
	}
	cpu1, rss, err := procStats(srv.Process.Pid)
	if err != nil {
		log.Fatal(err)
	}
	rep.Seconds, rep.Requests, rep.Passes = elapsed.Seconds(), len(lat), passes
	rep.RPS = float64(len(lat)) / elapsed.Seconds()
	rep.P50MS, rep.P99MS, rep.MaxMS = ms(pct(lat, 50)), ms(pct(lat, 99)), ms(pct(lat, 100))
	rep.ServerRSSMB, rep.ServerCPUS = rss, (cpu1 - cpu0).Seconds()
	rep.ClosedRetries = closedRetries.Load()
	print(rep)
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s\n", *out)
}

// seed stores one image with a completed scan of n findings through the
// scan job path (StartScan, ClaimJob, CompleteJob), as a worker would.
func seed(ctx context.Context, data string, n int) (string, error) {
	st, err := store.Open(ctx, data, "")
	if err != nil {
		return "", err
	}
	defer st.Close()
	now := time.Now().UTC()
	digest := "sha256:" + strings.Repeat("5e", 32)
	if _, err := st.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: now}); err != nil {
		return "", err
	}
	img := store.Image{Repository: repo, Digest: digest, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ArtifactMediaType: "application/vnd.oci.image.config.v1+json", Size: 1, PushedAt: now}
	if _, err := st.PutImage(ctx, img, "14.04"); err != nil {
		return "", err
	}
	if err := st.StartScan(ctx, repo, digest, false, now, 0); err != nil {
		return "", err
	}
	j, err := st.ClaimJob(ctx, "seed", now, time.Minute, 3)
	if err != nil || j == nil {
		return "", fmt.Errorf("claim the seed job: %v %v", j, err)
	}
	raw, err := json.Marshal(synth.Result(n, time.Now().UTC()))
	if err != nil {
		return "", err
	}
	return digest, st.CompleteJob(ctx, j, store.JobOutcome{Status: "COMPLETE", Result: raw}, now)
}

// serve starts `stowaway serve` on data and waits for /healthz.
func serve(ctx context.Context, bin, dir, data string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, "", err
	}
	if err := os.Mkdir(filepath.Join(dir, "vulndb"), 0o755); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", data, "--db", filepath.Join(dir, "vulndb"),
		"--access-key", keyID+":"+secretAK, "--workers", "1", "--lifecycle-interval", "0", "--rescan-poll", "1h")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start serve: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, addr, nil
			}
		}
	}
	stop(cmd)
	b, _ := os.ReadFile(logf.Name())
	return nil, "", fmt.Errorf("serve not ready after 30 s: %s", b)
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// closedRetries counts calls retried after the client's transport closed
// the connection under the response (net.ErrClosed: a known race of the
// SDK's client, aws/aws-sdk-go-v2#2737, which its standard retryer retries;
// the server answered 200).
var closedRetries atomic.Int64

// describe calls DescribeImageScanFindings for one page. With the SDK's
// retries off, only net.ErrClosed is retried (up to twice); a retried
// call's latency includes its retries.
func describe(ctx context.Context, c *ecr.Client, digest string, maxResults int, token *string) (*ecr.DescribeImageScanFindingsOutput, error) {
	in := &ecr.DescribeImageScanFindingsInput{
		RepositoryName: aws.String(repo),
		ImageId:        &ecrtypes.ImageIdentifier{ImageDigest: aws.String(digest)},
		MaxResults:     aws.Int32(int32(maxResults)),
		NextToken:      token,
	}
	for attempt := 0; ; attempt++ {
		out, err := c.DescribeImageScanFindings(ctx, in)
		if err == nil || !errors.Is(err, net.ErrClosed) || attempt == 2 {
			return out, err
		}
		closedRetries.Add(1)
	}
}

// load runs callers goroutines, each paging through all findings again and
// again; it returns the latencies of the calls that started in the
// measured window, the complete passes, and the window's length.
func load(ctx context.Context, c *ecr.Client, digest string, want, callers, page int, warmup, duration time.Duration) ([]time.Duration, int, time.Duration, error) {
	begin := time.Now().Add(warmup)
	end := begin.Add(duration)
	var (
		mu     sync.Mutex
		all    []time.Duration
		passes int
		first  error
		wg     sync.WaitGroup
	)
	for range callers {
		wg.Go(func() {
			var lat []time.Duration
			n := 0
			defer func() {
				mu.Lock()
				all = append(all, lat...)
				passes += n
				mu.Unlock()
			}()
			for time.Now().Before(end) {
				var token *string
				got := 0
				for {
					t := time.Now()
					out, err := describe(ctx, c, digest, page, token)
					if err != nil {
						mu.Lock()
						first = errors.Join(first, err)
						mu.Unlock()
						return
					}
					if t.After(begin) && t.Before(end) {
						lat = append(lat, time.Since(t))
					}
					got += len(out.ImageScanFindings.Findings)
					if token = out.NextToken; token == nil {
						break
					}
				}
				if got != want {
					mu.Lock()
					first = errors.Join(first, fmt.Errorf("a pass returned %d findings, want %d", got, want))
					mu.Unlock()
					return
				}
				n++
			}
		})
	}
	wg.Wait()
	return all, passes, duration, first
}

// procStats is a process's CPU time and peak RSS (VmHWM, MiB) from /proc.
func procStats(pid int) (time.Duration, float64, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) < 13 {
		return 0, 0, errors.New("short /proc stat line")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	cpu := time.Duration(ut+st) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	var rss float64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			rss = kb / 1024
		}
	}
	return cpu, rss, nil
}

// pct is the nearest-rank p-th percentile of d (as the harness computes it).
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := max(int(math.Ceil(p/100*float64(len(s)))), 1)
	return s[rank-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func print(r Report) {
	fmt.Printf("DescribeImageScanFindings, one image of %d findings, SQLite, commit %s, load average %s\n", r.Findings, r.Commit, r.Load)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tREQUESTS\tREQ/S\tP50 ms\tP99 ms\n")
	for _, a := range r.Alone {
		fmt.Fprintf(tw, "1 caller, first page, maxResults %d\t%d\t-\t%.2f\t%.2f\n", a.MaxResults, a.N, a.P50MS, a.P99MS)
	}
	fmt.Fprintf(tw, "%d callers paging by %d (%d full passes)\t%d\t%.1f\t%.2f\t%.2f\n", r.Callers, r.Page, r.Passes, r.Requests, r.RPS, r.P50MS, r.P99MS)
	tw.Flush()
	fmt.Printf("server: peak RSS %.1f MiB, CPU %.1f s during the %.0f s load (and its warm-up)\n", r.ServerRSSMB, r.ServerCPUS, r.Seconds)
	fmt.Printf("calls retried after the SDK client closed the connection (net.ErrClosed): %d\n", r.ClosedRetries)
}
