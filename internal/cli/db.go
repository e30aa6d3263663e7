package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	"github.com/stowaway-scanner/stowaway/internal/feed"
	feedall "github.com/stowaway-scanner/stowaway/internal/feed/all"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/nvd"
	"github.com/stowaway-scanner/stowaway/internal/feed/source"
	imgsource "github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/vulndb"
)

func runDB(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	sub := map[string]func(context.Context, []string, io.Writer, io.Writer) (int, error){
		"update": runDBUpdate, "status": runDBStatus, "push": runDBPush, "pull": runDBPull,
	}
	const usage = "usage: stowaway db update|status|push|pull [flags]\n\n  update  build the DB from the upstream feeds (or a mirror)\n  status  per source: records, newest record, fetch time\n  push    upload the DB to an OCI registry as an artifact\n  pull    download a DB artifact and make it current\n\nrun 'stowaway db SUBCOMMAND -h' for a subcommand's flags"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help" || args[0] == "help") {
		fmt.Fprintln(stdout, usage)
		return ExitOK, nil
	}
	if len(args) == 0 || sub[args[0]] == nil {
		fmt.Fprintln(stderr, usage)
		if len(args) == 0 {
			return ExitError, usageError{"missing subcommand"}
		}
		return ExitError, usageError{fmt.Sprintf("unknown subcommand %q", args[0])}
	}
	return sub[args[0]](ctx, args[1:], stdout, stderr)
}

func dbDirFlag(fs interface {
	StringVar(*string, string, string, string)
}, p *string) {
	fs.StringVar(p, "db", "", "DB directory (default $STOWAWAY_DB_DIR, else the user cache dir)")
}

func resolveDBDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return vulndb.DefaultDir()
}

func runDBUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("db update", "db update [--mirror DIR|URL] [--source NAME]... [--db DIR] [--nvd-api] [--parallel N] [--bzip2 auto|go|PROGRAM] [--quiet] [-v]", stderr)
	var (
		dir, mirror string
		only        multiFlag
		jsonOut     bool
		verbose     bool
		nvdAPI      bool
		quiet       bool
		parallel    int
		bzip2       string
	)
	dbDirFlag(fs, &dir)
	fs.StringVar(&mirror, "mirror", "", "read the feeds from a mirror directory or URL laid out like the upstreams (offline updates)")
	fs.Var(&only, "source", "update only this source, keeping the others' previous records; repeatable")
	fs.BoolVar(&jsonOut, "json", false, "print the update report as JSON")
	fs.BoolVar(&verbose, "v", false, "log each stage as structured lines (besides the progress)")
	fs.BoolVar(&quiet, "quiet", false, "print no progress on stderr")
	fs.IntVar(&parallel, "parallel", 0, "sources fetched and parsed at a time (default: the CPU count, at least 2; 1 uses the least memory)")
	fs.StringVar(&bzip2, "bzip2", "auto", "bzip2 decompressor of the .bz2 feeds: auto (lbzip2, pbzip2 or bzip2 from $PATH, else go), go (Go's compress/bzip2), or a program run as PROGRAM -dc")
	fs.BoolVar(&nvdAPI, "nvd-api", false, "also ask NVD's CVE API 2.0 for the CVEs changed since its feeds were generated (key from $"+nvd.APIKeyEnv+", optional: without it 5 requests per 30 s)")
	if _, err := parse(fs, args); err != nil {
		return ExitError, err
	}
	dec, err := bz2.Parse(bzip2)
	if err != nil {
		return ExitError, usageError{fmt.Sprintf("--bzip2: %v", err)}
	}
	dir, err = resolveDBDir(dir)
	if err != nil {
		return ExitError, err
	}
	defer buildGC(os.Getenv)()
	logger := slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var progress func(vulndb.Progress)
	if !quiet {
		pp := newProgressPrinter(stderr, time.Now)
		progress = pp.report
		defer pp.end()
	}
	if parallel < 0 {
		return ExitError, usageError{fmt.Sprintf("--parallel %d: want 1 or more (0 for the default)", parallel)}
	}
	logger.Info("db update: bzip2 decompressor", "bzip2", dec.String())
	rep, err := updateDBProgress(ctx, dir, mirror, only, nvdAPI, feedall.Options{Bzip2: dec}, stderr, logger, vulndb.UpdateOptions{Progress: progress, Parallel: parallel})
	if err != nil {
		return ExitError, err
	}
	if jsonOut {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		if err := e.Encode(rep); err != nil {
			return ExitError, err
		}
	} else {
		fmt.Fprintf(stdout, "DB %s built in %s: %s\n", rep.BuildID, rep.Duration.Round(time.Millisecond), rep.Path)
		fmt.Fprintf(stdout, "  bzip2 feeds decompressed by %s\n", dec)
		malformed := false
		for _, s := range rep.Sources {
			if s.Outcome == vulndb.Absent {
				fmt.Fprintf(stdout, "  %-22s %-9s not in the mirror (%s): skipped\n", s.Name, s.Outcome, s.Err)
				continue
			}
			line := fmt.Sprintf("  %-22s %-9s %8d advisories %8d affected", s.Name, s.Outcome, s.Advisories, s.Affected)
			if s.Enrichment > 0 {
				line += fmt.Sprintf(" %8d enrichment", s.Enrichment)
			}
			if len(s.Parts) > 0 {
				line += " (" + vulndb.FormatParts(s.Parts) + ")"
			}
			if s.Version != "" {
				line += " (" + s.Version + ")"
			}
			if s.Rejected > 0 {
				line += fmt.Sprintf("  %d rejected", s.Rejected)
			}
			if s.Withdrawn > 0 {
				line += fmt.Sprintf("  %d withdrawn", s.Withdrawn)
			}
			if len(s.Skipped) > 0 {
				line += "  " + skippedSummary(s.Skipped)
			}
			if n := vulndb.SupersededNote(s.SupersededBy, s.Superseded); n != "" {
				line += "  " + n
			}
			if len(s.Malformed) > 0 {
				line += fmt.Sprintf("  %d malformed (skipped)", len(s.Malformed))
				malformed = true
			}
			if s.Err != "" {
				line += "  error: " + s.Err
			}
			fmt.Fprintln(stdout, line)
		}
		if rep.RejectedIDs > 0 {
			fmt.Fprintf(stdout, "  %d CVE ids rejected by the CVE program: no source's record of them is kept (\"rejected\" above); records their own source withdrew are dropped too (\"withdrawn\")\n", rep.RejectedIDs)
		}
		if rep.ChangedPairs >= 0 {
			fmt.Fprintf(stdout, "  %d (namespace, package) pairs changed since the previous DB\n", rep.ChangedPairs)
		}
		if malformed {
			fmt.Fprintln(stdout, "  malformed: records the source published that could not be used (an unknown status, an empty package name,")
			fmt.Fprintln(stdout, "  a bad date...); each is skipped and the rest of the source is loaded. 'stowaway db status -v' lists them.")
		}
	}
	if err := rep.Err(); err != nil {
		fmt.Fprintf(stderr, "some sources kept their previous data: %v\n", err)
		return ExitError, nil
	}
	return ExitOK, nil
}

// updateDB builds the DB in dir from the feeds (or a mirror), as
// `db update` does with its default --bzip2 auto; `serve
// --db-update-interval` runs it on a schedule.
// Sources absent from the mirror are reported on stderr and keep their
// previous data.
func updateDB(ctx context.Context, dir, mirror string, only []string, nvdAPI bool, stderr io.Writer, logger *slog.Logger) (*vulndb.Report, error) {
	return updateDBProgress(ctx, dir, mirror, only, nvdAPI, feedall.Options{Bzip2: bz2.Auto(nil)}, stderr, logger, vulndb.UpdateOptions{})
}

// updateDBProgress is updateDB with the updaters configured by feeds and
// the progress and parallelism of opts (its Logger and KeepOtherSources are
// set here).
func updateDBProgress(ctx context.Context, dir, mirror string, only []string, nvdAPI bool, feeds feedall.Options, stderr io.Writer, logger *slog.Logger, opts vulndb.UpdateOptions) (*vulndb.Report, error) {
	updaters := feedall.Updaters(feeds)
	if nvdAPI {
		updaters = withNVDAPI(updaters, os.Getenv(nvd.APIKeyEnv))
	}
	if len(only) > 0 {
		byName := map[string]bool{}
		for _, n := range only {
			byName[n] = true
		}
		var sel []feed.Updater
		for _, u := range updaters {
			if byName[u.Name()] {
				sel = append(sel, u)
				delete(byName, u.Name())
			}
		}
		if len(byName) > 0 {
			var names []string
			for _, u := range feedall.Updaters(feeds) {
				names = append(names, u.Name())
			}
			return nil, usageError{fmt.Sprintf("unknown --source; known sources: %s", strings.Join(names, ", "))}
		}
		updaters = sel
	}
	keepOthers := len(only) > 0
	if len(only) == 0 {
		var absent []feed.Updater
		updaters, absent = source.InMirror(mirror, updaters)
		for _, u := range absent {
			fmt.Fprintf(stderr, "%s: not in the mirror (%s/%s is missing): skipped, its previous data (if any) is kept\n", u.Name(), mirror, u.MirrorDir())
		}
		keepOthers = len(absent) > 0
		var skipped map[string]string
		updaters, skipped = source.Online(mirror, updaters)
		for _, u := range feedall.Updaters(feeds) {
			if why, ok := skipped[u.Name()]; ok {
				fmt.Fprintf(stderr, "%s: skipped: %s; its previous data (if any) is kept\n", u.Name(), why)
			}
		}
		keepOthers = keepOthers || len(skipped) > 0
	}
	src, err := source.New(mirror, source.Options{UserAgent: userAgent()})
	if err != nil {
		return nil, err
	}
	opts.Logger, opts.KeepOtherSources = logger, keepOthers
	opts.Supersedes = distroall.Distros().Supersedes()
	// A mirror may carry a subset of the feeds: over HTTP that shows only
	// as "not found" (a directory mirror is checked above).
	opts.MissingIsAbsent = mirror != ""
	return vulndb.Update(ctx, dir, updaters, src, opts)
}

// withNVDAPI replaces the NVD feed updater by the one that also reads the
// CVE API 2.0 with key (from the environment, never a flag: flags show in
// process listings).
func withNVDAPI(updaters []feed.Updater, key string) []feed.Updater {
	out := make([]feed.Updater, len(updaters))
	for i, u := range updaters {
		if _, ok := u.(*nvd.Updater); ok {
			u = nvd.NewAPI(nvd.APIOptions{Key: key, UserAgent: userAgent()})
		}
		out[i] = u
	}
	return out
}

func runDBStatus(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlagSet("db status", "db status [--db DIR] [--json] [-v]", stderr)
	var dir string
	var jsonOut, verbose bool
	dbDirFlag(fs, &dir)
	fs.BoolVar(&jsonOut, "json", false, "print as JSON")
	fs.BoolVar(&verbose, "v", false, "also list each source's malformed records (up to 1,000 per source are kept)")
	if _, err := parse(fs, args); err != nil {
		return ExitError, err
	}
	dir, err := resolveDBDir(dir)
	if err != nil {
		return ExitError, err
	}
	st, err := vulndb.Status(ctx, dir)
	if err != nil {
		return ExitError, fmt.Errorf("%w", err)
	}
	if jsonOut {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		return ExitOK, e.Encode(st)
	}
	if err := st.Write(stdout); err != nil {
		return ExitError, err
	}
	if verbose {
		writeMalformed(stdout, st)
	}
	return ExitOK, nil
}

// writeMalformed lists each source's malformed records: what the source
// published that could not be used (the rest of the source is loaded).
func writeMalformed(w io.Writer, st *vulndb.StatusReport) {
	for _, s := range st.Sources {
		if s.Malformed == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d malformed records (skipped; the rest of the source is loaded)", s.Name, s.Malformed)
		if len(s.MalformedSample) < s.Malformed {
			fmt.Fprintf(w, ", the first %d:", len(s.MalformedSample))
		} else {
			fmt.Fprint(w, ":")
		}
		fmt.Fprintln(w)
		for _, m := range s.MalformedSample {
			id := m.ID
			if id == "" {
				id = "(no id)"
			}
			if m.File != "" {
				id += " in " + m.File
			}
			fmt.Fprintf(w, "  %s: %s\n", id, m.Err)
		}
	}
}

func dbTimeoutFlag(fs interface {
	DurationVar(*time.Duration, string, time.Duration, string)
}, p *time.Duration) {
	fs.DurationVar(p, "timeout", defaultDBTimeout, "deadline of the whole command; on expiry it exits 2 naming what it waited for (0 = none)")
}

// dbRemote runs the rest of 'db push' or 'db pull' under timeout and gives
// go-containerregistry the bounded registry transport. A push waits longer
// for response headers: a registry may hash or move the whole blob it just
// received before it answers the final PUT.
func dbRemote(ctx context.Context, timeout time.Duration, push bool) (context.Context, context.CancelFunc, vulndb.RemoteOptions, *netWatch, error) {
	if timeout < 0 {
		return ctx, func() {}, vulndb.RemoteOptions{}, nil, usageError{fmt.Sprintf("--timeout %s: want a duration of 0 or more", timeout)}
	}
	t := imgsource.DefaultTimeouts()
	if push {
		t.ResponseHeader = 5 * time.Minute
	}
	w := newNetWatch(imgsource.NewTransport(t))
	ctx, cancel := withDeadline(ctx, timeout, "--timeout")
	// Options given replace vulndb's default keychain: name it again.
	ro := vulndb.RemoteOptions{Remote: []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(w)}}
	return ctx, cancel, ro, w, nil
}

// parseRef validates a registry reference. Registries on localhost and
// 127.0.0.1 are reached over plain HTTP, others over HTTPS.
func parseRef(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", usageError{fmt.Sprintf("reference %q: %v", ref, err)}
	}
	return r.Name(), nil
}

func runDBPush(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	err := dbTransfer(ctx, args, stderr, true, func(ctx context.Context, ref, dir string, ropts vulndb.RemoteOptions) error {
		d, err := vulndb.Push(ctx, dir, ref, ropts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pushed %s@%s\n", ref, d)
		return nil
	})
	if err != nil {
		return ExitError, err
	}
	return ExitOK, nil
}

func runDBPull(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	err := dbTransfer(ctx, args, stderr, false, func(ctx context.Context, ref, dir string, ropts vulndb.RemoteOptions) error {
		res, err := vulndb.Pull(ctx, ref, dir, ropts)
		if err != nil {
			return err
		}
		if res.AlreadyCurrent {
			fmt.Fprintf(stdout, "%s@%s is already the current DB\n", ref, res.Digest)
			return nil
		}
		fmt.Fprintf(stdout, "pulled %s@%s\n", ref, res.Digest)
		return nil
	})
	if err != nil {
		return ExitError, err
	}
	return ExitOK, nil
}

// dbTransfer reads the arguments 'db push' and 'db pull' share (REF, --db,
// --timeout) and runs transfer under the command's deadline with the
// bounded registry transport; a failure the deadline caused is explained.
func dbTransfer(ctx context.Context, args []string, stderr io.Writer, push bool, transfer func(ctx context.Context, ref, dir string, ropts vulndb.RemoteOptions) error) (err error) {
	cmd := "db pull"
	if push {
		cmd = "db push"
	}
	fs := newFlagSet(cmd, cmd+" REF [--db DIR] [--timeout D]", stderr)
	var dir string
	var timeout time.Duration
	dbDirFlag(fs, &dir)
	dbTimeoutFlag(fs, &timeout)
	arg, err := parseOne(fs, args, "REF")
	if err != nil {
		return err
	}
	ref, err := parseRef(arg)
	if err != nil {
		return err
	}
	dir, err = resolveDBDir(dir)
	if err != nil {
		return err
	}
	ctx, cancel, ropts, w, err := dbRemote(ctx, timeout, push)
	if err != nil {
		return err
	}
	defer cancel()
	defer func() { err = explainTimeout(ctx, err, w) }()
	return transfer(ctx, ref, dir, ropts)
}

// skippedSummary says what a parser left out on purpose: "12 skipped on
// purpose (9 <what>, 3 <what>)", largest count first.
func skippedSummary(m map[string]int) string {
	what := make([]string, 0, len(m))
	total := 0
	for k, n := range m {
		what = append(what, k)
		total += n
	}
	sort.Slice(what, func(i, j int) bool {
		if m[what[i]] != m[what[j]] {
			return m[what[i]] > m[what[j]]
		}
		return what[i] < what[j]
	})
	parts := make([]string, len(what))
	for i, k := range what {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return fmt.Sprintf("%d skipped on purpose (%s)", total, strings.Join(parts, ", "))
}

// buildGC tunes the garbage collector for a DB build and returns the
// function that restores it. A build allocates a stream of short-lived
// records over a small live heap: collecting at 300% growth under a 160 MiB
// soft limit measured 8% less CPU than the default (156 s -> 144 s user+sys
// for `db update --mirror ../shared/feeds`, both runs side by side) at the
// same peak RSS (222 vs 227 MiB; most of it is SQLite's page cache and the
// parsers' buffers, outside the collector's reach). GOGC or GOMEMLIMIT in
// the environment win.
func buildGC(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	pct := debug.SetGCPercent(300)
	lim := debug.SetMemoryLimit(160 << 20)
	return func() {
		debug.SetGCPercent(pct)
		debug.SetMemoryLimit(lim)
	}
}
