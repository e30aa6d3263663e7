package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stowaway-scanner/stowaway/internal/catalog"
	distroall "github.com/stowaway-scanner/stowaway/internal/distro/all"
	ecoall "github.com/stowaway-scanner/stowaway/internal/ecosystem/all"
	"github.com/stowaway-scanner/stowaway/internal/indexer"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/source"
	"github.com/stowaway-scanner/stowaway/internal/squash"
)

// indexFlags are the flags shared by every command that reads an image.
type indexFlags struct {
	platform    string
	insecure    bool
	maxFileSize int64
	scanType    string
	layerCache  string
	timeout     time.Duration
	// net is the registry transport of the command (see start).
	net *netWatch
}

func (f *indexFlags) register(fs interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
	Int64Var(*int64, string, int64, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}, defaultScanType string) {
	fs.StringVar(&f.platform, "platform", "linux/amd64", "platform to pick from a multi-platform image (os/arch[/variant])")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain HTTP to registries other than localhost")
	fs.Int64Var(&f.maxFileSize, "max-file-size", squash.DefaultLimits().MaxFileSize, "largest single file read from an image, in bytes")
	fs.StringVar(&f.scanType, "scan-type", defaultScanType, "basic (OS packages) or enhanced (OS and language packages)")
	fs.StringVar(&f.layerCache, "layer-cache", "", "directory of per-layer results: layers seen before are not read again")
	fs.DurationVar(&f.timeout, "timeout", defaultScanTimeout, "deadline of the whole command; on expiry it exits 2 naming what it waited for (0 = none)")
}

// start runs the rest of the command under --timeout and sets up the
// registry transport (bounded dial, TLS and response-header waits); defer
// the cancel, and pass the command's error through explain.
func (f *indexFlags) start(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if f.timeout < 0 {
		return ctx, func() {}, usageError{fmt.Sprintf("--timeout %s: want a duration of 0 or more", f.timeout)}
	}
	f.net = newNetWatch(source.NewTransport(source.DefaultTimeouts()))
	ctx, cancel := withDeadline(ctx, f.timeout, "--timeout")
	return ctx, cancel, nil
}

// explain turns an error caused by the expired --timeout into one that says
// so and names what the command was waiting for.
func (f *indexFlags) explain(ctx context.Context, err error) error {
	return explainTimeout(ctx, err, f.net)
}

// transport is the registry transport set up by start.
func (f *indexFlags) transport() http.RoundTripper {
	if f.net == nil {
		f.net = newNetWatch(source.NewTransport(source.DefaultTimeouts()))
	}
	return f.net
}

func (f *indexFlags) index(ctx context.Context, ref string, stderr io.Writer) (*inventory.Inventory, error) {
	var osCats, langCats = catalogers()
	switch strings.ToLower(f.scanType) {
	case "basic":
		langCats = nil
	case "enhanced":
	default:
		return nil, usageError{fmt.Sprintf("--scan-type %q: want basic or enhanced", f.scanType)}
	}
	src, err := f.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	inv, err := indexer.Index(ctx, src, f.indexOptions(osCats, langCats))
	if err != nil {
		return nil, err
	}
	for _, w := range inv.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if d := inv.Distro; d != nil && d.Status != inventory.OSSupported {
		fmt.Fprintf(stderr, "warning: %s: %s\n", d.Status, d.Reason)
	}
	return inv, nil
}

func (f *indexFlags) indexOptions(osCats, langCats []catalog.FileCataloger) indexer.Options {
	o := indexer.Options{OS: osCats, Language: langCats, Limits: squash.Limits{MaxFileSize: f.maxFileSize}, Distros: distroall.Distros(), Ecosystems: ecoall.Ecosystems()}
	if f.layerCache != "" {
		o.Cache = indexer.DirCache{Dir: f.layerCache}
	}
	return o
}

func (f *indexFlags) resolve(ctx context.Context, ref string) (*source.Source, error) {
	plat, err := v1.ParsePlatform(f.platform)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--platform %q: %v", f.platform, err)}
	}
	return source.Resolve(ctx, ref, source.Options{Platform: plat, Insecure: f.insecure, HTTP: f.transport()})
}

func runSBOM(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, err error) {
	fs := newFlagSet("sbom", "sbom SOURCE [--format cyclonedx|spdx|json] [-o FILE]", stderr)
	var (
		ix     indexFlags
		format string
		output string
	)
	ix.register(fs, "enhanced")
	fs.StringVar(&format, "format", "cyclonedx", "output format: cyclonedx (1.6 JSON), spdx (2.3 JSON) or json (Stowaway's inventory)")
	fs.StringVar(&output, "o", "", "write to this file instead of standard output")
	arg, err := parseOne(fs, args, "SOURCE")
	if err != nil {
		return ExitError, err
	}
	enc, err := encoder(format)
	if err != nil {
		return ExitError, usageError{err.Error()}
	}
	ctx, cancel, err := ix.start(ctx)
	if err != nil {
		return ExitError, err
	}
	defer cancel()
	defer func() { err = ix.explain(ctx, err) }()
	inv, err := ix.index(ctx, arg, stderr)
	if err != nil {
		return ExitError, err
	}
	if len(inv.Packages) == 0 && inv.Distro.Status != inventory.OSSupported {
		return ExitNoResult, fmt.Errorf("%s: no packages found and %s (%s)", arg, strings.ToLower(string(inv.Distro.Status)), inv.Distro.Reason)
	}
	w, closeOut, err := createOutput(stdout, output)
	if err != nil {
		return ExitError, err
	}
	defer closeOut()
	if err := enc(w, inv); err != nil {
		return ExitError, fmt.Errorf("write %s: %w", format, err)
	}
	return ExitOK, nil
}
