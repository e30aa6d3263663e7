package indexer

import "github.com/stowaway-scanner/stowaway/internal/catalog/all"

// benchOptions runs every registered cataloger, as `stowaway sbom` does.
func benchOptions() Options { return Options{OS: all.OS(), Language: all.Language()} }
