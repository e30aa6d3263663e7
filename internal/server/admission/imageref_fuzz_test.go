package admission

import (
	"strings"
	"testing"
)

// FuzzParseImageRef: a reference either fails or normalises to a host,
// path and tag or digest that parse again to the same reference (the
// normal form is a fixed point), with a lower-case host.
func FuzzParseImageRef(f *testing.F) {
	for _, s := range []string{"nginx", "library/nginx:1.25", "localhost:5000/app@sha256:" + strings.Repeat("a", 64), "Registry.Example.com:443/a/b:c", "a@b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseImageRef(s)
		if err != nil {
			return
		}
		if r.Host == "" || r.Path == "" || (r.Tag == "" && r.Digest == "") || r.Host != strings.ToLower(r.Host) || r.Original != s {
			t.Fatalf("ParseImageRef(%q) = %+v", s, r)
		}
		// A one-label host made a domain by its upper case ("A/x": host
		// "A", as runtimes pull it) has no lower-case spelling that parses
		// as a domain again; its host is still lower-cased, as DNS is.
		if !strings.ContainsAny(r.Host, ".:") && r.Host != "localhost" {
			return
		}
		norm := r.Name()
		if r.Tag != "" {
			norm += ":" + r.Tag
		}
		if r.Digest != "" {
			norm += "@" + r.Digest
		}
		again, err := ParseImageRef(norm)
		if err != nil {
			t.Fatalf("normal form %q of %q does not parse: %v", norm, s, err)
		}
		again.Original = r.Original
		if again != r {
			t.Fatalf("normal form %q of %q parses to %+v, not %+v", norm, s, again, r)
		}
	})
}
