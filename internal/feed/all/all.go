// Package all is the one explicit list of feed updaters. An updater that is
// not listed here is never run; all_test.go fails when an implementation
// under internal/feed is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/feed"
	"github.com/stowaway-scanner/stowaway/internal/feed/alpine"
	"github.com/stowaway-scanner/stowaway/internal/feed/redhat"
)

// Updaters returns every upstream feed updater, in update order.
func Updaters() []feed.Updater {
	return []feed.Updater{
		alpine.New(),
		redhat.New(),
	}
}
