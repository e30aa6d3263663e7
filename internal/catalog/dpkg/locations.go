package dpkg

// Locations lists where dpkg's database lives: the status file and the
// distroless status directory. The indexer reads them through a symlink
// when the image links them elsewhere, as dpkg itself would.
func (Cataloger) Locations() []string { return []string{statusPath, statusDir} }
