package binary

import (
	"path"
	"regexp"
	"strings"
)

// matcher finds a version in a file: every occurrence of anchor (a
// literal, found with bytes.Index) is tried with re on a window that starts
// before bytes ahead of it and ends window bytes after it; re's first
// group is the version. product, when set, overrides the rule's (one rule
// may tell MariaDB from MySQL).
type matcher struct {
	anchor  string
	before  int
	re      *regexp.Regexp
	product string
	// first: only an anchor at the start of the file counts.
	first bool
}

// rule is one classifier: the files it is tried on (by base name, never
// by content: a version string of OpenSSL inside curl says nothing about
// curl) and its matchers, the earlier ones preferred when several match.
type rule struct {
	product string
	// names reports whether a file of this base name is a candidate.
	names func(base string) bool
	// matchers for a file of that base name; nil when the rule builds them
	// from the name (python).
	matchers []matcher
	dynamic  func(base string) []matcher
	// text rules read the head of a small text file, not a binary.
	text bool
	// clean normalises a found version to the spelling NVD uses.
	clean func(string) string
}

// window is the most bytes a matcher reads after its anchor.
const window = 192

// maxBefore is the most bytes a matcher reads before its anchor.
const maxBefore = 64

func is(names ...string) func(string) bool {
	return func(b string) bool {
		for _, n := range names {
			if b == n {
				return true
			}
		}
		return false
	}
}

// glob matches base names with path.Match patterns.
func glob(patterns ...string) func(string) bool {
	return func(b string) bool {
		for _, p := range patterns {
			if ok, _ := path.Match(p, b); ok {
				return true
			}
		}
		return false
	}
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(b string) bool {
		for _, f := range fs {
			if f(b) {
				return true
			}
		}
		return false
	}
}

func m(anchor string, before int, re string) matcher {
	return matcher{anchor: anchor, before: before, re: regexp.MustCompile(re)}
}

var (
	pythonName    = regexp.MustCompile(`^python(\d+\.\d+)$`)
	libpythonName = regexp.MustCompile(`^libpython(\d+\.\d+)[a-z]?\.so(\.[0-9.]+)?$`)
	phpName       = regexp.MustCompile(`^(php(\d+(\.\d+)?)?|php-fpm(\d+(\.\d+)?)?|php-cgi(\d+(\.\d+)?)?|libphp\d*\.so)$`)
	perlName      = regexp.MustCompile(`^(perl|perl5\.\d+\.\d+|libperl\.so(\.[0-9.]+)?)$`)
	rubyPatch     = regexp.MustCompile(`p\d+$`)
)

// rules are the classifiers, one per product of advisory.CPEProducts.
func rules() []rule {
	return []rule{
		{
			product: "openssl",
			names:   anyOf(is("openssl"), glob("libssl*.so*", "libcrypto*.so*")),
			// OPENSSL_VERSION_TEXT: "OpenSSL 1.1.1w  11 Sep 2023". The
			// release date rules out forks that call themselves
			// "OpenSSL 1.1.1 (compatible; BoringSSL)" or AWS-LC.
			matchers: []matcher{m("OpenSSL ", 0, `^OpenSSL (\d+\.\d+\.\d+[a-z]{0,2}(?:-(?:alpha|beta|pre|rc)\d+)?) +\d{1,2} [A-Z][a-z]{2} \d{4}`)},
		},
		{
			product:  "libcurl",
			names:    glob("libcurl*.so*"),
			matchers: []matcher{m("libcurl/", 0, `^libcurl/(\d+\.\d+\.\d+)`)},
		},
		{
			product: "curl",
			names:   is("curl"),
			// The user agent "curl/7.88.1", not "libcurl/…".
			matchers: []matcher{m("curl/", 1, `^(?:[^A-Za-z0-9_]|^)curl/(\d+\.\d+\.\d+)`)},
		},
		{
			product:  "busybox",
			names:    is("busybox"),
			matchers: []matcher{m("BusyBox v", 0, `^BusyBox v(\d+\.\d+\.\d+)`)},
		},
		{
			product:  "bash",
			names:    is("bash"),
			matchers: []matcher{m("@(#)Bash version ", 0, `^@\(#\)Bash version (\d+\.\d+\.\d+)\(\d+\) [a-z0-9]+ GNU`)},
		},
		{
			product: "node",
			names:   is("node", "nodejs"),
			matchers: []matcher{
				m("node.js/v", 0, `^node\.js/v(\d+\.\d+\.\d+)`),
				m("\x00node v", 0, `^\x00node v(\d+\.\d+\.\d+)\x00`),
			},
		},
		{
			product: "python",
			names: func(b string) bool {
				return pythonName.MatchString(b) || libpythonName.MatchString(b)
			},
			// Py_Version's "\x003.11.2\x00", looked for under the major.minor
			// the file name gives.
			dynamic: func(b string) []matcher {
				mm := pythonName.FindStringSubmatch(b)
				if mm == nil {
					mm = libpythonName.FindStringSubmatch(b)
				}
				if mm == nil {
					return nil
				}
				q := regexp.QuoteMeta(mm[1])
				return []matcher{m("\x00"+mm[1]+".", 0, `^\x00(`+q+`\.\d+(?:(?:a|b|rc)\d+)?)[+]?\x00`)}
			},
			clean: func(v string) string {
				// 3.13.0a1 is an alpha, not a letter release.
				if i := strings.LastIndexAny(v, "ab"); i > 0 && !strings.Contains(v, "rc") {
					word := map[byte]string{'a': "alpha", 'b': "beta"}[v[i]]
					return v[:i] + word + v[i+1:]
				}
				return v
			},
		},
		{
			product: "openjdk",
			names:   is("release"),
			text:    true,
			// The JDK's release file: JAVA_VERSION="17.0.9".
			matchers: []matcher{m("JAVA_VERSION=\"", 1, `^(?:\n|^)JAVA_VERSION="(\d+(?:[._]\d+){0,4}(?:\+\d+)?)"`)},
		},
		{
			product: "go",
			names:   is("VERSION"),
			text:    true,
			// $GOROOT/VERSION begins with the toolchain's version.
			matchers: []matcher{{anchor: "go", re: regexp.MustCompile(`^go(\d+\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?)(?:\n|$)`), first: true}},
		},
		{
			product: "redis",
			names:   is("redis-server"),
			matchers: []matcher{
				m("buildkitsandbox-", 24, `[^\d.](\d+\.\d+\.\d+)buildkitsandbox-\d+`),
				m("Redis version ", 0, `^Redis version (\d+\.\d+\.\d+)`),
			},
		},
		{
			product:  "nginx",
			names:    is("nginx"),
			matchers: []matcher{m("nginx version: ", 0, `^nginx version: [^/\x00]{1,20}/(\d+\.\d+\.\d+)`)},
		},
		{
			product:  "httpd",
			names:    is("httpd", "apache2"),
			matchers: []matcher{m("Apache/", 0, `^Apache/(\d+\.\d+\.\d+)`)},
		},
		{
			product:  "postgresql",
			names:    is("postgres"),
			matchers: []matcher{m("PostgreSQL ", 1, `^[\x00?]PostgreSQL (\d+(?:\.\d+){0,2}(?:(?:alpha|beta|rc)\d+)?)[ \x00]`)},
		},
		{
			product: "mysql",
			names:   is("mysqld", "mysql", "mariadbd", "mariadb"),
			matchers: []matcher{
				{anchor: "-MariaDB", before: 24, re: regexp.MustCompile(`[^\d.](\d+\.\d+\.\d+)-MariaDB`), product: "mariadb"},
				m("/mysql-", 0, `^/mysql-(\d+\.\d+\.\d+)/`),
			},
		},
		{
			product:  "php",
			names:    phpName.MatchString,
			matchers: []matcher{m("X-Powered-By: PHP/", 0, `^X-Powered-By: PHP/(\d+\.\d+\.\d+(?:(?:alpha|beta|RC)\d+)?)`)},
		},
		{
			product:  "ruby",
			names:    anyOf(is("ruby"), glob("libruby*.so*")),
			matchers: []matcher{m("ruby ", 0, `^ruby (\d+\.\d+\.\d+(?:p\d+|(?:preview|rc|dev)\d*)?) \(\d{4}-\d\d-\d\d`)},
			// 2.7.7p221: p221 is the patch level, NVD names 2.7.7.
			clean: func(v string) string { return rubyPatch.ReplaceAllString(v, "") },
		},
		{
			product: "perl",
			names:   perlName.MatchString,
			// The compiled-in library directory: /usr/local/lib/perl5/5.38.0.
			matchers: []matcher{m("/perl", 0, `^/perl5?/(5\.\d+\.\d+)[\x00/]`)},
		},
		{
			product: "haproxy",
			names:   is("haproxy"),
			matchers: []matcher{
				m("HA-Proxy version ", 0, `^HA-Proxy version (\d+\.\d+(?:\.\d+|-dev\d+))`),
				m(", released 20", 40, `version (\d+\.\d+(?:\.\d+|-dev\d+|-rc\d+))(?:-[a-z0-9]{7})?, released 20`),
				m("HAProxy version", 64, `[^\d.](\d+\.\d+(?:\.\d+|-dev\d+))-[0-9a-zA-Z]{7}[^\x00]{0,40}HAProxy version`),
			},
		},
		{
			product:  "memcached",
			names:    is("memcached"),
			matchers: []matcher{m("memcached ", 0, `^memcached (\d+\.\d+\.\d+)`)},
		},
		{
			product: "sqlite",
			names:   anyOf(is("sqlite3"), glob("libsqlite3*.so*")),
			// sqlite3_version[]: "\x003.40.1\x00".
			matchers: []matcher{m("\x003.", 0, `^\x00(3\.\d{1,2}\.\d{1,2})\x00`)},
		},
		{
			product: "zlib",
			names:   glob("libz.so*"),
			matchers: []matcher{
				m("deflate ", 0, `^deflate (\d+\.\d+(?:\.\d+){0,2}) Copyright`),
				m("inflate ", 0, `^inflate (\d+\.\d+(?:\.\d+){0,2}) Copyright`),
			},
		},
	}
}
