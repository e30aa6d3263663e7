package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/s3test"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// pollInterval is how often the harness asks for a scan's status.
const pollInterval = 50 * time.Millisecond

// serverOptions configures the server section.
type serverOptions struct {
	Bin    string // the stowaway binary
	Images string // ../shared/images
	DB     string // vulnerability DB directory ("" = none found)
	Rounds int
	Filter string // glob over image names; "" = all
	// Weed is the SeaweedFS binary ($STOWAWAY_WEED) for the variant of
	// stowaway serve on S3 ("" = that variant is skipped).
	Weed string
	// Profiles, when set, is a directory where each round's heap profiles
	// of stowaway serve (on the filesystem) are saved: one after each
	// image's scan and one at the round's end (serve --pprof-addr).
	Profiles string
}

// ServerRun is the server section's detail in the JSON file.
type ServerRun struct {
	Rounds int    `json:"rounds"`
	DB     string `json:"db"`
	Filter string `json:"image_filter,omitempty"`
	// Peer is the peer registry's version, or why it was skipped.
	Peer   string        `json:"peer"`
	Images []ServerImage `json:"images"`
	// Per round: each server's CPU time over the whole round (stowaway's
	// includes its scans), its CPU time during the skopeo runs only, and its
	// peak RSS.
	StowawayCPUS     []float64 `json:"stowaway_cpu_s"`
	StowawayPushCPUS []float64 `json:"stowaway_push_cpu_s"`
	StowawayRSSMB    []float64 `json:"stowaway_max_rss_mib"`
	PeerCPUS         []float64 `json:"peer_cpu_s,omitempty"`
	PeerPushCPUS     []float64 `json:"peer_push_cpu_s,omitempty"`
	PeerRSSMB        []float64 `json:"peer_max_rss_mib,omitempty"`
	// Steady state per round: the median of VmRSS sampled every 100 ms
	// during the pushes and the waits for their scans (not while the
	// harness runs the CLI scan of each image); the peak is VmHWM, above.
	StowawaySteadyRSSMB []float64 `json:"stowaway_steady_rss_mib,omitempty"`
	PeerSteadyRSSMB     []float64 `json:"peer_steady_rss_mib,omitempty"`
	S3SteadyRSSMB       []float64 `json:"stowaway_s3_steady_rss_mib,omitempty"`
	// S3 says which SeaweedFS the S3 variant (stowaway serve --storage
	// s3://..., pushed the same images in the same rounds) ran against, or
	// why it was skipped; the same figures per round for that server, and
	// SeaweedFS's own CPU time and peak RSS (master, volume, filer and S3
	// gateway in one process).
	S3         string    `json:"s3"`
	S3CPUS     []float64 `json:"stowaway_s3_cpu_s,omitempty"`
	S3PushCPUS []float64 `json:"stowaway_s3_push_cpu_s,omitempty"`
	S3RSSMB    []float64 `json:"stowaway_s3_max_rss_mib,omitempty"`
	WeedCPUS   []float64 `json:"seaweedfs_cpu_s,omitempty"`
	WeedRSSMB  []float64 `json:"seaweedfs_max_rss_mib,omitempty"`
}

// ServerImage is one shared image's figures over all rounds.
type ServerImage struct {
	Name   string  `json:"name"`
	Bytes  int64   `json:"bytes"` // layer and config blobs
	FloorS float64 `json:"gunzip_floor_s,omitempty"`
	// One value per round.
	PushPeerS     []float64 `json:"push_peer_s,omitempty"`
	PushStowawayS []float64 `json:"push_stowaway_s"`
	// PushS3S and ScanLatencyS3S: the same on stowaway serve on S3.
	PushS3S        []float64 `json:"push_stowaway_s3_s,omitempty"`
	ScanLatencyS3S []float64 `json:"scan_latency_s3_s,omitempty"`
	StatusS3       string    `json:"scan_status_s3,omitempty"`
	// ScanLatencyS is from skopeo's exit to the first DescribeImageScanFindings
	// answer with a final status (polled every 50 ms).
	ScanLatencyS []float64 `json:"scan_latency_s"`
	// StampedS is the server's imageScanCompletedAt (ms precision) minus
	// skopeo's exit: the latency without polling's 50 ms quantization
	// (negative when the scan finished before skopeo exited).
	StampedS []float64 `json:"scan_completed_at_minus_push_end_s,omitempty"`
	// ScanCLIS is `stowaway scan` of the same image and DB, run right after
	// the pushes: the scan work alone, without registry or queue.
	ScanCLIS []float64 `json:"scan_cli_s,omitempty"`
	Status   string    `json:"scan_status"`
	Findings int       `json:"findings"`
	Errors   []string  `json:"errors,omitempty"`
}

// sharedImage is one image of ../shared/images as skopeo reads it.
type sharedImage struct {
	name  string // repository name
	src   string // skopeo source reference
	bytes int64
	blobs []string // gzip layer blobs (OCI layouts) for the floor
	path  string
}

// listImages finds the docker archives (*.tar) and OCI layouts (*.oci) in dir.
func listImages(dir string) ([]sharedImage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []sharedImage
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case strings.HasSuffix(e.Name(), ".tar") && !e.IsDir():
			fi, err := e.Info()
			if err != nil {
				return nil, fmt.Errorf("list images: %w", err)
			}
			out = append(out, sharedImage{name: strings.TrimSuffix(e.Name(), ".tar"), src: "docker-archive:" + p, bytes: fi.Size(), path: p})
		case strings.HasSuffix(e.Name(), ".oci") && e.IsDir():
			img, err := ociImage(p)
			if err != nil {
				return nil, err
			}
			img.name = strings.TrimSuffix(e.Name(), ".oci")
			out = append(out, img)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// ociImage reads an OCI layout's ref name and blobs.
func ociImage(dir string) (sharedImage, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return sharedImage{}, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	var idx struct {
		Manifests []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return sharedImage{}, fmt.Errorf("oci layout %s: index.json: %w", dir, err)
	}
	img := sharedImage{src: "oci:" + dir, path: dir}
	if len(idx.Manifests) > 0 {
		if ref := idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != "" {
			img.src += ":" + ref
		}
	}
	blobDir := filepath.Join(dir, "blobs", "sha256")
	entries, err := os.ReadDir(blobDir)
	if err != nil {
		return sharedImage{}, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	for _, e := range entries {
		p := filepath.Join(blobDir, e.Name())
		fi, err := e.Info()
		if err != nil {
			return sharedImage{}, fmt.Errorf("oci layout %s: %w", dir, err)
		}
		img.bytes += fi.Size()
		if isGzip(p) {
			img.blobs = append(img.blobs, p)
		}
	}
	return img, nil
}

func isGzip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 2)
	_, err = io.ReadFull(f, magic)
	return err == nil && magic[0] == 0x1f && magic[1] == 0x8b
}

// floor is `gzip -dc` of the image's compressed layers (best of three).
func (img sharedImage) floor() (time.Duration, error) {
	if len(img.blobs) > 0 {
		return timeGunzip(img.blobs)
	}
	return gunzipFloor(img.path)
}

// pickDB is dir when it holds a DB, else the default DB directory when that
// does (a full DB built earlier is reused, never rebuilt here), else "".
func pickDB(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); err == nil {
		return dir
	}
	if def, err := vulndb.DefaultDir(); err == nil {
		if _, err := os.Stat(filepath.Join(def, "CURRENT")); err == nil {
			return def
		}
	}
	return ""
}

// serverSection pushes every shared image to docker-registry and to
// `stowaway serve`, and times each push and each scan on push.
func serverSection(ctx context.Context, o serverOptions) (*ServerRun, []Result, error) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		return nil, nil, errors.New("skopeo not found (apt-get install -y skopeo): server section skipped")
	}
	if o.DB == "" {
		return nil, nil, errors.New("no vulnerability DB (run the db section or `stowaway db update --mirror ../shared/feeds`): server section skipped")
	}
	images, err := listImages(o.Images)
	if err != nil {
		return nil, nil, err
	}
	if o.Filter != "" {
		var kept []sharedImage
		for _, img := range images {
			if ok, err := filepath.Match(o.Filter, img.name); err != nil {
				return nil, nil, fmt.Errorf("-server-images: %w", err)
			} else if ok {
				kept = append(kept, img)
			}
		}
		images = kept
	}
	run := &ServerRun{Rounds: o.Rounds, DB: o.DB, Filter: o.Filter}
	peer := true
	if _, err := os.Stat(peerRegistry); err != nil {
		peer = false
		run.Peer = "skipped: " + peerRegistry + " not installed (apt-get install -y docker-registry)"
		log.Printf("server: %s", run.Peer)
	} else if b, err := exec.Command(peerRegistry, "--version").Output(); err == nil {
		run.Peer = strings.TrimSpace(string(b))
	}
	run.Images = make([]ServerImage, len(images))
	for i, img := range images {
		run.Images[i] = ServerImage{Name: img.name, Bytes: img.bytes}
		if f, err := img.floor(); err == nil {
			run.Images[i].FloorS = f.Seconds()
		} else {
			log.Printf("server: floor of %s: %v", img.name, err)
		}
	}
	if o.Weed == "" {
		if _, err := s3test.Weed(); err != nil {
			run.S3 = "skipped: " + err.Error()
			log.Printf("server: S3 variant %s", run.S3)
		}
	} else {
		run.S3 = "SeaweedFS " + o.Weed
		if b, err := exec.Command(o.Weed, "version").Output(); err == nil {
			run.S3 = "SeaweedFS " + lastLines(strings.TrimSpace(string(b)), 1)
		}
	}
	for round := 0; round < o.Rounds; round++ {
		log.Printf("server: round %d/%d: pushing %d images", round+1, o.Rounds, len(images))
		if err := serverRound(ctx, o, images, run, round, peer); err != nil {
			return run, serverResults(run, peer), fmt.Errorf("round %d: %w", round+1, err)
		}
	}
	return run, serverResults(run, peer), nil
}

// serverRound starts fresh registries, pushes every image to both (the
// order alternating per image and per round so that neither registry always
// gets the warmer page cache) and waits for each scan on push.
func serverRound(ctx context.Context, o serverOptions, images []sharedImage, run *ServerRun, round int, peer bool) error {
	dir, err := os.MkdirTemp("", "bench-server-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	var p *registry
	if peer {
		if err := os.Mkdir(filepath.Join(dir, "peer"), 0o755); err != nil {
			return err
		}
		if p, err = startPeer(ctx, filepath.Join(dir, "peer")); err != nil {
			return err
		}
		defer p.stop()
	}
	if err := os.Mkdir(filepath.Join(dir, "stowaway"), 0o755); err != nil {
		return err
	}
	var pprofAddr string
	if o.Profiles != "" {
		if pprofAddr, err = freeAddr(); err != nil {
			return err
		}
	}
	s, err := startStowaway(ctx, o.Bin, filepath.Join(dir, "stowaway"), o.DB, nil, pprofAddr)
	if err != nil {
		return err
	}
	defer s.stop()
	if err := s.api.scanOnPushEverywhere(ctx); err != nil {
		return fmt.Errorf("stowaway: scan-on-push rule: %w", err)
	}
	// The S3 variant: SeaweedFS and a second stowaway serve whose blobs
	// are in its bucket.
	var weed *s3test.Server
	var s3s *stowaway
	if o.Weed != "" {
		for _, d := range []string{"weed", "stowaway-s3"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		if weed, err = s3test.Start(ctx, o.Weed, filepath.Join(dir, "weed")); err != nil {
			return err
		}
		defer weed.Stop()
		if s3s, err = startStowaway(ctx, o.Bin, filepath.Join(dir, "stowaway-s3"), o.DB, weed, ""); err != nil {
			return err
		}
		defer s3s.stop()
		if err := s3s.api.scanOnPushEverywhere(ctx); err != nil {
			return fmt.Errorf("stowaway on S3: scan-on-push rule: %w", err)
		}
	}
	var s3Before, weedBefore procStats
	if s3s != nil {
		if s3Before, err = s3s.stats(); err != nil {
			return err
		}
		if weedBefore, err = pidStats("seaweedfs", weed.PID()); err != nil {
			return err
		}
	}
	sBefore, err := s.stats()
	if err != nil {
		return err
	}
	var pBefore procStats
	if p != nil {
		if pBefore, err = p.stats(); err != nil {
			return err
		}
	}
	sRSS := sampleRSS(s.cmd.Process.Pid)
	defer sRSS.stop()
	var pRSS, s3RSS *rssSampler
	if p != nil {
		pRSS = sampleRSS(p.cmd.Process.Pid)
		defer pRSS.stop()
	}
	if s3s != nil {
		s3RSS = sampleRSS(s3s.cmd.Process.Pid)
		defer s3RSS.stop()
	}
	// profile saves stowaway's heap profile as NAME in o.Profiles.
	profile := func(name string) {
		if pprofAddr == "" {
			return
		}
		path := filepath.Join(o.Profiles, fmt.Sprintf("r%d-%s.heap.pb.gz", round+1, name))
		if err := saveProfile(ctx, pprofAddr, "heap", path); err != nil {
			log.Printf("server: %v", err)
		}
	}
	tag := fmt.Sprintf("r%d", round+1)
	// pushCPU adds r's CPU time during one push to *sum.
	pushCPU := func(r *registry, sum *time.Duration, push func() (time.Duration, error)) (time.Duration, error) {
		before, err := r.stats()
		if err != nil {
			return 0, err
		}
		d, err := push()
		if after, serr := r.stats(); serr == nil {
			*sum += after.CPU - before.CPU
		}
		return d, err
	}
	var sPush, pPush, s3Push time.Duration
	for i, img := range images {
		out := &run.Images[i]
		pushPeer := func() {
			if p == nil {
				return
			}
			d, err := pushCPU(p, &pPush, func() (time.Duration, error) { return p.push(ctx, img.src, img.name+":"+tag) })
			if err != nil {
				out.Errors = append(out.Errors, err.Error())
				return
			}
			out.PushPeerS = append(out.PushPeerS, d.Seconds())
		}
		pushStowaway := func() {
			d, err := pushCPU(s.registry, &sPush, func() (time.Duration, error) { return s.push(ctx, img.src, img.name+":"+tag) })
			if err != nil {
				out.Errors = append(out.Errors, err.Error())
				return
			}
			pushed := time.Now()
			out.PushStowawayS = append(out.PushStowawayS, d.Seconds())
			st, seen, err := s.api.waitScan(ctx, img.name, tag, pollInterval, 5*time.Minute)
			if err != nil {
				out.Errors = append(out.Errors, err.Error())
				return
			}
			out.ScanLatencyS = append(out.ScanLatencyS, seen.Sub(pushed).Seconds())
			if at := st.ImageScanFindings.ImageScanCompletedAt; at > 0 {
				out.StampedS = append(out.StampedS, at-float64(pushed.UnixNano())/1e9)
			}
			out.Status = st.ImageScanStatus.Status
			out.Findings = 0
			for _, n := range st.ImageScanFindings.FindingSeverityCounts {
				out.Findings += n
			}
		}
		pushS3 := func() {
			if s3s == nil {
				return
			}
			d, err := pushCPU(s3s.registry, &s3Push, func() (time.Duration, error) { return s3s.push(ctx, img.src, img.name+":"+tag) })
			if err != nil {
				out.Errors = append(out.Errors, "s3: "+err.Error())
				return
			}
			pushed := time.Now()
			out.PushS3S = append(out.PushS3S, d.Seconds())
			st, seen, err := s3s.api.waitScan(ctx, img.name, tag, pollInterval, 5*time.Minute)
			if err != nil {
				out.Errors = append(out.Errors, "s3: "+err.Error())
				return
			}
			out.ScanLatencyS3S = append(out.ScanLatencyS3S, seen.Sub(pushed).Seconds())
			out.StatusS3 = st.ImageScanStatus.Status
		}
		// Each registry goes first in turn, per image and per round, so
		// that none always gets the warmer page cache.
		pushers := []func(){pushPeer, pushStowaway, pushS3}
		for k := range pushers {
			pushers[(i+round+k)%len(pushers)]()
		}
		for _, r := range []*rssSampler{sRSS, pRSS, s3RSS} {
			if r != nil {
				r.pause()
			}
		}
		profile(fmt.Sprintf("%02d-%s", i+1, img.name))
		m, err := measure(o.Bin, "scan", img.path, "--db", o.DB, "--format", "json", "-o", os.DevNull)
		for _, r := range []*rssSampler{sRSS, pRSS, s3RSS} {
			if r != nil {
				r.resume()
			}
		}
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
		} else {
			out.ScanCLIS = append(out.ScanCLIS, m.wall.Seconds())
		}
	}
	profile("end")
	run.StowawaySteadyRSSMB = append(run.StowawaySteadyRSSMB, median(sRSS.stop()))
	if pRSS != nil {
		run.PeerSteadyRSSMB = append(run.PeerSteadyRSSMB, median(pRSS.stop()))
	}
	if s3RSS != nil {
		run.S3SteadyRSSMB = append(run.S3SteadyRSSMB, median(s3RSS.stop()))
	}
	sAfter, err := s.stats()
	if err != nil {
		return err
	}
	run.StowawayCPUS = append(run.StowawayCPUS, (sAfter.CPU - sBefore.CPU).Seconds())
	run.StowawayPushCPUS = append(run.StowawayPushCPUS, sPush.Seconds())
	run.StowawayRSSMB = append(run.StowawayRSSMB, sAfter.MaxRSSMB)
	if s3s != nil {
		s3After, err := s3s.stats()
		if err != nil {
			return err
		}
		weedAfter, err := pidStats("seaweedfs", weed.PID())
		if err != nil {
			return err
		}
		run.S3CPUS = append(run.S3CPUS, (s3After.CPU - s3Before.CPU).Seconds())
		run.S3PushCPUS = append(run.S3PushCPUS, s3Push.Seconds())
		run.S3RSSMB = append(run.S3RSSMB, s3After.MaxRSSMB)
		run.WeedCPUS = append(run.WeedCPUS, (weedAfter.CPU - weedBefore.CPU).Seconds())
		run.WeedRSSMB = append(run.WeedRSSMB, weedAfter.MaxRSSMB)
	}
	if p != nil {
		pAfter, err := p.stats()
		if err != nil {
			return err
		}
		run.PeerCPUS = append(run.PeerCPUS, (pAfter.CPU - pBefore.CPU).Seconds())
		run.PeerPushCPUS = append(run.PeerPushCPUS, pPush.Seconds())
		run.PeerRSSMB = append(run.PeerRSSMB, pAfter.MaxRSSMB)
	}
	return nil
}

// serverResults turns the per-image figures into the harness's results:
// medians over rounds per image, then sums, percentiles and ratios.
func serverResults(run *ServerRun, peer bool) []Result {
	var (
		n                       int
		bytes                   int64
		sumPeer, sumS           float64
		ratios, lat, latToFloor []float64
		latToCLI, stamped       []float64
		sumS3, sumFS3           float64
		latS3, s3Ratios         []float64
		n3                      int
		bytes3                  int64
	)
	for _, im := range run.Images {
		lat = append(lat, im.ScanLatencyS...)
		stamped = append(stamped, im.StampedS...)
		if l := median(im.ScanLatencyS); l > 0 && im.FloorS > 0 {
			latToFloor = append(latToFloor, l/im.FloorS)
		}
		if l, c := median(im.ScanLatencyS), median(im.ScanCLIS); l > 0 && c > 0 {
			latToCLI = append(latToCLI, l/c)
		}
		latS3 = append(latS3, im.ScanLatencyS3S...)
		if len(im.PushS3S) > 0 && len(im.PushStowawayS) > 0 {
			n3++
			bytes3 += im.Bytes
			m3, mf := median(im.PushS3S), median(im.PushStowawayS)
			sumS3 += m3
			sumFS3 += mf
			s3Ratios = append(s3Ratios, m3/mf)
		}
		// Push totals count only images that every registry took.
		if len(im.PushStowawayS) == 0 || (peer && len(im.PushPeerS) == 0) {
			continue
		}
		n++
		bytes += im.Bytes
		ms := median(im.PushStowawayS)
		sumS += ms
		if peer {
			mp := median(im.PushPeerS)
			sumPeer += mp
			ratios = append(ratios, ms/mp)
		}
	}
	mb := float64(bytes) / 1e6
	images := fmt.Sprintf("%d shared images, %.1f MB", n, mb)
	var out []Result
	if peer {
		out = append(out, Result{
			Name: "server: push shared images, docker-registry (sum of per-image medians)", WallS: sumPeer,
			CPUS: median(run.PeerPushCPUS), MaxRSSMB: maxOf(run.PeerRSSMB), Value: mb / sumPeer, Unit: "MB/s",
			Note: images + "; skopeo copy, sequential; CPU = server process during the pushes, per round",
		})
	}
	rs := Result{
		Name: "server: push shared images, stowaway serve (sum of per-image medians)", WallS: sumS,
		CPUS: median(run.StowawayPushCPUS), MaxRSSMB: maxOf(run.StowawayRSSMB), Value: mb / sumS, Unit: "MB/s",
		Note: images + "; skopeo copy, sequential; CPU = server process during the pushes (scans start before skopeo exits), per round",
	}
	if peer && sumPeer > 0 {
		rs.Floor, rs.FloorS, rs.Ratio = "docker-registry, same images, same run", sumPeer, sumS/sumPeer
	}
	out = append(out, rs, Result{
		Name: "server: stowaway serve CPU per round, pushes and scans", CPUS: median(run.StowawayCPUS), MaxRSSMB: maxOf(run.StowawayRSSMB),
		Note: "server process CPU time from the first push to the last scan's final status",
	})
	steady := "median over rounds of each round's median VmRSS, sampled every 100 ms during the pushes and the waits for their scans; MAX RSS = VmHWM"
	out = append(out, Result{
		Name: "server: stowaway serve RSS during the pushes, steady state", MaxRSSMB: maxOf(run.StowawayRSSMB),
		Value: median(run.StowawaySteadyRSSMB), Unit: "MiB", Note: steady,
	})
	if peer {
		out = append(out, Result{
			Name: "server: docker-registry RSS during the pushes, steady state", MaxRSSMB: maxOf(run.PeerRSSMB),
			Value: median(run.PeerSteadyRSSMB), Unit: "MiB", Note: steady,
		})
	}
	if peer {
		out = append(out, Result{
			Name:  "server: push per image, stowaway/docker-registry (geometric mean)",
			Value: geomean(ratios), Unit: "x", Note: fmt.Sprintf("max %.2fx", maxOf(ratios)),
		})
	}
	note := fmt.Sprintf("%d scans, push end to final status, polled every %s", len(lat), pollInterval)
	out = append(out,
		Result{Name: "server: scan-on-push latency p50", WallS: percentile(lat, 50), Note: note},
		Result{Name: "server: scan-on-push imageScanCompletedAt - push end, p50", WallS: percentile(stamped, 50),
			Note: "the server's completion stamp (ms), no polling quantization; only scans that have one (UNSUPPORTED_IMAGE has none)"},
		Result{Name: "server: scan-on-push latency p95", WallS: percentile(lat, 95), Note: note},
		Result{Name: "server: scan-on-push latency max", WallS: maxOf(lat), Note: note},
		Result{Name: "server: scan-on-push latency / gzip -dc floor, median over images", Value: median(latToFloor), Unit: "x",
			Note: "per image: median latency over rounds / gzip -dc of its layers"},
		Result{Name: "server: scan-on-push latency / CLI scan of the same image, median over images", Value: median(latToCLI), Unit: "x",
			Note: fmt.Sprintf("per image: median latency / median `stowaway scan` wall; max %.2fx", maxOf(latToCLI))},
	)
	if n3 > 0 {
		mb3 := float64(bytes3) / 1e6
		out = append(out,
			Result{
				Name: "server: push shared images, stowaway serve on S3 (SeaweedFS) (sum of per-image medians)", WallS: sumS3,
				CPUS: median(run.S3PushCPUS), MaxRSSMB: maxOf(run.S3RSSMB), Value: mb3 / sumS3, Unit: "MB/s",
				Floor: "stowaway serve on the filesystem, same images, same run", FloorS: sumFS3, Ratio: sumS3 / sumFS3,
				Note: fmt.Sprintf("%d shared images, %.1f MB; skopeo copy, sequential; CPU = stowaway process during the pushes, per round (SeaweedFS's own below)", n3, mb3),
			},
			Result{Name: "server: stowaway serve on S3 CPU per round, pushes and scans", CPUS: median(run.S3CPUS), MaxRSSMB: maxOf(run.S3RSSMB),
				Value: median(run.S3SteadyRSSMB), Unit: "MiB steady RSS",
				Note: "stowaway process only; the S3 server's CPU is the next line"},
			Result{Name: "server: SeaweedFS CPU per round (master, volume, filer, S3 gateway)", CPUS: median(run.WeedCPUS), MaxRSSMB: maxOf(run.WeedRSSMB),
				Note: "weed server -s3, one process, over the same round"},
			Result{Name: "server: push per image, S3/filesystem (geometric mean)", Value: geomean(s3Ratios), Unit: "x",
				Note: fmt.Sprintf("max %.2fx", maxOf(s3Ratios))},
			Result{Name: "server: scan-on-push latency p50, on S3", WallS: percentile(latS3, 50),
				Note: fmt.Sprintf("%d scans; the filesystem's p50 above (%.3f s)", len(latS3), percentile(lat, 50))},
			Result{Name: "server: scan-on-push latency p95, on S3", WallS: percentile(latS3, 95), Note: fmt.Sprintf("%d scans", len(latS3))},
		)
	}
	// The largest image, where the floor is more than process start-up.
	var big *ServerImage
	for i := range run.Images {
		if big == nil || run.Images[i].Bytes > big.Bytes {
			big = &run.Images[i]
		}
	}
	if big != nil && len(big.ScanLatencyS) > 0 {
		r := Result{Name: "server: scan-on-push latency " + big.Name + " (largest shared image)", WallS: median(big.ScanLatencyS),
			Floor: "gzip -dc of the same layers", Note: fmt.Sprintf("median over rounds; CLI scan %.2f s", median(big.ScanCLIS))}
		if big.FloorS > 0 {
			r.FloorS, r.Ratio = big.FloorS, r.WallS/big.FloorS
		}
		out = append(out, r)
	}
	return out
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

// printServer prints the per-image table of the server section.
func printServer(w io.Writer, run *ServerRun) {
	fmt.Fprintf(w, "\nserver section: %d rounds, peer %s, DB %s, S3 %s (per image: medians over rounds)\n", run.Rounds, run.Peer, run.DB, run.S3)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMAGE\tKB\tPUSH PEER s\tPUSH STOWAWAY s\tRATIO\tPUSH S3 s\tSCAN LATENCY s\tON S3 s\tGUNZIP FLOOR s\tLATENCY/FLOOR\tCLI SCAN s\tLATENCY/CLI\tSTATUS\tFINDINGS\n")
	for _, im := range run.Images {
		mp, ms, ml := median(im.PushPeerS), median(im.PushStowawayS), median(im.ScanLatencyS)
		ratio, lf := "-", "-"
		if mp > 0 && ms > 0 {
			ratio = fmt.Sprintf("%.2fx", ms/mp)
		}
		if ml > 0 && im.FloorS > 0 {
			lf = fmt.Sprintf("%.0fx", ml/im.FloorS)
		}
		status := im.Status
		if len(im.Errors) > 0 {
			status += fmt.Sprintf(" (%d errors: %s)", len(im.Errors), im.Errors[0])
		}
		mc := median(im.ScanCLIS)
		lc := "-"
		if ml > 0 && mc > 0 {
			lc = fmt.Sprintf("%.2fx", ml/mc)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", im.Name, im.Bytes/1024, orDash("%.3f", mp), orDash("%.3f", ms), ratio,
			orDash("%.3f", median(im.PushS3S)), orDash("%.3f", ml), orDash("%.3f", median(im.ScanLatencyS3S)), orDash("%.4f", im.FloorS), lf, orDash("%.3f", mc), lc, status, im.Findings)
	}
	tw.Flush()
}
