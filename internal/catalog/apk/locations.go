package apk

// Locations lists where apk's installed database lives. The indexer reads
// it through a symlink when the image links it elsewhere, as apk would.
func (Cataloger) Locations() []string {
	return []string{"lib/apk/db/installed", "usr/lib/apk/db/installed"}
}
