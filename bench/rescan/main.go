// Command rescan measures continuous rescanning at fleet scale: it stores
// -images inventories of -packages packages each in a fresh SQLite store,
// then times, through the rescanner's real path (key selection, inventory
// decode, matching with one DB handle, a shared lookup cache and a shared
// per-package memo, one transaction per image):
//
//	(a) a re-match of every stored inventory;
//	(b) a change touching 1% of the fleet's distinct package names;
//	(c) a change touching one package of the common base (every image).
//
// The fleet is modelled on a registry of debian:12 images: every image has
// the -base most common packages of the base image, and the rest drawn from
// the DB's other debian:12 package names with a Zipf popularity (a few
// packages in many images, most in few). Versions are real: each package's
// installed version is one of the fixed versions its advisories name, the
// newest for fresh images and older ones for images built from older bases,
// so that matching decides as it does for real images; each package has the
// PURL the indexer would give it.
//
// -seed-results=false records the findings history when the inventories
// are stored, as the recorder does at scan time, instead of a first
// re-match storing every result (the measured passes read the history
// only; at 10,000 images the results take most of an hour to build).
//
// -database postgres://... runs the same passes on PostgreSQL, in a fresh
// schema dropped at the end. -baseline PREV.json prints each figure's
// ratio to the same figure of a previous run's -json output.
//
//	go run ./bench/rescan [-images 10000 -packages 300 -base 100 -db DIR -json out.json]
//	    [-database postgres://postgres@127.0.0.1:5432/test?sslmode=disable] [-baseline prev.json]
package main

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/version"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

type figures struct {
	DB               string  `json:"db"`
	DBKind           string  `json:"dbKind"`
	Store            string  `json:"store"`
	Images           int     `json:"images"`
	Packages         int     `json:"packagesPerImage"`
	BasePackages     int     `json:"basePackagesPerImage"`
	DistinctPackages int     `json:"distinctPackages"`
	DistinctVersions int     `json:"distinctPackageVersions"`
	FindingsPerImage float64 `json:"findingsPerImage"`
	SeedSeconds      float64 `json:"seedSeconds"`
	FullSeconds      float64 `json:"fullSeconds"`
	FullImagesPerSec float64 `json:"fullImagesPerSecond"`
	FullCPUSeconds   float64 `json:"fullCPUSeconds"`
	MemoHitRate      float64 `json:"fullMemoHitRate"`
	Change           change  `json:"change1pct"`
	Base             change  `json:"changeBasePackage"`
}

// change is one DB change scenario.
type change struct {
	Pairs         int     `json:"pairs"`
	Images        int     `json:"imagesRematched"`
	Seconds       float64 `json:"seconds"`
	ImagesPerSec  float64 `json:"imagesPerSecond"`
	OverFullRatio float64 `json:"overFull"`
	CPUSeconds    float64 `json:"cpuSeconds"`
}

func main() {
	images := flag.Int("images", 10000, "stored inventories")
	pkgs := flag.Int("packages", 300, "packages per inventory")
	base := flag.Int("base", 100, "packages every image shares (the base image)")
	dbDir := flag.String("db", "", "vulnerability DB directory (default $STOWAWAY_DB_DIR, else the user cache dir)")
	jsonOut := flag.String("json", "", "write the figures as JSON to this file")
	cpuProfile := flag.String("cpuprofile", "", "write CPU profiles of the passes to PREFIX.seed, PREFIX.full, PREFIX.change and PREFIX.base")
	database := flag.String("database", "", "a postgres:// URL: run on PostgreSQL in a fresh schema (default SQLite in a temporary directory)")
	baseline := flag.String("baseline", "", "a previous run's -json output: print each figure's ratio to it")
	seedResults := flag.Bool("seed-results", true, "seed with a first re-match that stores every result; false records the findings history at store time (as the recorder does) without results, which no measured pass reads")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *images, *pkgs, *base, *dbDir, *jsonOut, *cpuProfile, *database, *baseline, *seedResults); err != nil {
		fmt.Fprintln(os.Stderr, "bench/rescan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, nImages, nPkgs, nBase int, dbDir, jsonOut, cpuProfile, database, baseline string, seedResults bool) error {
	if nBase > nPkgs {
		return fmt.Errorf("-base %d is more than -packages %d", nBase, nPkgs)
	}
	var prev *figures
	if baseline != "" {
		b, err := os.ReadFile(baseline)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		prev = &figures{}
		if err := json.Unmarshal(b, prev); err != nil {
			return fmt.Errorf("baseline %s: %w", baseline, err)
		}
	}
	if dbDir == "" {
		var err error
		if dbDir, err = vulndb.DefaultDir(); err != nil {
			return err
		}
	}
	db, err := vulndb.Open(ctx, dbDir)
	if err != nil {
		return fmt.Errorf("no vulnerability DB (build one with 'stowaway db update --mirror ../shared/feeds'): %w", err)
	}
	f := figures{DB: db.Path(), DBKind: "real (stowaway db update)", Images: nImages, Packages: nPkgs, BasePackages: nBase}
	pool, err := debianPool(ctx, db)
	db.Close()
	if err != nil {
		return err
	}
	if len(pool) < 2*nPkgs {
		return fmt.Errorf("the DB has only %d usable debian:12 packages, want at least %d", len(pool), 2*nPkgs)
	}
	work, err := os.MkdirTemp("", "bench-rescan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	st, cleanup, err := openStore(ctx, database, work)
	if err != nil {
		return err
	}
	defer cleanup()
	f.Store = st.Dialect()
	if err := st.PutScanningConfig(ctx, json.RawMessage(`{"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]}`)); err != nil {
		return err
	}
	codec, err := rescan.NewCodec()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fl := newFleet(pool, nPkgs, nBase, rng)
	now := time.Now().UTC()
	fmt.Fprintf(os.Stderr, "storing %d inventories of %d packages (%d base; others Zipf over %d debian:12 names)...\n", nImages, nPkgs, nBase, len(pool)-nBase)
	seedStart := time.Now()
	var seedPass rescan.Pass
	var seedDB *vulndb.DB
	if !seedResults {
		// The findings history as the recorder writes it at scan time,
		// without the stored results (which no measured pass reads).
		if seedDB, err = vulndb.Open(ctx, dbDir); err != nil {
			return err
		}
		defer seedDB.Close()
		seedPass = rescan.ScanMatcher{}.Pass(seedDB)
	}
	for i := range nImages {
		repo := fmt.Sprintf("team%02d/app%d", i%50, i%7)
		digest := fmt.Sprintf("sha256:%064x", i)
		inv := fl.image(digest)
		data, err := codec.Encode(inv)
		if err != nil {
			return err
		}
		var keys []store.InventoryKey
		for _, k := range match.Keys(inv, scan.Options{Enhanced: true}.MatchOptions()) {
			keys = append(keys, store.InventoryKey{Namespace: k.Namespace, Package: k.Package})
		}
		if _, err := st.EnsureRepository(ctx, store.Repository{Name: repo, CreatedAt: now}); err != nil {
			return err
		}
		if _, err := st.PutImage(ctx, store.Image{Repository: repo, Digest: digest, MediaType: "m", ArtifactMediaType: "application/vnd.oci.image.config.v1+json", PushedAt: now}, ""); err != nil {
			return err
		}
		if err := st.StartScan(ctx, repo, digest, true, now, 0); err != nil {
			return err
		}
		j, err := st.ClaimJob(ctx, "bench", now, time.Hour, 3)
		if err != nil {
			return err
		}
		stored := store.StoredInventory{Repository: repo, Digest: digest, Enhanced: true, Data: data, StoredAt: now}
		var recs []store.FindingRecord
		if seedPass != nil {
			rm, err := seedPass.Rematch(ctx, inv, true)
			if err != nil {
				return err
			}
			recs, stored.DBBuiltAt = rm.Records, seedDB.BuiltAt()
		}
		out := store.JobOutcome{Status: "COMPLETE", Result: json.RawMessage(`{"status":"COMPLETE"}`), InTx: []store.TxFunc{func(ctx context.Context, tx *store.Tx) error {
			if err := st.PutInventory(ctx, tx, stored, keys); err != nil {
				return err
			}
			if seedPass == nil {
				return nil
			}
			_, err := st.RecordFindings(ctx, tx, repo, digest, recs, now)
			return err
		}}}
		if err := st.CompleteJob(ctx, j, out, now); err != nil {
			return err
		}
	}
	f.DistinctPackages, f.DistinctVersions = fl.distinct()
	fmt.Fprintf(os.Stderr, "stored in %.1fs: %d distinct package names, %d distinct name+version\n", time.Since(seedStart).Seconds(), f.DistinctPackages, f.DistinctVersions)
	r, err := rescan.New(rescan.Options{Store: st, Matcher: rescan.ScanMatcher{}, DBDir: dbDir})
	if err != nil {
		return err
	}
	// Seed: the first re-match writes every image's findings and history.
	stop, err := profile(cpuProfile, "seed")
	if err != nil {
		return err
	}
	var s rescan.Summary
	if seedResults {
		s, err = r.RematchPairs(ctx, nil)
	}
	stop()
	if err != nil {
		return err
	}
	f.SeedSeconds = s.Duration.Seconds()
	fmt.Fprintf(os.Stderr, "seed (first findings written): %d images in %.1fs, %d errors\n", s.Rematched, f.SeedSeconds, s.Errors)
	if s.Errors > 0 {
		return fmt.Errorf("the seed pass had %d errors", s.Errors)
	}
	if f.FindingsPerImage, err = findingsPerImage(ctx, st); err != nil {
		return err
	}
	// (a) full re-match.
	if stop, err = profile(cpuProfile, "full"); err != nil {
		return err
	}
	cpu0 := cpuSeconds()
	s, err = r.RematchPairs(ctx, nil)
	f.FullCPUSeconds = cpuSeconds() - cpu0
	stop()
	if err != nil {
		return err
	}
	f.FullSeconds = s.Duration.Seconds()
	f.FullImagesPerSec = float64(s.Rematched) / f.FullSeconds
	if s.MemoHits+s.MemoMisses > 0 {
		f.MemoHitRate = float64(s.MemoHits) / float64(s.MemoHits+s.MemoMisses)
	}
	// (b) a change touching 1% of the fleet's distinct package names.
	names := fl.names()
	var pairs []vulndb.Pair
	for _, i := range rng.Perm(len(names))[:max(1, len(names)/100)] {
		pairs = append(pairs, vulndb.Pair{Namespace: "debian:12", Package: names[i]})
	}
	if stop, err = profile(cpuProfile, "change"); err != nil {
		return err
	}
	f.Change, err = timeChange(ctx, r, pairs, f.FullSeconds)
	stop()
	if err != nil {
		return err
	}
	// (c) one base package.
	if nBase > 0 {
		if stop, err = profile(cpuProfile, "base"); err != nil {
			return err
		}
		f.Base, err = timeChange(ctx, r, []vulndb.Pair{{Namespace: "debian:12", Package: pool[rng.IntN(nBase)].name}}, f.FullSeconds)
		stop()
		if err != nil {
			return err
		}
	}
	fmt.Printf("DB: %s (%s); store: %s\n", f.DB, f.DBKind, f.Store)
	fmt.Printf("%d inventories x %d packages (%d base): %d distinct names, %d distinct name+version, %.1f findings/image\n",
		f.Images, f.Packages, f.BasePackages, f.DistinctPackages, f.DistinctVersions, f.FindingsPerImage)
	if seedResults {
		fmt.Printf("seed (first findings written):  %6d images  %8.2fs\n", f.Images, f.SeedSeconds)
	} else {
		fmt.Printf("seed: findings history recorded at store time, no stored results (-seed-results=false)\n")
	}
	fmt.Printf("(a) full re-match:              %6d images  %8.2fs  %8.0f images/s  %6.1f CPU s  (package memo hit rate %.3f)\n", f.Images, f.FullSeconds, f.FullImagesPerSec, f.FullCPUSeconds, f.MemoHitRate)
	fmt.Printf("(b) 1%% of names (%3d pairs):    %6d images  %8.2fs  %8.0f images/s  %6.1f CPU s  %.3fx the full pass\n", f.Change.Pairs, f.Change.Images, f.Change.Seconds, f.Change.ImagesPerSec, f.Change.CPUSeconds, f.Change.OverFullRatio)
	if nBase > 0 {
		fmt.Printf("(c) one base package (1 pair):  %6d images  %8.2fs  %8.0f images/s  %6.1f CPU s  %.3fx the full pass\n", f.Base.Images, f.Base.Seconds, f.Base.ImagesPerSec, f.Base.CPUSeconds, f.Base.OverFullRatio)
	}
	if prev != nil {
		printBaseline(baseline, *prev, f)
	}
	if jsonOut != "" {
		b, _ := json.MarshalIndent(f, "", "  ")
		return os.WriteFile(jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// profile starts a CPU profile to prefix.pass ("" = none) and returns the
// function that stops it.
func profile(prefix, pass string) (func(), error) {
	if prefix == "" {
		return func() {}, nil
	}
	pf, err := os.Create(prefix + "." + pass)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

func timeChange(ctx context.Context, r *rescan.Rescanner, pairs []vulndb.Pair, full float64) (change, error) {
	cpu0 := cpuSeconds()
	s, err := r.RematchPairs(ctx, pairs)
	if err != nil {
		return change{}, err
	}
	c := change{Pairs: len(pairs), Images: s.Rematched, Seconds: s.Duration.Seconds(), CPUSeconds: cpuSeconds() - cpu0}
	if c.Seconds > 0 {
		c.ImagesPerSec = float64(c.Images) / c.Seconds
	}
	if full > 0 {
		c.OverFullRatio = c.Seconds / full
	}
	return c, nil
}

// cpuSeconds is the process's user and system CPU time so far (the
// store's server, PostgreSQL, is another process and not counted).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// openStore opens SQLite under dir, or with a postgres:// URL PostgreSQL
// in a fresh schema that cleanup drops.
func openStore(ctx context.Context, database, dir string) (*store.SQL, func(), error) {
	if database == "" {
		st, err := store.OpenSQLite(ctx, filepath.Join(dir, "stowaway.db"))
		if err != nil {
			return nil, nil, err
		}
		return st, func() { st.Close() }, nil
	}
	cfg, err := pgx.ParseConfig(database)
	if err != nil {
		return nil, nil, errors.New("-database: not a valid postgres:// URL")
	}
	admin := stdlib.OpenDB(*cfg)
	schema := fmt.Sprintf("bench_rescan_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "bench/rescan: drop schema %s: %v\n", schema, err)
		}
		admin.Close()
	}
	sep := "?"
	if strings.Contains(database, "?") {
		sep = "&"
	}
	st, err := store.OpenPostgres(ctx, database+sep+"search_path="+schema)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return st, func() { st.Close(); drop() }, nil
}

// printBaseline prints each figure beside the same figure of a previous
// run and their ratio.
func printBaseline(path string, prev, cur figures) {
	fmt.Printf("against %s (%s, %d images x %d packages):\n", path, cmp.Or(prev.Store, "sqlite"), prev.Images, prev.Packages)
	if prev.Images != cur.Images || prev.Packages != cur.Packages || prev.BasePackages != cur.BasePackages {
		fmt.Printf("  (the baseline's fleet differs: its ratios compare different work)\n")
	}
	row := func(name string, before, after float64, unit string) {
		if before == 0 || after == 0 {
			fmt.Printf("  %-32s %10.2f -> %10.2f %-9s (not measured in both)\n", name, before, after, unit)
			return
		}
		ratio := after / before
		fmt.Printf("  %-32s %10.2f -> %10.2f %-9s %6.2fx\n", name, before, after, unit, ratio)
	}
	row("seed", prev.SeedSeconds, cur.SeedSeconds, "s")
	row("(a) full re-match", prev.FullImagesPerSec, cur.FullImagesPerSec, "images/s")
	row("(b) 1% of names", prev.Change.ImagesPerSec, cur.Change.ImagesPerSec, "images/s")
	row("(c) one base package", prev.Base.ImagesPerSec, cur.Base.ImagesPerSec, "images/s")
}

func findingsPerImage(ctx context.Context, st *store.SQL) (float64, error) {
	var open, images float64
	err := st.DB().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM finding_history WHERE resolved_at = 0), (SELECT COUNT(*) FROM inventories)`).Scan(&open, &images)
	if err != nil || images == 0 {
		return 0, err
	}
	return open / images, nil
}

// pkgVersions is one debian:12 source package and the versions images
// carry: the fixed versions its advisories name, oldest first.
type pkgVersions struct {
	name     string
	versions []string
}

// fleet draws image inventories.
type fleet struct {
	pool        []pkgVersions
	nPkgs, base int
	zipf        *rand.Zipf
	rng         *rand.Rand
	seen        map[string]bool
}

func newFleet(pool []pkgVersions, nPkgs, base int, rng *rand.Rand) *fleet {
	rest := uint64(len(pool) - base - 1)
	return &fleet{pool: pool, nPkgs: nPkgs, base: base, rng: rng, zipf: rand.NewZipf(rng, 1.1, 8, rest), seen: map[string]bool{}}
}

// image is one inventory: the base packages, then Zipf-drawn others. Its
// age (how many releases behind its packages are) follows a geometric
// distribution: most images are rebuilt often, a tail is old.
func (fl *fleet) image(digest string) *inventory.Inventory {
	inv := &inventory.Inventory{Source: inventory.Source{Kind: "registry", Digest: digest},
		Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Codename: "bookworm", Status: inventory.OSSupported}}
	age := 0
	for age < 8 && fl.rng.Float64() < 0.5 {
		age++
	}
	picked := map[int]bool{}
	add := func(k int) {
		picked[k] = true
		p := fl.pool[k]
		lag := age
		if lag > 0 && fl.rng.IntN(4) == 0 { // some packages were updated since
			lag = fl.rng.IntN(lag)
		}
		v := p.versions[max(0, len(p.versions)-1-lag)]
		fl.seen[p.name+"\x00"+v] = true
		pkg := inventory.Package{Name: p.name, Version: v, Type: inventory.TypeDeb, SourceName: p.name, SourceVersion: v,
			Path: "var/lib/dpkg/status", Cataloger: "dpkg"}
		// The PURL the indexer gives a package its cataloger left without
		// one: without it every package of the status file would share
		// one identity and matching would merge their findings.
		pkg.PURL = "pkg:deb/debian/" + url.PathEscape(p.name) + "@" + url.PathEscape(v) + "?distro=debian-12"
		inv.Packages = append(inv.Packages, pkg)
	}
	for k := range fl.base {
		add(k)
	}
	for len(picked) < fl.nPkgs {
		k := fl.base + int(fl.zipf.Uint64())
		if !picked[k] {
			add(k)
		}
	}
	return inv
}

func (fl *fleet) distinct() (names, versions int) {
	n := map[string]bool{}
	for k := range fl.seen {
		n[strings.SplitN(k, "\x00", 2)[0]] = true
	}
	return len(n), len(fl.seen)
}

func (fl *fleet) names() []string {
	n := map[string]bool{}
	for k := range fl.seen {
		n[strings.SplitN(k, "\x00", 2)[0]] = true
	}
	out := make([]string, 0, len(n))
	for k := range n {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// debianPool lists debian:12 source packages of the DB with the fixed
// versions their records name, most advisory records first (the base
// image's packages: libc, openssl, systemd ... have the most).
func debianPool(ctx context.Context, db *vulndb.DB) ([]pkgVersions, error) {
	sdb, err := sql.Open("sqlite", "file:"+db.Path()+"?mode=ro&immutable=1")
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	// Packages with at most 60 records: the desktop and browser sources
	// with thousands (chromium, firefox-esr) are not container base
	// packages and would dominate.
	rows, err := sdb.QueryContext(ctx, `SELECT package FROM pairs WHERE namespace = 'debian:12' AND records <= 60 ORDER BY records DESC, package`)
	if err != nil {
		return nil, fmt.Errorf("list debian:12 packages: %w", err)
	}
	var names []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		if !strings.HasPrefix(p, "linux") { // the kernel is never in container images
			names = append(names, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cmp := version.Dpkg{}
	var out []pkgVersions
	for _, n := range names {
		recs, err := db.Lookup(ctx, "debian:12", n)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var vs []string
		for _, r := range recs {
			for _, rg := range r.Affected.Ranges {
				for _, e := range rg.Events {
					if e.Fixed != "" && !seen[e.Fixed] {
						if _, err := cmp.Compare(e.Fixed, e.Fixed); err == nil {
							seen[e.Fixed] = true
							vs = append(vs, e.Fixed)
						}
					}
				}
			}
		}
		if len(vs) == 0 {
			continue // unfixed-only packages give no version to install
		}
		sort.Slice(vs, func(i, j int) bool { c, _ := cmp.Compare(vs[i], vs[j]); return c < 0 })
		out = append(out, pkgVersions{name: n, versions: vs})
	}
	return out, nil
}
