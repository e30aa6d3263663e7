package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/policy"
	"github.com/stowaway-scanner/stowaway/internal/report"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/scan"
	"github.com/stowaway-scanner/stowaway/internal/severity"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, err error) {
	fs := newFlagSet("scan", "scan SOURCE [flags]", stderr)
	var (
		ix             indexFlags
		format, output string
		dbDir          string
		minSeverity    string
		ignoreUnfixed  bool
		ignoreStatus   multiFlag
		ignoreChannel  multiFlag
		ignoreFile     string
		vexFiles       multiFlag
		exitCode       int
		noSBOMReuse    bool
		verbose        bool
		onlyKEV        bool
		minEPSS        float64
		notPresent     bool
	)
	ix.register(fs, "basic")
	fs.StringVar(&format, "format", "table", "output format: table, json (ECR DescribeImageScanFindings), sarif or cyclonedx")
	fs.StringVar(&output, "o", "", "write to this file instead of standard output")
	fs.StringVar(&dbDir, "db", "", "vulnerability DB directory (default: the user cache dir; see 'stowaway db status')")
	fs.StringVar(&minSeverity, "severity", "", "report only findings at or above this level (LOW, MEDIUM, HIGH, CRITICAL)")
	fs.BoolVar(&ignoreUnfixed, "ignore-unfixed", false, "hide findings that have no fixed version (UNKNOWN_VERSION findings and fixes only Ubuntu Pro delivers are kept; see --ignore-fix-channel)")
	fs.Var(&ignoreStatus, "ignore-status", "hide findings with this status (FIXABLE, UNFIXED, WILL_NOT_FIX, UNKNOWN_VERSION); repeatable")
	fs.Var(&ignoreChannel, "ignore-fix-channel", "hide findings whose fix only Ubuntu Pro delivers through these channels (esm-infra, esm-apps, esm-infra-legacy; comma-separated or repeated): for machines without Pro")
	fs.StringVar(&ignoreFile, "ignore-file", "", "YAML ignore file (ids, optional package, expiry, reason)")
	fs.Var(&vexFiles, "vex", "OpenVEX document whose not_affected/fixed statements hide findings; repeatable")
	fs.BoolVar(&onlyKEV, "kev", false, "report only findings whose CVE is in CISA's Known Exploited Vulnerabilities catalog")
	fs.Float64Var(&minEPSS, "min-epss", 0, "report only findings with an EPSS score (probability of exploitation in 30 days, 0..1) at or above this")
	fs.BoolVar(&notPresent, "ignore-not-present", false, "hide Go findings whose vulnerable symbols are not in the binary (symbol presence NOT_PRESENT)")
	fs.IntVar(&exitCode, "exit-code", 0, "exit with this code when findings remain after filtering (CI gate)")
	fs.BoolVar(&noSBOMReuse, "no-sbom-reuse", false, "always index a registry image, even when the registry stores an SBOM of it made by the same catalogers")
	fs.BoolVar(&verbose, "v", false, "say why a stored SBOM was not used")
	arg, err := parseOne(fs, args, "SOURCE")
	if err != nil {
		return ExitError, err
	}
	write, err := scanWriter(format)
	if err != nil {
		return ExitError, usageError{err.Error()}
	}
	ctx, cancel, err := ix.start(ctx)
	if err != nil {
		return ExitError, err
	}
	defer cancel()
	defer func() { err = ix.explain(ctx, err) }()
	popts := policy.Options{MinSeverity: severity.Severity(minSeverity), IgnoreUnfixed: ignoreUnfixed, IgnoreStatuses: ignoreStatus, IgnoreFixChannels: ignoreChannel, Names: descriptorNames(),
		OnlyKEV: onlyKEV, MinEPSS: minEPSS, IgnoreNotPresent: notPresent}
	if ignoreFile != "" {
		f, err := os.Open(ignoreFile)
		if err != nil {
			return ExitError, err
		}
		popts.Ignores, err = policy.ParseIgnoreFile(f)
		f.Close()
		if err != nil {
			return ExitError, err
		}
	}
	for _, v := range vexFiles {
		f, err := os.Open(v)
		if err != nil {
			return ExitError, err
		}
		st, err := policy.ParseOpenVEX(f)
		f.Close()
		if err != nil {
			return ExitError, fmt.Errorf("%s: %w", v, err)
		}
		popts.VEX = append(popts.VEX, st...)
	}
	if _, _, err := policy.Apply(nil, popts); err != nil {
		return ExitError, usageError{err.Error()}
	}
	db, closeDB, err := openDB(ctx, dbDir)
	if err != nil {
		return ExitError, err
	}
	defer closeDB()
	if err := checkExploitData(ctx, db, onlyKEV, minEPSS > 0); err != nil {
		return ExitError, err
	}
	enhanced := strings.EqualFold(ix.scanType, "enhanced")
	if !enhanced && !strings.EqualFold(ix.scanType, "basic") {
		return ExitError, usageError{fmt.Sprintf("--scan-type %q: want basic or enhanced", ix.scanType)}
	}
	osCats, langCats := catalogers()
	iopts := ix.indexOptions(osCats, langCats)
	sopts := scan.Options{Enhanced: enhanced, OS: osCats, Language: langCats, Limits: iopts.Limits, Cache: iopts.Cache}
	var res *report.Scan
	if p, ok := strings.CutPrefix(arg, "sbom:"); ok {
		inv, err := readSBOM(p)
		if err != nil {
			return ExitError, err
		}
		res, err = scan.Inventory(ctx, inv, db, sopts)
		if err != nil {
			return ExitError, err
		}
	} else {
		src, err := ix.resolve(ctx, arg)
		if err != nil {
			return ExitError, err
		}
		var inv *inventory.Inventory
		if !noSBOMReuse && src.Kind == source.KindRegistry {
			stored, dgst, rerr := storedSBOM(ctx, src, ix.transport(), ix.insecure, enhanced, osCats, langCats)
			switch {
			case rerr == nil:
				fmt.Fprintf(stderr, "using the stored SBOM %s (catalogers match)\n", dgst)
				inv = stored
			case verbose:
				fmt.Fprintf(stderr, "indexing the image: no stored SBOM used: %v\n", rerr)
			}
		}
		if inv != nil {
			res, err = scan.Inventory(ctx, inv, db, sopts)
		} else {
			res, err = scan.Image(ctx, src, db, sopts)
		}
		if err != nil {
			return ExitError, err
		}
	}
	for _, w := range res.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	popts.Now = time.Now()
	kept, suppressed, err := policy.Apply(res.Findings, popts)
	if err != nil {
		return ExitError, err
	}
	res.Findings = kept
	if len(suppressed) > 0 {
		fmt.Fprintf(stderr, "%d findings hidden by policy (severity, unfixed, status, fix channel, KEV, EPSS, ignore file, VEX)\n", len(suppressed))
	}
	if res.Status != scan.StatusComplete {
		fmt.Fprintf(stderr, "warning: %s: %s\n", res.Status, res.StatusDescription)
	}
	w, closeOut, err := createOutput(stdout, output)
	if err != nil {
		return ExitError, err
	}
	defer closeOut()
	if err := write(w, *res); err != nil {
		return ExitError, fmt.Errorf("write %s: %w", format, err)
	}
	switch {
	case exitCode != 0 && len(kept) > 0:
		return exitCode, nil
	case res.Status == scan.StatusUnsupported && len(kept) == 0:
		return ExitNoResult, nil
	}
	return ExitOK, nil
}

// readSBOM reads a CycloneDX or Stowaway JSON SBOM, as written by 'sbom'.
func readSBOM(p string) (*inventory.Inventory, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	inv, err := sbom.Decode(f, descriptorNames())
	if err != nil {
		return nil, fmt.Errorf("sbom %s: %w", p, err)
	}
	return inv, nil
}

// openDB opens the current vulnerability DB of dir (or the default dir).
func openDB(ctx context.Context, dir string) (scan.DB, func(), error) {
	dir, err := resolveDBDir(dir)
	if err != nil {
		return nil, nil, err
	}
	d, err := vulndb.Open(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	return &scan.VulnDB{DB: d}, func() { d.Close() }, nil
}

func scanWriter(format string) (func(io.Writer, report.Scan) error, error) {
	switch format {
	case "table":
		return report.WriteTable, nil
	case "json":
		return report.WriteJSON, nil
	case "sarif":
		return func(w io.Writer, s report.Scan) error { return report.WriteSARIF(w, s, Version) }, nil
	case "cyclonedx":
		return report.WriteCycloneDX, nil
	}
	return nil, fmt.Errorf("unknown --format %q (want table, json, sarif or cyclonedx)", format)
}

// checkExploitData refuses --kev and --min-epss against a DB that lacks
// the data they filter on: every finding would be hidden, which would read
// as a clean result.
func checkExploitData(ctx context.Context, db scan.DB, kev, epss bool) error {
	if !kev && !epss {
		return nil
	}
	xdb, ok := db.(scan.ExploitDB)
	if !ok {
		return fmt.Errorf("--kev and --min-epss need a DB with exploit context")
	}
	have, err := xdb.ExploitData(ctx)
	if err != nil {
		return err
	}
	switch {
	case kev && !have.KEV:
		return fmt.Errorf("--kev: the vulnerability DB holds no CISA KEV catalog (the kev source; see 'stowaway db status' and 'stowaway db update')")
	case epss && !have.EPSS:
		return fmt.Errorf("--min-epss: the vulnerability DB holds no EPSS scores (the epss source; see 'stowaway db status' and 'stowaway db update')")
	}
	return nil
}
