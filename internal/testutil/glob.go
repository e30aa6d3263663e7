package testutil

// GlobMatch is a test oracle for '*' patterns (any run of bytes, valid
// UTF-8 or not, unlike a regular expression), by dynamic programming over
// pattern × name.
func GlobMatch(pattern, name string) bool {
	// ok[j]: the pattern so far matches name[:j].
	ok := make([]bool, len(name)+1)
	ok[0] = true
	for i := 0; i < len(pattern); i++ {
		next := make([]bool, len(name)+1)
		if pattern[i] == '*' {
			seen := false
			for j := 0; j <= len(name); j++ {
				seen = seen || ok[j]
				next[j] = seen
			}
		} else {
			for j := 1; j <= len(name); j++ {
				next[j] = ok[j-1] && name[j-1] == pattern[i]
			}
		}
		ok = next
	}
	return ok[len(name)]
}
