// Package multihost holds the two-host replica test: two `stowaway serve`
// processes, each in a network namespace of its own (its own address, its
// own loopback, its own --data and --db, as on two machines), sharing one
// PostgreSQL schema and one S3 bucket (SeaweedFS), which they reach over
// veth pairs through proxies the test runs on the root side. It needs root
// and ip(8), PostgreSQL (STOWAWAY_TEST_POSTGRES) and the weed binary
// ($STOWAWAY_WEED), and skips saying which is missing. See README "Testing
// replicas on two hosts".
package multihost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stowaway-scanner/stowaway/internal/hostile"
	"github.com/stowaway-scanner/stowaway/internal/s3test"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/server/store/storetest"
)

const (
	keyID, keySecret = "AKIDMULTIHOST", "multihost-secret"
	bucket           = "multihost"
	hookSecret       = "multihost-hook-secret"
	// jobLease is serve --job-lease: how soon a killed replica's scans are
	// taken over.
	jobLease = 6 * time.Second
)

var basic = &authn.Basic{Username: "ci", Password: "ci-pass"}

// replica is one `serve` process on one simulated host.
type replica struct {
	name string
	net  netHost
	dir  string // the host's disk: data/, db/, serve.log
	addr string // hostIP:5000
	s3   *proxy // the host's path to the S3 server
	cmd  *exec.Cmd
	done chan struct{}
	ecr  *ecr.Client
}

func (r *replica) logPath() string { return filepath.Join(r.dir, "serve.log") }

// log is the replica's stderr so far.
func (r *replica) log(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.logPath())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cluster is the shared services and the replicas.
type cluster struct {
	bin   string
	stage string // where the test builds DBs before copying them to the hosts
	store *store.SQL
	hooks *hookReceiver
	reps  []*replica
}

// TestTwoHostReplicas: two replicas on two addresses share PostgreSQL and
// S3. A push to one is pulled from the other; 50 pushes spread over both
// give exactly one completed scan per image (one scan event in the shared
// outbox, written in the scan's completing transaction); the lifecycle pass
// and the rescan pass of a new DB build run on exactly one replica; a
// replica killed with -9 while its scans are in flight (its path to S3
// stalled) leaves them to the other, which finishes each exactly once after
// the job lease.
func TestTwoHostReplicas(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (ip netns add); CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip(8) not installed (apt-get install -y iproute2): no network namespaces")
	}
	if _, err := s3test.Weed(); err != nil {
		t.Skip(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build stowaway for the replicas")
	}
	ctx := context.Background()
	last := time.Now()
	step := func(what string) {
		t.Logf("%s: %s", what, time.Since(last).Round(100*time.Millisecond))
		last = time.Now()
	}
	pgURL := storetest.PostgresURL(t) // skips without PostgreSQL
	weed := s3test.ForTest(t)
	if err := weed.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	c := &cluster{bin: buildStowaway(t, goBin), stage: t.TempDir()}
	c.store, err = store.OpenPostgres(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.store.Close() })
	c.hooks = newHookReceiver(t)

	mirror := t.TempDir()
	if err := hostile.Mirror(mirror); err != nil {
		t.Fatal(err)
	}
	c.run(t, "db", "update", "--quiet", "--mirror", mirror, "--db", c.stage)

	pg, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	s3u, err := url.Parse(weed.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range netHosts(t, 2) {
		r := &replica{name: string(rune('a' + i)), net: h, dir: t.TempDir(), addr: h.hostIP + ":5000"}
		c.installDB(t, r)
		r.s3 = newProxy(t, h.rootIP+":0", s3u.Host)
		pgp := newProxy(t, h.rootIP+":0", pg.Host)
		hookp := newProxy(t, h.rootIP+":0", c.hooks.addr)
		hostPG := *pg
		hostPG.Host = pgp.addr()
		c.start(t, r, hostPG.String(), "s3://"+bucket+"?region="+s3test.Region+"&endpoint=http://"+r.s3.addr()+"&forcepathstyle=true",
			"http://"+hookp.addr()+"/hook", weed.Env())
		c.reps = append(c.reps, r)
	}
	a, b := c.reps[0], c.reps[1]
	step("build, DB, S3 server, two hosts started")
	if _, err := a.ecr.PutRegistryScanningConfiguration(ctx, &ecr.PutRegistryScanningConfigurationInput{
		ScanType: ecrtypes.ScanTypeBasic,
		Rules: []ecrtypes.RegistryScanningRule{{
			ScanFrequency:     ecrtypes.ScanFrequencyScanOnPush,
			RepositoryFilters: []ecrtypes.ScanningRepositoryFilter{{Filter: aws.String("app"), FilterType: ecrtypes.ScanningRepositoryFilterTypeWildcard}},
		}},
	}); err != nil {
		t.Fatalf("PutRegistryScanningConfiguration: %v", err)
	}

	// Push to one host, pull from the other.
	first := image(t, 0)
	firstDigest := push(t, a, "app/one:1", first)
	pulled := pull(t, b, "app/one:1")
	if d, _ := pulled.Digest(); d.String() != firstDigest {
		t.Fatalf("pulled %s from %s, pushed %s to %s", d, b.addr, firstDigest, a.addr)
	}

	step("push to a, pull from b")

	// The lifecycle pass: a policy that keeps one image of app/old.
	push(t, b, "app/old:1", image(t, 1000))
	time.Sleep(10 * time.Millisecond) // distinct push times
	push(t, a, "app/old:2", image(t, 1001))
	for _, n := range []int{1000, 1001} {
		c.waitScan(t, "app/old", pushedDigest(t, n), 30*time.Second)
	}
	if _, err := b.ecr.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app/old"),
		LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`)}); err != nil {
		t.Fatalf("PutLifecyclePolicy: %v", err)
	}

	// 50 pushes spread over both replicas, four at a time.
	want := map[string]int{firstDigest: 1}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range 50 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := push(t, c.reps[i%2], fmt.Sprintf("app/fleet:%d", i), image(t, i+1))
			mu.Lock()
			want[d] = 1
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for d := range want {
		c.waitScan(t, "app/"+repoOf(d, firstDigest), d, 60*time.Second)
	}
	if diff := cmp.Diff(want, c.scanEvents(t, "app/one", "app/fleet")); diff != "" {
		t.Errorf("completed scans per image (scan events in the shared outbox), -want +got:\n%s", diff)
	}
	perReplica := map[string]float64{}
	for _, r := range c.reps {
		perReplica[r.name] = c.metric(t, r, `stowaway_scans_total{status="COMPLETE"}`)
	}
	// app/old's two images were scanned on push too.
	if perReplica["a"]+perReplica["b"] != float64(len(want)+2) || perReplica["a"] == 0 || perReplica["b"] == 0 {
		t.Errorf("completed scans by replica %v (stowaway_scans_total): want %d in all, some on each", perReplica, len(want)+2)
	}
	step(fmt.Sprintf("50 pushes scanned once each (%v per replica)", perReplica))

	// The lifecycle pass ran on one replica, which expired app/old:1 once.
	c.waitLog(t, "lifecycle: expired image", 30*time.Second)
	lifecycle := c.countLogs(t, `msg="lifecycle: pass done"`)
	if (lifecycle["a"] == 0) == (lifecycle["b"] == 0) {
		t.Errorf("lifecycle passes by replica %v: want them all on one", lifecycle)
	}
	if n := c.countLogs(t, `msg="lifecycle: expired image"`); n["a"]+n["b"] != 1 {
		t.Errorf("lifecycle expiries by replica %v: want one", n)
	}
	if _, err := c.store.GetImage(ctx, "app/old", pushedDigest(t, 1000)); err == nil {
		t.Errorf("app/old:1 is still there after the lifecycle pass")
	}
	var holder string
	if err := c.store.DB().QueryRow(`SELECT holder FROM leases WHERE name = 'lifecycle'`).Scan(&holder); err != nil {
		t.Fatalf("lifecycle lease: %v", err)
	}
	for _, r := range c.reps {
		if ran := lifecycle[r.name] > 0; ran != strings.HasSuffix(holder, "-"+strconv.Itoa(r.cmd.Process.Pid)) {
			t.Errorf("lifecycle lease held by %s; replica %s (pid %d) ran %d passes", holder, r.name, r.cmd.Process.Pid, lifecycle[r.name])
		}
	}

	step("lifecycle pass on one replica")

	// The rescan pass: a new DB build (a new busybox advisory) lands on both
	// hosts, as `db pull` of one artifact leaves it; one replica re-matches.
	passes := c.countLogs(t, `msg="rescan: pass"`)
	addAdvisory(t, mirror)
	c.run(t, "db", "update", "--quiet", "--mirror", mirror, "--db", c.stage)
	build := c.stageBuild(t)
	for _, r := range c.reps {
		c.installDB(t, r)
	}
	c.waitLog(t, "build="+build, 30*time.Second)
	time.Sleep(3 * time.Second) // several polls of each replica
	after := c.countLogs(t, `msg="rescan: pass"`)
	if got := after["a"] - passes["a"] + after["b"] - passes["b"]; got != 1 {
		t.Errorf("rescan passes for build %s: %d (before %v, after %v), want 1", build, got, passes, after)
	}
	if n := c.countLogs(t, "build="+build); n["a"]+n["b"] != 1 {
		t.Errorf("log lines naming build %s by replica %v: want one pass on one replica", build, n)
	}

	step("rescan pass of a new build on one replica")

	// Each host updates its own DB (the chart's vulndb.volume=emptyDir with
	// --db-update-interval): b's build is newer than the last one a pass
	// processed, a's older. One pass for b's build, and none for a's, ever:
	// a replica whose DB is older than the last processed build leaves it.
	passes = after
	c.run(t, "db", "update", "--quiet", "--mirror", mirror, "--db", filepath.Join(b.dir, "db"))
	bBuild := c.dirBuild(t, filepath.Join(b.dir, "db"))
	c.waitLog(t, "build="+bBuild, 30*time.Second)
	time.Sleep(3 * time.Second)
	after = c.countLogs(t, `msg="rescan: pass"`)
	if got := map[string]int{"a": after["a"] - passes["a"], "b": after["b"] - passes["b"]}; !cmp.Equal(got, map[string]int{"a": 0, "b": 1}) {
		t.Errorf("rescan passes by replica after b's own update to %s: %v, want one on b", bBuild, got)
	}

	step("each host's own DB update: one pass")

	// kill -9 with scans in flight: queued is scanned on request only (no
	// scanning rule's filter matches it). Both hosts' paths to S3 stall, so
	// each replica's two workers claim a scan each and hang reading the
	// image; a is killed holding two, b's path resumes, and b finishes all
	// six: its own two, the two nobody claimed, and a's two once their
	// lease runs out.
	queued := map[string]int{}
	for i := range 6 {
		queued[push(t, c.reps[i%2], fmt.Sprintf("queued:%d", i), image(t, 2000+i))] = 1
	}
	a.s3.hold(true)
	b.s3.hold(true)
	for d := range queued {
		if _, err := a.ecr.StartImageScan(ctx, &ecr.StartImageScanInput{RepositoryName: aws.String("queued"),
			ImageId: &ecrtypes.ImageIdentifier{ImageDigest: aws.String(d)}}); err != nil {
			t.Fatalf("StartImageScan %s: %v", d, err)
		}
	}
	running := c.waitRunning(t, 4, 20*time.Second)
	aPID := strconv.Itoa(a.cmd.Process.Pid)
	var onA []string
	for d, worker := range running {
		// Workers are named <hostname>-<pid>-<n> (serve's instance id).
		if strings.HasSuffix(strings.TrimRight(worker, "0123456789"), "-"+aPID+"-") {
			onA = append(onA, d)
		}
	}
	if len(onA) != 2 {
		t.Fatalf("scans running %v: want two on a (pid %s)", running, aPID)
	}
	a.kill(t)
	b.s3.hold(false)
	start := time.Now()
	for d := range queued {
		c.waitScan(t, "queued", d, jobLease+30*time.Second)
	}
	step(fmt.Sprintf("kill -9 of a: b finished a's scans %s after the kill (job lease %s)", time.Since(start).Round(100*time.Millisecond), jobLease))
	events := c.scanEvents(t, "queued")
	if diff := cmp.Diff(queued, events); diff != "" {
		t.Errorf("completed scans of queued per image, -want +got:\n%s", diff)
	}
	blog := b.log(t)
	for _, d := range onA {
		if !regexp.MustCompile(`msg="jobs: scan finished".*digest=` + regexp.QuoteMeta(d) + ` attempt=2`).MatchString(blog) {
			t.Errorf("b's log has no second attempt of %s, which a held when killed", d)
		}
	}
}

// repoOf names the repository the test pushed digest d to.
func repoOf(d, first string) string {
	if d == first {
		return "one"
	}
	return "fleet"
}

// buildStowaway builds the binary the replicas run.
func buildStowaway(t *testing.T, goBin string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stowaway")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/stowaway-scanner/stowaway/cmd/stowaway")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// run runs the binary on the root namespace (db update).
func (c *cluster) run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(c.bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("stowaway %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// stageBuild is the build id of the staged DB.
func (c *cluster) stageBuild(t *testing.T) string {
	t.Helper()
	return c.dirBuild(t, c.stage)
}

// dirBuild is the build id of a DB directory's current DB (its file name's
// time).
func (c *cluster) dirBuild(t *testing.T, dir string) string {
	t.Helper()
	cur, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(cur)), "db-"), ".sqlite")
}

// installDB copies the staged DB file into the host's --db and switches its
// CURRENT to it atomically, as `db pull` does.
func (c *cluster) installDB(t *testing.T, r *replica) {
	t.Helper()
	cur, err := os.ReadFile(filepath.Join(c.stage, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	file := strings.TrimSpace(string(cur))
	dir := filepath.Join(r.dir, "db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(c.stage, file))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "CURRENT.tmp"), cur, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "CURRENT.tmp"), filepath.Join(dir, "CURRENT")); err != nil {
		t.Fatal(err)
	}
}

// start runs `serve` in r's namespace and waits until it answers.
func (c *cluster) start(t *testing.T, r *replica, database, storage, hookURL string, env map[string]string) {
	t.Helper()
	events := filepath.Join(r.dir, "events.yaml")
	if err := os.WriteFile(events, []byte("sinks:\n  - id: hook\n    type: webhook\n    url: "+hookURL+"\n    secretEnv: STOWAWAY_HOOK_SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(r.logPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	r.cmd = exec.Command("ip", "netns", "exec", r.net.ns, c.bin, "serve",
		"--addr", r.addr, "--data", filepath.Join(r.dir, "data"), "--db", filepath.Join(r.dir, "db"),
		"--database", database, "--storage", storage,
		"--access-key", keyID+":"+keySecret, "--user", basic.Username+":"+basic.Password,
		"--workers", "2", "--job-lease", jobLease.String(), "--sbom-formats", "none",
		"--lifecycle-interval", "3s", "--rescan-poll", "500ms", "--events-config", events)
	r.cmd.Env = append(os.Environ(), "STOWAWAY_HOOK_SECRET="+hookSecret)
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %s: %v", r.name, err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { r.stop(t) })
	r.ecr = ecr.New(ecr.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + r.addr),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, keySecret, ""),
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-r.done:
			t.Fatalf("replica %s exited at start:\n%s", r.name, r.log(t))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s does not answer on %s: %v\n%s", r.name, r.addr, err, r.log(t))
		}
	}
}

// kill is kill -9.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s: %v", r.name, err)
	}
	<-r.done
}

// stop ends the replica gracefully (SIGTERM, then SIGKILL after 15 s).
func (r *replica) stop(t *testing.T) {
	select {
	case <-r.done:
		return
	default:
	}
	r.s3.hold(false) // a failed test may leave it held
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		t.Errorf("replica %s did not stop within 15s of SIGTERM; killed", r.name)
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
	}
}

// image is a small Alpine image with busybox's CVE, made unique by n.
func image(t *testing.T, n int) v1.Image {
	t.Helper()
	img, err := hostile.Image(hostile.Vulnerable(), hostile.GzipLayer(hostile.File("etc/multihost-id", strconv.Itoa(n)+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushedDigest is image(n)'s digest.
func pushedDigest(t *testing.T, n int) string {
	t.Helper()
	d, err := image(t, n).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// push writes img to REPO:TAG on r and returns its digest. It may run on a
// goroutine (Errorf, not Fatal).
func push(t *testing.T, r *replica, repoTag string, img v1.Image) string {
	ref, err := name.ParseReference(r.addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Error(err)
		return ""
	}
	if err := remote.Write(ref, img, remote.WithAuth(basic)); err != nil {
		t.Errorf("push %s to %s: %v", repoTag, r.name, err)
		return ""
	}
	d, _ := img.Digest()
	return d.String()
}

// pull reads REPO:TAG from r, every layer's bytes included.
func pull(t *testing.T, r *replica, repoTag string) v1.Image {
	t.Helper()
	ref, err := name.ParseReference(r.addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithAuth(basic))
	if err != nil {
		t.Fatalf("pull %s from %s: %v", repoTag, r.name, err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("pull %s from %s: %v", repoTag, r.name, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("pull %s from %s: layer: %v", repoTag, r.name, err)
		}
	}
	return img
}

// waitScan waits for the image's scan in the shared store to be COMPLETE.
func (c *cluster) waitScan(t *testing.T, repo, digest string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sc, err := c.store.GetScan(context.Background(), repo, digest)
		if err == nil && sc.Status == "COMPLETE" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan of %s@%s: %+v %v after %s; logs:\n%s", repo, digest, sc.Status, err, within, c.logTails(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRunning waits for n scan jobs claimed at once and returns their
// digests' workers.
func (c *cluster) waitRunning(t *testing.T, n int, within time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rows, err := c.store.DB().Query(`SELECT digest, worker FROM jobs WHERE state = 'running'`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var d, w string
			if err := rows.Scan(&d, &w); err != nil {
				t.Fatal(err)
			}
			got[d] = w
		}
		rows.Close()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan jobs running: %v, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scanEvents counts the COMPLETE scan events per image digest of repos in
// the shared store's outbox: one row per completed scan, written in the
// transaction that completes it.
func (c *cluster) scanEvents(t *testing.T, repos ...string) map[string]int {
	t.Helper()
	rows, err := c.store.DB().Query(`SELECT payload FROM outbox WHERE sink_id = 'hook'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		var ev struct {
			DetailType string `json:"detail-type"`
			Detail     struct {
				Status string `json:"scan-status"`
				Repo   string `json:"repository-name"`
				Digest string `json:"image-digest"`
			} `json:"detail"`
		}
		if err := json.Unmarshal([]byte(payload), &ev); err != nil {
			t.Fatalf("outbox payload: %v", err)
		}
		if ev.DetailType == "ECR Image Scan" && ev.Detail.Status == "COMPLETE" && slices.Contains(repos, ev.Detail.Repo) {
			got[ev.Detail.Digest]++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// metric reads one sample of r's /metrics (0 when absent).
func (c *cluster) metric(t *testing.T, r *replica, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", r.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics of %s: %s: %v", r.name, sc.Text(), err)
			}
			return f
		}
	}
	return 0
}

// countLogs counts the log lines containing s, per replica.
func (c *cluster) countLogs(t *testing.T, s string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range c.reps {
		for _, line := range strings.Split(r.log(t), "\n") {
			if strings.Contains(line, s) {
				out[r.name]++
			}
		}
	}
	return out
}

// waitLog waits for a log line containing s on any replica.
func (c *cluster) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := c.countLogs(t, s)
		if n["a"]+n["b"] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica logged %q within %s; logs:\n%s", s, within, c.logTails(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logTails is the end of each replica's log, for failures.
func (c *cluster) logTails(t *testing.T) string {
	var b strings.Builder
	for _, r := range c.reps {
		s := r.log(t)
		if len(s) > 4000 {
			s = s[len(s)-4000:]
		}
		fmt.Fprintf(&b, "--- replica %s (%s):\n%s\n", r.name, r.addr, s)
	}
	return b.String()
}

// addAdvisory adds a busybox advisory to the mirror's Alpine secdb, so the
// next build changes the (alpine:3.19, busybox) pair.
func addAdvisory(t *testing.T, mirror string) {
	t.Helper()
	p := filepath.Join(mirror, "alpine", "secdb", "v3.19", "main.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	nb := bytes.Replace(b, []byte(`"1.36.1-r17":["CVE-2023-42363"]`), []byte(`"1.36.1-r17":["CVE-2023-42363"],"1.36.1-r19":["CVE-2026-20001"]`), 1)
	if bytes.Equal(b, nb) {
		t.Fatalf("%s: no busybox entry to extend", p)
	}
	if err := os.WriteFile(p, nb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hookReceiver is the webhook sink: it only acknowledges (deliveries are at
// least once; the test counts the outbox).
type hookReceiver struct {
	addr string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return &hookReceiver{addr: srv.Listener.Addr().(*net.TCPAddr).String()}
}
