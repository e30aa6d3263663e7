package python

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/catalog/internal/lines"
	"github.com/stowaway-scanner/stowaway/internal/ecosystem/pypi"
	"github.com/stowaway-scanner/stowaway/internal/inventory"
)

// ParseMetadata parses the header block of a core metadata file (METADATA or
// PKG-INFO) and returns the distribution it describes. It stops reading at
// the first blank line. A distribution with a Name but no Version is
// returned with an empty version and a warning; one without a Name is an
// error.
func ParseMetadata(r io.Reader) (inventory.Package, []string, error) {
	sc := lines.NewScanner(r, MaxMetadataSize, MaxLineSize)
	var (
		p        = inventory.Package{Type: pypi.Type}
		license  string
		expr     string
		last     string // the field a continuation line extends
		n        int
		nameLine int
		warns    []string
	)
	for sc.Scan() {
		n = sc.Line()
		if size, long := sc.TooLong(); long {
			warns = append(warns, fmt.Sprintf("line %d: %d bytes, longer than the %d byte limit; skipped", n, size, MaxLineSize))
			last = ""
			continue
		}
		line := sc.Text()
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "License" {
				license += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			if n == 1 {
				return p, nil, fmt.Errorf("parse metadata: line 1: not a \"Field: value\" header: %q", trunc(line))
			}
			// Some tools write the description without a blank line
			// before it; the headers are over.
			break
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		last = k
		switch strings.ToLower(k) {
		case "name":
			if p.Name == "" {
				p.Name, nameLine = v, n
			}
		case "version":
			if p.Version == "" {
				p.Version = v
			}
		case "license":
			license = v
		case "license-expression":
			expr = v
		}
	}
	if err := sc.Err(); err != nil {
		return p, nil, fmt.Errorf("parse metadata: line %d: %w", n+1, err)
	}
	if p.Name == "" {
		return p, nil, errors.New("parse metadata: no Name header")
	}
	if p.Version == "" {
		warns = append(warns, fmt.Sprintf("package %q (line %d) has no Version header; kept with an empty version", trunc(p.Name), nameLine))
	}
	switch {
	case expr != "":
		p.Licenses = []string{expr}
	case license != "" && !strings.EqualFold(license, "UNKNOWN") && !strings.Contains(license, "\n") && len(license) <= 100:
		p.Licenses = []string{license}
	}
	return p, warns, nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
