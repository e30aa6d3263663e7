package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/s3test"
	"github.com/stowaway-scanner/stowaway/internal/server/ecrapi"
	"github.com/stowaway-scanner/stowaway/internal/severity"
)

// peerRegistry is the CNCF registry as Debian packages it.
const peerRegistry = "/usr/bin/docker-registry"

// registry is a registry process the harness started and pushes to.
type registry struct {
	name  string
	addr  string   // 127.0.0.1:PORT
	creds string   // NAME:PW for skopeo, or "" for none
	env   []string // added to the harness's environment
	cmd   *exec.Cmd
	dir   string
	log   *os.File
}

// freeAddr picks a free loopback port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startProcess starts a registry and waits until GET readyPath answers.
func startProcess(ctx context.Context, r *registry, readyPath string, name string, args ...string) error {
	log, err := os.Create(filepath.Join(r.dir, "log"))
	if err != nil {
		return fmt.Errorf("%s: log: %w", r.name, err)
	}
	r.log = log
	r.cmd = exec.Command(name, args...)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	if len(r.env) > 0 {
		r.cmd.Env = append(os.Environ(), r.env...)
	}
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", r.name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := http.Get("http://" + r.addr + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(log.Name())
	return fmt.Errorf("%s: not ready after 30 s: %s", r.name, lastLines(string(b), 5))
}

// startPeer starts docker-registry with filesystem storage under dir and
// no authentication.
func startPeer(ctx context.Context, dir string) (*registry, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "storage"), addr)
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("docker-registry: config: %w", err)
	}
	r := &registry{name: "docker-registry", addr: addr, dir: dir}
	if err := startProcess(ctx, r, "/v2/", peerRegistry, "serve", path); err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// stowaway is a running `stowaway serve` with its API client.
type stowaway struct {
	*registry
	api *ecrClient
}

// startStowaway starts `stowaway serve` on a fresh data dir under dir with
// one registry user and one access key; s3, when not nil, is the SeaweedFS
// server whose bucket "bench" holds its blobs (--storage), with the
// credentials in the AWS environment variables; pprofAddr, when not "", is
// its --pprof-addr.
func startStowaway(ctx context.Context, bin, dir, db string, s3 *s3test.Server, pprofAddr string) (*stowaway, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	const user, pw, keyID, secret = "bench", "bench-pw", "AKIDBENCH", "bench-secret"
	r := &registry{name: "stowaway", addr: addr, dir: dir, creds: user + ":" + pw}
	args := []string{"serve", "--addr", addr, "--data", filepath.Join(dir, "data"),
		"--db", db, "--access-key", keyID + ":" + secret, "--user", user + ":" + pw, "--workers", "2"}
	if pprofAddr != "" {
		args = append(args, "--pprof-addr", pprofAddr)
	}
	if s3 != nil {
		r.name = "stowaway on S3"
		if err := s3.CreateBucket(ctx, "bench"); err != nil {
			return nil, err
		}
		args = append(args, "--storage", s3.URL("bench"))
		for k, v := range s3.Env() {
			r.env = append(r.env, k+"="+v)
		}
	}
	err = startProcess(ctx, r, "/healthz", bin, args...)
	if err != nil {
		r.stop()
		return nil, err
	}
	return &stowaway{registry: r, api: &ecrClient{url: "http://" + addr, keyID: keyID, secret: secret}}, nil
}

// procStats is a process's CPU time so far and peak RSS, from /proc.
type procStats struct {
	CPU      time.Duration
	MaxRSSMB float64
}

// stats reads the registry process's CPU time and peak RSS (Linux).
func (r *registry) stats() (procStats, error) {
	if r.cmd == nil || r.cmd.Process == nil {
		return procStats{}, errors.New("not running")
	}
	return pidStats(r.name, r.cmd.Process.Pid)
}

// pidStats reads a process's CPU time and peak RSS (Linux).
func pidStats(name string, p int) (procStats, error) {
	r := struct{ name string }{name}
	pid := strconv.Itoa(p)
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStats{}, fmt.Errorf("%s: read stat: %w", r.name, err)
	}
	// Fields after the ")" that ends the command name; utime and stime are
	// fields 14 and 15 of the whole line.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return procStats{}, fmt.Errorf("%s: short stat line", r.name)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	ps := procStats{CPU: time.Duration(ut+st) * time.Second / ticks}
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return procStats{}, fmt.Errorf("%s: read status: %w", r.name, err)
	}
	if ps.MaxRSSMB, err = statusField(string(status), "VmHWM:"); err != nil {
		return procStats{}, fmt.Errorf("%s: status: %w", r.name, err)
	}
	return ps, nil
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes
// nothing: the caller owns dir.
func (r *registry) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-done
		}
	}
	if r.log != nil {
		r.log.Close()
	}
}

// push copies one image to repo:tag with skopeo and returns its wall time.
func (r *registry) push(ctx context.Context, src, repoTag string) (time.Duration, error) {
	args := []string{"copy", "--quiet", "--dest-tls-verify=false"}
	if r.creds != "" {
		args = append(args, "--dest-creds", r.creds)
	}
	args = append(args, src, "docker://"+r.addr+"/"+repoTag)
	cmd := exec.CommandContext(ctx, "skopeo", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("skopeo copy %s to %s: %w: %s", src, r.name, err, lastLines(out.String(), 3))
	}
	return d, nil
}

// ecrClient calls the ECR-compatible API with SigV4-signed requests.
type ecrClient struct {
	url, keyID, secret string
	http               http.Client
}

// apiError is an ECR error response.
type apiError struct {
	Status int
	Type   string `json:"__type"`
	Msg    string `json:"message"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Msg) }

// call POSTs one action and decodes the response into out.
func (c *ecrClient) call(ctx context.Context, action string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921."+action)
	ecrapi.SignRequest(req, body, c.keyID, c.secret, "us-east-1", time.Now())
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read: %w", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, e)
		return fmt.Errorf("%s: %w", action, e)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: decode: %w", action, err)
	}
	return nil
}

// scanOnPushEverywhere sets the registry rule: BASIC, SCAN_ON_PUSH for "*".
func (c *ecrClient) scanOnPushEverywhere(ctx context.Context) error {
	return c.call(ctx, "PutRegistryScanningConfiguration", map[string]any{
		"scanType": "BASIC",
		"rules": []any{map[string]any{
			"scanFrequency":     "SCAN_ON_PUSH",
			"repositoryFilters": []any{map[string]any{"filter": "*", "filterType": "WILDCARD"}},
		}},
	}, nil)
}

// scanStatus is the part of DescribeImageScanFindings the harness reads.
type scanStatus struct {
	ImageScanStatus struct {
		Status      string `json:"status"`
		Description string `json:"description"`
	} `json:"imageScanStatus"`
	ImageScanFindings struct {
		ImageScanCompletedAt  float64                   `json:"imageScanCompletedAt"`
		FindingSeverityCounts map[severity.Severity]int `json:"findingSeverityCounts"`
	} `json:"imageScanFindings"`
}

// waitScan polls DescribeImageScanFindings every interval until the scan
// of repo:tag leaves IN_PROGRESS (or PENDING), and returns the final
// response and when it was first seen.
func (c *ecrClient) waitScan(ctx context.Context, repo, tag string, interval, timeout time.Duration) (scanStatus, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	in := map[string]any{"repositoryName": repo, "imageId": map[string]string{"imageTag": tag}, "maxResults": 1}
	for {
		var out scanStatus
		err := c.call(ctx, "DescribeImageScanFindings", in, &out)
		seen := time.Now()
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Type == "ScanNotFoundException":
			// Not enqueued yet; keep polling.
		case err != nil:
			return scanStatus{}, seen, err
		case out.ImageScanStatus.Status != "IN_PROGRESS" && out.ImageScanStatus.Status != "PENDING":
			return out, seen, nil
		}
		select {
		case <-ctx.Done():
			return scanStatus{}, seen, fmt.Errorf("scan of %s:%s: no final status: %w", repo, tag, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// lastLines is the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
