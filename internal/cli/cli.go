// Package cli implements the stowaway command line: one file per command,
// all dispatched from Main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFindings = 1 // --exit-code default when findings pass the gate
	ExitError    = 2 // bad usage, bad input, failed scan
	ExitNoResult = 3 // nothing could be said about the target (no OS, no packages)
)

// usageError marks errors that should print the command's usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error)
}

func commands() []command {
	return []command{
		{"scan", "scan an image for vulnerabilities", runScan},
		{"sbom", "print the inventory (SBOM) of an image", runSBOM},
		{"db", "build, inspect and move the vulnerability DB", runDB},
		{"serve", "run the scanning registry (OCI registry + ECR-compatible API)", runServe},
		{"version", "print the version", runVersion},
	}
}

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitError
		}
		return ExitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		code, err := c.run(ctx, args[1:], stdout, stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return ExitOK
			}
			fmt.Fprintf(stderr, "stowaway %s: %v\n", c.name, err)
			var ue usageError
			if errors.As(err, &ue) {
				fmt.Fprintf(stderr, "run 'stowaway %s -h' for usage\n", c.name)
			}
			if code == ExitOK {
				code = ExitError
			}
		}
		return code
	}
	fmt.Fprintf(stderr, "stowaway: unknown command %q\n", args[0])
	usage(stderr)
	return ExitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: stowaway COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// parseOne parses like parse and wants exactly one positional argument;
// what names it in the usage error ("REF", "SOURCE").
func parseOne(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usageError{"want exactly one " + what}
	}
	return pos[0], nil
}

// createOutput returns where a command writes its result: stdout when
// output is empty, else the file output, created. closeOut closes that file.
func createOutput(stdout io.Writer, output string) (w io.Writer, closeOut func(), err error) {
	if output == "" {
		return stdout, func() {}, nil
	}
	f, err := os.Create(output)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newFlagSet(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: stowaway %s\n\nflags:\n", usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
// Without it, the version comes from the build information Go records: the
// module version of a `go install …@v1.2.3`, else the VCS revision of a
// `go build` in a checkout.
var Version = ""

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) (int, error) {
	fmt.Fprintf(stdout, "stowaway %s\n", buildVersion())
	return ExitOK, nil
}

// buildVersion is this binary's version, as `stowaway version` prints it.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return versionString(strings.TrimSpace(Version), bi)
}

// userAgent names this binary in upstream requests: "stowaway/v1.2.3", or
// "stowaway/devel".
func userAgent() string { return "stowaway/" + strings.Fields(buildVersion())[0] }

// versionString is the version to print: the -ldflags one, the module's,
// or "devel" with the commit, its time and "modified" for a dirty tree.
func versionString(set string, bi *debug.BuildInfo) string {
	if set != "" {
		return set
	}
	if bi == nil {
		return "devel (no build information)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel (built without VCS information)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	out := "devel (commit " + rev
	if at != "" {
		out += ", " + at
	}
	if modified {
		out += ", modified"
	}
	return out + ")"
}
