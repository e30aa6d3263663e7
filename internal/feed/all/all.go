// Package all is the one explicit list of feed updaters. An updater that is
// not listed here is never run; all_test.go fails when an implementation
// under internal/feed is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/alpine"
	"github.com/stowaway-scanner/stowaway/internal/feed/amazon"
	"github.com/stowaway-scanner/stowaway/internal/feed/epss"
	"github.com/stowaway-scanner/stowaway/internal/feed/kev"
	"github.com/stowaway-scanner/stowaway/internal/feed/nvd"
	"github.com/stowaway-scanner/stowaway/internal/feed/oracle"
	"github.com/stowaway-scanner/stowaway/internal/feed/osv"
	"github.com/stowaway-scanner/stowaway/internal/feed/redhat"
	"github.com/stowaway-scanner/stowaway/internal/feed/ubuntu"
)

// Updaters returns every upstream feed updater, in update order.
func Updaters() []feed.Updater {
	ups := []feed.Updater{
		alpine.New(),
		osv.New("Debian"),
		ubuntu.NewUCT(),
		ubuntu.NewOVAL(),
		ubuntu.NewOSV(),
		redhat.NewVEX(redhat.VEXOptions{}),
		redhat.New(),
		oracle.New(),
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
