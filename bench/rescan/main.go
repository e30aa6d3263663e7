// Command rescan measures continuous rescanning at fleet scale: it stores
// -images inventories of -packages packages each (names drawn from the DB's
// own debian:12 pairs, versions varied) in a fresh SQLite store, then times
// (a) a re-match of every stored inventory and (b) a re-match after a DB
// change touching 1% of the package names, both through the rescanner's
// real path (key selection, inventory decode, matching with one DB handle
// and a shared lookup cache, one transaction per image).
//
//	go run ./bench/rescan [-images 10000 -packages 300 -db DIR -json out.json]
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/match"
	"github.com/stowaway-scanner/stowaway/internal/server/rescan"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

type figures struct {
	DB               string  `json:"db"`
	DBKind           string  `json:"dbKind"`
	Images           int     `json:"images"`
	Packages         int     `json:"packagesPerImage"`
	DistinctPackages int     `json:"distinctPackages"`
	SeedSeconds      float64 `json:"seedSeconds"`
	FullSeconds      float64 `json:"fullSeconds"`
	FullImagesPerSec float64 `json:"fullImagesPerSecond"`
	ChangePairs      int     `json:"changePairs"`
	ChangeImages     int     `json:"changeImagesRematched"`
	ChangeSeconds    float64 `json:"changeSeconds"`
	ChangeImagesPerS float64 `json:"changeImagesPerSecond"`
	Ratio            float64 `json:"changeOverFull"`
}

func main() {
	images := flag.Int("images", 10000, "stored inventories")
	pkgs := flag.Int("packages", 300, "packages per inventory")
	dbDir := flag.String("db", "", "vulnerability DB directory (default $STOWAWAY_DB_DIR, else the user cache dir)")
	jsonOut := flag.String("json", "", "write the figures as JSON to this file")
	flag.Parse()
	if err := run(context.Background(), *images, *pkgs, *dbDir, *jsonOut); err != nil {
		fmt.Fprintln(os.Stderr, "bench/rescan:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, nImages, nPkgs int, dbDir, jsonOut string) error {
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
	f := figures{DB: db.Path(), DBKind: "real (stowaway db update)", Images: nImages, Packages: nPkgs}
	names, err := debianPackages(ctx, db.Path())
	db.Close()
	if err != nil {
		return err
	}
	if len(names) < nPkgs {
		return fmt.Errorf("the DB has only %d debian:12 packages, want at least %d", len(names), nPkgs)
	}
	// A fleet shares a common base: draw each image's packages from the
	// 3*nPkgs most common names (the DB's first ones) with varied versions.
	pool := names[:min(len(names), 3*nPkgs)]
	f.DistinctPackages = len(pool)
	work, err := os.MkdirTemp("", "bench-rescan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	st, err := store.OpenSQLite(ctx, filepath.Join(work, "stowaway.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.PutScanningConfig(ctx, json.RawMessage(`{"scanType":"ENHANCED","rules":[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]}`)); err != nil {
		return err
	}
	codec, err := rescan.NewCodec()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	fmt.Fprintf(os.Stderr, "storing %d inventories of %d packages (from %d debian:12 names)...\n", nImages, nPkgs, len(pool))
	for i := range nImages {
		repo := fmt.Sprintf("team%02d/app", i%50)
		digest := fmt.Sprintf("sha256:%064x", i)
		inv := &inventory.Inventory{Source: inventory.Source{Kind: "registry", Digest: digest},
			Distro: &inventory.Distro{ID: "debian", VersionID: "12", Release: "12", Codename: "bookworm", Status: inventory.OSSupported}}
		for _, k := range rng.Perm(len(pool))[:nPkgs] {
			v := fmt.Sprintf("%d.%d.%d-%d", 1+rng.IntN(4), rng.IntN(20), rng.IntN(10), 1+rng.IntN(3))
			inv.Packages = append(inv.Packages, inventory.Package{Name: pool[k], Version: v, Type: inventory.TypeDeb, SourceName: pool[k], SourceVersion: v})
		}
		data, err := codec.Encode(inv)
		if err != nil {
			return err
		}
		var keys []store.InventoryKey
		for _, k := range match.Keys(inv, match.Options{Language: true}) {
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
		out := store.JobOutcome{Status: "COMPLETE", Result: json.RawMessage(`{"status":"COMPLETE"}`), InTx: []store.TxFunc{func(ctx context.Context, tx *store.Tx) error {
			return st.PutInventory(ctx, tx, store.StoredInventory{Repository: repo, Digest: digest, Enhanced: true, Data: data, StoredAt: now}, keys)
		}}}
		if err := st.CompleteJob(ctx, j, out, now); err != nil {
			return err
		}
	}
	r, err := rescan.New(rescan.Options{Store: st, Matcher: rescan.ScanMatcher{}, DBDir: dbDir})
	if err != nil {
		return err
	}
	// Seed: the first re-match writes every image's findings and history.
	s, err := r.RematchPairs(ctx, nil)
	if err != nil {
		return err
	}
	f.SeedSeconds = s.Duration.Seconds()
	fmt.Fprintf(os.Stderr, "seed (first findings written): %d images in %.1fs, %d errors\n", s.Rematched, f.SeedSeconds, s.Errors)
	// (a) full re-match.
	s, err = r.RematchPairs(ctx, nil)
	if err != nil {
		return err
	}
	f.FullSeconds = s.Duration.Seconds()
	f.FullImagesPerSec = float64(s.Rematched) / f.FullSeconds
	// (b) a change touching 1% of the package names.
	var pairs []vulndb.Pair
	for _, i := range rng.Perm(len(pool))[:max(1, len(pool)/100)] {
		pairs = append(pairs, vulndb.Pair{Namespace: "debian:12", Package: pool[i]})
	}
	s, err = r.RematchPairs(ctx, pairs)
	if err != nil {
		return err
	}
	f.ChangePairs, f.ChangeImages, f.ChangeSeconds = len(pairs), s.Rematched, s.Duration.Seconds()
	f.ChangeImagesPerS = float64(s.Rematched) / f.ChangeSeconds
	f.Ratio = f.ChangeSeconds / f.FullSeconds
	fmt.Printf("DB: %s (%s)\n", f.DB, f.DBKind)
	fmt.Printf("%d inventories x %d packages (%d distinct debian:12 names)\n", f.Images, f.Packages, f.DistinctPackages)
	fmt.Printf("(a) full re-match:        %6d images  %8.2fs  %8.0f images/s\n", f.Images, f.FullSeconds, f.FullImagesPerSec)
	fmt.Printf("(b) 1%% change (%d pairs): %6d images  %8.2fs  %8.0f images/s\n", f.ChangePairs, f.ChangeImages, f.ChangeSeconds, f.ChangeImagesPerS)
	fmt.Printf("(b)/(a) wall: %.3f\n", f.Ratio)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(f, "", "  ")
		return os.WriteFile(jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// debianPackages lists debian:12 package names of the DB, most advisory
// records first.
func debianPackages(ctx context.Context, path string) ([]string, error) {
	sdb, err := sql.Open("sqlite", "file:"+path+"?mode=ro&immutable=1")
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
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(p, "linux") { // the kernel is never in container images
			out = append(out, p)
		}
	}
	return out, rows.Err()
}
