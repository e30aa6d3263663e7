// Package all is the one explicit list of catalogers. A cataloger that is not
// listed here does not run; all_test.go fails when an implementation under
// internal/catalog is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/apk"
	"github.com/stowaway-scanner/stowaway/internal/catalog/dpkg"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang"
	"github.com/stowaway-scanner/stowaway/internal/catalog/rpm"
)

// OS returns the catalogers of operating-system package databases (BASIC
// scanning). Their failures fail the scan.
func OS() []catalog.FileCataloger {
	return []catalog.FileCataloger{
		dpkg.New(),
		apk.New(),
		rpm.New(),
	}
}

// Language returns the language-ecosystem catalogers (ENHANCED scanning),
// listed in internal/catalog/lang.
func Language() []catalog.FileCataloger {
	return lang.Catalogers()
}
