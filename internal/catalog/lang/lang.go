// Package lang is the explicit list of the language-ecosystem catalogers
// (ENHANCED scanning), one subpackage per ecosystem:
//
//   - python: dist-info/egg-info metadata, requirements*.txt, poetry.lock,
//     Pipfile.lock
//   - node: node_modules package.json, package-lock.json (v1-v3),
//     yarn.lock (classic and berry), pnpm-lock.yaml
//   - java: jar, war, ear (and nested archives)
//   - dotnet: *.deps.json, packages.lock.json
//   - ruby: installed gemspecs, Gemfile.lock
//   - rust: Cargo.lock, cargo-auditable binaries
//   - golang: Go binaries' build info, go.mod
//   - php: composer.lock, vendor/composer/installed.json
//
// Every cataloger is a catalog.FileCataloger built with a plain New(). All
// share these rules: Required is a cheap path (and, for executables, mode)
// filter that never reads the file; every read is bounded, with an error
// naming the limit; a malformed record of a manifest or lockfile costs that
// record only (a warning naming the file and the record; a package whose
// name is known is kept with its version as written), a file that cannot be
// parsed at all becomes a warning naming the file, while an I/O error of
// the underlying reader or a canceled context is returned as an error; packages carry Name, Version,
// Type, Path and Cataloger (and Licenses when cheap), and leave PURL and
// Layer to the driver. Each parser is exported as a pure function over
// io.Reader (io.ReaderAt for archives and executables) and is fuzzed.
//
// lang_test.go fails when an exported cataloger type in a subpackage is
// missing from Catalogers.
package lang

import (
	"github.com/stowaway-scanner/stowaway/internal/catalog"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/dotnet"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/golang"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/java"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/node"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/php"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/python"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/ruby"
	"github.com/stowaway-scanner/stowaway/internal/catalog/lang/rust"
)

// Catalogers returns every language cataloger.
func Catalogers() []catalog.FileCataloger {
	return []catalog.FileCataloger{
		python.New(),
		node.New(),
		java.New(),
		dotnet.New(),
		ruby.New(),
		rust.New(),
		golang.New(),
		php.New(),
	}
}
