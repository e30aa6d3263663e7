package python

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/lines"
	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/warn"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

var (
	// reqName is a PEP 508 name, optional extras, and the rest.
	reqName = regexp.MustCompile(`^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$`)
)

// ParseRequirements parses a pip requirements file and returns its exactly
// pinned requirements, plus one warning per line that is not a requirement.
func ParseRequirements(r io.Reader) ([]inventory.Package, []string, error) {
	sc := lines.NewScanner(r, MaxLockSize, MaxLineSize)
	var (
		pkgs    []inventory.Package
		w       warn.List
		n       int
		start   int
		pending strings.Builder
	)
	for sc.Scan() {
		n = sc.Line()
		if pending.Len() == 0 {
			start = n
		}
		if size, long := sc.TooLong(); long {
			w.Addf("line %d: %d bytes, longer than the %d byte limit; skipped", n, size, MaxLineSize)
			pending.Reset()
			continue
		}
		line := sc.Text()
		if strings.HasSuffix(line, `\`) {
			pending.WriteString(strings.TrimSuffix(line, `\`))
			pending.WriteByte(' ')
			if pending.Len() > MaxLineSize {
				w.Addf("line %d: continued line longer than %d bytes; skipped", start, MaxLineSize)
				pending.Reset()
			}
			continue
		}
		pending.WriteString(line)
		full := pending.String()
		pending.Reset()
		p, ok, err := parseRequirement(full)
		if err != nil {
			w.Addf("line %d: %v", start, err)
		}
		if ok {
			pkgs = append(pkgs, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("parse requirements: line %d: %w", n+1, err)
	}
	return pkgs, w.Strings(""), nil
}

// parseRequirement parses one logical line. ok is false for lines that are
// valid but name no pinned package. An error with ok true is a warning about
// a package that is kept.
func parseRequirement(line string) (p inventory.Package, ok bool, err error) {
	// A comment starts at "#" at the line start or after whitespace.
	if i := strings.Index(line, "#"); i == 0 {
		return p, false, nil
	} else if i > 0 {
		if j := strings.Index(line, " #"); j >= 0 {
			line = line[:j]
		} else if j := strings.Index(line, "\t#"); j >= 0 {
			line = line[:j]
		}
	}
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "-") {
		return p, false, nil // blank, or a pip option (-r, -e, --hash, ...)
	}
	if strings.Contains(line, "://") || strings.HasPrefix(line, ".") || strings.HasPrefix(line, "/") {
		return p, false, nil // a URL or a local path
	}
	// Environment markers and per-requirement options do not change the pin.
	if i := strings.IndexByte(line, ';'); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	if i := strings.Index(line, " --"); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	m := reqName.FindStringSubmatch(line)
	if m == nil {
		return p, false, fmt.Errorf("not a requirement: %q", trunc(line))
	}
	name, spec := m[1], strings.TrimSpace(m[3])
	if strings.HasPrefix(spec, "@") {
		return p, false, nil // "name @ url"
	}
	pin, pinned := strings.CutPrefix(spec, "==")
	if !pinned {
		if spec != "" && !strings.ContainsAny(spec[:1], "<>=!~") {
			return p, false, fmt.Errorf("not a requirement: %q", trunc(line))
		}
		return p, false, nil // a range or no version: not pinned
	}
	pin = strings.TrimPrefix(pin, "=") // "===": arbitrary equality
	if i := strings.IndexByte(pin, ','); i >= 0 {
		pin = pin[:i] // "==1.0,<2": the pin still decides
	}
	pin = strings.TrimSpace(pin)
	if strings.Contains(pin, "*") {
		return p, false, nil // a wildcard: not pinned
	}
	// The version is kept as written, even one that is no PEP 440 version
	// ("2.10.0 beta"): the matcher reports it as degraded.
	p = inventory.Package{Name: name, Version: pin, Type: pypi.Type}
	if pin == "" {
		return p, true, fmt.Errorf("package %q: == with no version; kept with an empty version", trunc(name))
	}
	return p, true, nil
}
