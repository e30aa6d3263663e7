// Command image builds Stowaway's OCI image without Docker: a static
// (CGO_ENABLED=0, -trimpath) stowaway for each platform, on no base image
// but a layer of its own (/etc/passwd and /etc/group with the non-root user
// stowaway, uid 65532; the host's CA bundle; /home/stowaway, /data and
// /tmp), assembled with go-containerregistry into an OCI image index.
//
// Run it from the repository root:
//
//	go run ./build/image -o stowaway-image            # an OCI layout directory
//	go run ./build/image -o stowaway-image.tar        # the same as an oci-archive tar
//	go run ./build/image -push registry.example/stowaway:v1.2.3
//
// Every timestamp is SOURCE_DATE_EPOCH (default: the commit time of HEAD),
// so the same commit, Go toolchain and CA bundle give the same index
// digest, which it prints. The labels (also manifest and index annotations)
// are org.opencontainers.image.source, .revision (HEAD), .version (-version,
// default the commit's Go pseudo-version, "+dirty" for a modified tree),
// .created (the epoch), .title and .description. The entrypoint is
// /usr/local/bin/stowaway, with no default arguments.
package main

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const (
	defaultSource = "https://github.com/stowaway-scanner/stowaway"
	versionVar    = "github.com/stowaway-scanner/stowaway/internal/cli.Version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build/image:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("image", flag.ContinueOnError)
	var (
		out       = fl.String("o", "", "write an OCI layout to this directory (must not exist or be empty), or an oci-archive when it ends in .tar")
		push      = fl.String("push", "", "push the index to this reference (credentials from the Docker/containers config, as crane's)")
		platforms = fl.String("platforms", "linux/amd64,linux/arm64", "comma-separated linux/ARCH list")
		version   = fl.String("version", "", "version stamped into the binary and the version label (default: the commit's pseudo-version)")
		revision  = fl.String("revision", "", "revision label (default: git rev-parse HEAD)")
		source    = fl.String("source", defaultSource, "source label")
		epochFlag = fl.String("epoch", "", "seconds since 1970 for every timestamp (default $SOURCE_DATE_EPOCH, else HEAD's commit time)")
		caCerts   = fl.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image")
		pkg       = fl.String("pkg", "./cmd/stowaway", "main package to build")
		tag       = fl.String("tag", "", "org.opencontainers.image.ref.name of the index in the layout (default: the version)")
	)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	if *out == "" && *push == "" {
		return errors.New("nothing to do: give -o DIR|FILE.tar and/or -push REF")
	}
	o := Options{
		Dir: ".", Pkg: *pkg, Platforms: strings.Split(*platforms, ","),
		Version: *version, VersionVar: versionVar, Revision: *revision, Source: *source, CACerts: *caCerts,
	}
	if err := fillFromGit(ctx, &o, *epochFlag); err != nil {
		return err
	}
	var ref name.Reference
	if *push != "" {
		r, err := name.ParseReference(*push)
		if err != nil {
			return fmt.Errorf("-push: %w", err)
		}
		ref = r
	}
	idx, err := Build(ctx, o)
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	if *out != "" {
		refName := *tag
		if refName == "" {
			refName = o.Version
		}
		if strings.HasSuffix(*out, ".tar") {
			err = writeArchive(*out, idx, refName, o.Epoch)
		} else {
			err = writeLayout(*out, idx, refName)
		}
		if err != nil {
			return err
		}
	}
	if ref != nil {
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
	}
	fmt.Fprintln(stdout, d)
	return nil
}

// fillFromGit sets what was not given from the repository: the revision,
// the epoch (SOURCE_DATE_EPOCH, else the commit time) and the version.
func fillFromGit(ctx context.Context, o *Options, epochFlag string) error {
	if epochFlag == "" {
		epochFlag = os.Getenv("SOURCE_DATE_EPOCH")
	}
	needGit := o.Revision == "" || epochFlag == "" || o.Version == ""
	var commitTime time.Time
	if needGit {
		rev, err := git(ctx, "rev-parse", "HEAD")
		if err != nil {
			return fmt.Errorf("no -revision, -epoch and -version given, and git cannot say: %w", err)
		}
		ct, err := git(ctx, "log", "-1", "--format=%ct")
		if err != nil {
			return err
		}
		secs, err := strconv.ParseInt(ct, 10, 64)
		if err != nil {
			return fmt.Errorf("git commit time %q: %w", ct, err)
		}
		commitTime = time.Unix(secs, 0).UTC()
		if o.Revision == "" {
			o.Revision = rev
		}
		if o.Version == "" {
			o.Version = "v0.0.0-" + commitTime.Format("20060102150405") + "-" + rev[:min(12, len(rev))]
			if st, err := git(ctx, "status", "--porcelain"); err == nil && st != "" {
				o.Version += "+dirty"
			}
		}
	}
	if epochFlag != "" {
		secs, err := strconv.ParseInt(epochFlag, 10, 64)
		if err != nil || secs < 0 {
			return fmt.Errorf("epoch %q: want seconds since 1970", epochFlag)
		}
		o.Epoch = time.Unix(secs, 0).UTC()
	} else {
		o.Epoch = commitTime
	}
	return nil
}

func git(ctx context.Context, args ...string) (string, error) {
	b, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// writeLayout writes idx as an OCI image layout whose index.json names it
// refName (what skopeo's oci:DIR:REF and crane's --index read).
func writeLayout(dir string, idx v1.ImageIndex, refName string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("-o %s: the directory is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("-o %s: %w", dir, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("-o %s: %w", dir, err)
	}
	var opts []layout.Option
	if refName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": refName}))
	}
	if err := p.AppendIndex(idx, opts...); err != nil {
		return fmt.Errorf("-o %s: %w", dir, err)
	}
	return nil
}

// writeArchive writes the layout as a tar (an oci-archive) with sorted
// entries, fixed times and root ownership, so it is as reproducible as the
// index.
func writeArchive(file string, idx v1.ImageIndex, refName string, epoch time.Time) error {
	tmp, err := os.MkdirTemp("", "stowaway-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "layout")
	if err := writeLayout(dir, idx, refName); err != nil {
		return err
	}
	var names []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("-o %s: %w", file, err)
	}
	tw := tar.NewWriter(f)
	for _, p := range names {
		if err := archiveEntry(tw, dir, p, epoch); err != nil {
			f.Close()
			return fmt.Errorf("-o %s: %w", file, err)
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("-o %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("-o %s: %w", file, err)
	}
	return nil
}

func archiveEntry(tw *tar.Writer, root, p string, epoch time.Time) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: cleanRel(filepath.ToSlash(rel)), ModTime: epoch, Format: tar.FormatPAX}
	switch {
	case fi.IsDir():
		h.Typeflag, h.Mode, h.Name = tar.TypeDir, 0o755, h.Name+"/"
		return tw.WriteHeader(h)
	case fi.Mode().IsRegular():
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
	default:
		return fmt.Errorf("%s: not a file or directory", rel)
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
