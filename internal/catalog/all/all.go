// Package all is the one explicit list of catalogers. A cataloger that is not
// listed here does not run; all_test.go fails when an implementation under
// internal/catalog is missing from the list.
package all

import (
	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/apk"
	"github.com/stowaway-scanner/stowaway/internal/catalog/binary"
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

// Language returns the catalogers of ENHANCED scanning: the
// language-ecosystem catalogers listed in internal/catalog/lang, then the
// binary classifier (software no package manager installed; see
// internal/catalog/binary).
func Language() []catalog.FileCataloger {
	return append(lang.Catalogers(), binary.New())
}
