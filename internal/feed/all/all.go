// Package all is the one explicit list of feed updaters. An updater that is
// not listed here is never run; all_test.go fails when an implementation
// under internal/feed is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/alpine"
	"github.com/stowaway-scanner/stowaway/internal/feed/amazon"
	"github.com/stowaway-scanner/stowaway/internal/feed/bz2"
	"github.com/stowaway-scanner/stowaway/internal/feed/epss"
	"github.com/stowaway-scanner/stowaway/internal/feed/kev"
	"github.com/stowaway-scanner/stowaway/internal/feed/nvd"
	"github.com/stowaway-scanner/stowaway/internal/feed/oracle"
	"github.com/stowaway-scanner/stowaway/internal/feed/osv"
	"github.com/stowaway-scanner/stowaway/internal/feed/redhat"
	"github.com/stowaway-scanner/stowaway/internal/feed/ubuntu"
)

// Options configure the updaters Updaters returns. The zero value is the
// pure-Go configuration.
type Options struct {
	// Bzip2 decompresses the .bz2 feed files: Ubuntu's CVE tracker bundle
	// and OVAL files, Debian's OSV bundles, Oracle's OVAL file (the zero
	// value: Go's compress/bzip2; `db update` passes bz2.Auto's choice).
	Bzip2 bz2.Decompressor
}

// Updaters returns every upstream feed updater, in update order.
func Updaters(opts Options) []feed.Updater {
	ups := []feed.Updater{
		alpine.New(),
		osv.NewWithOptions("Debian", osv.Options{Bzip2: opts.Bzip2}),
		ubuntu.NewUCTWithOptions(ubuntu.UCTOptions{Bzip2: opts.Bzip2}),
		ubuntu.NewOVALWithOptions(ubuntu.OVALOptions{Bzip2: opts.Bzip2}),
		ubuntu.NewOSV(),
		redhat.NewVEX(redhat.VEXOptions{}),
		redhat.New(),
		oracle.NewWithOptions(oracle.Options{Bzip2: opts.Bzip2}),
		amazon.New(),
		nvd.New(),
	}
	for _, eco := range osv.LanguageEcosystems() {
		ups = append(ups, osv.New(eco))
	}
	// Exploit context: no packages, one record per CVE (internal/vulndb
	// keeps them in tables of their own).
	ups = append(ups, kev.New(), epss.New())
	return ups
}
