package rpm

// Locations lists where rpm's database may live. The indexer reads it
// through a symlink when the image links it elsewhere, as rpm would.
func (Cataloger) Locations() []string {
	var out []string
	for _, dir := range []string{"var/lib/rpm/", "usr/lib/sysimage/rpm/"} {
		for _, n := range dbNames {
			out = append(out, dir+n)
		}
	}
	return out
}
