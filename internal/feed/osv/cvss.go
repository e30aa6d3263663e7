package osv

import (
	"fmt"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// maxVectorLen bounds a CVSS vector before it is parsed.
const maxVectorLen = 512

// ScoreVector parses a CVSS vector and returns its version ("2.0", "3.0",
// "3.1", "4.0") and base score (CVSS v4: the CVSS-B score of the vector).
// A v2 vector has no prefix ("AV:N/AC:L/Au:N/C:P/I:P/A:P"; parentheses
// and a "CVSS:2.0/" prefix are tolerated).
func ScoreVector(vector string) (version string, score float64, err error) {
	v := strings.TrimSpace(vector)
	if len(v) > maxVectorLen {
		return "", 0, fmt.Errorf("cvss: vector longer than %d bytes", maxVectorLen)
	}
	switch {
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(v)
		if err != nil {
			return "", 0, fmt.Errorf("cvss: %q: %w", v, err)
		}
		return "3.1", c.BaseScore(), nil
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(v)
		if err != nil {
			return "", 0, fmt.Errorf("cvss: %q: %w", v, err)
		}
		return "3.0", c.BaseScore(), nil
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(v)
		if err != nil {
			return "", 0, fmt.Errorf("cvss: %q: %w", v, err)
		}
		return "4.0", c.Score(), nil
	default:
		v = strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(v, "("), ")"), "CVSS:2.0/")
		c, err := gocvss20.ParseVector(v)
		if err != nil {
			return "", 0, fmt.Errorf("cvss: %q: %w", vector, err)
		}
		return "2.0", c.BaseScore(), nil
	}
}

// cvssOf converts one OSV severity entry. Unknown types give ok=false.
func cvssOf(typ, vector, source string) (c advisory.CVSS, ok bool, err error) {
	switch typ {
	case "CVSS_V2", "CVSS_V3", "CVSS_V4":
	default:
		return advisory.CVSS{}, false, nil
	}
	ver, score, err := ScoreVector(vector)
	if err != nil {
		return advisory.CVSS{}, false, err
	}
	if want := typ[len("CVSS_V"):]; !strings.HasPrefix(ver, want) {
		return advisory.CVSS{}, false, fmt.Errorf("cvss: %s entry holds a v%s vector", typ, ver)
	}
	return advisory.CVSS{Version: ver, Vector: strings.TrimSpace(vector), Score: score, Source: source}, true, nil
}
