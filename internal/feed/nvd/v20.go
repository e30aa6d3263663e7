package nvd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// nvdSource is NVD's own source identifier in 2.0 records; its scores are
// recorded with source "nvd".
const nvdSource = "nvd@nist.gov"

// maxSourceLen bounds a scorer's source identifier (an e-mail address or
// a UUID upstream).
const maxSourceLen = 128

// Decode20 walks an NVD 2.0 feed document (or a CVE API 2.0 response page,
// the same shape) to its vulnerabilities array and hands each entry
// ({"cve": {...}}), undecoded, to fn. A "format" other than NVD_CVE or a
// "version" other than 2.x is an error; other keys are skipped.
func Decode20(ctx context.Context, r io.Reader, fn func(json.RawMessage) error) error {
	check := func(key string, dec *jsontext.Decoder) error {
		v, err := dec.ReadValue()
		if err != nil {
			return fmt.Errorf("json: %s: %w", key, err)
		}
		var s string
		switch key {
		case "format":
			if err := jsonv1.Unmarshal(v, &s); err != nil || s != "NVD_CVE" {
				return fmt.Errorf("format %.40s: want \"NVD_CVE\"", v)
			}
		case "version":
			if err := jsonv1.Unmarshal(v, &s); err != nil || !strings.HasPrefix(s, "2.") {
				return fmt.Errorf("version %.40s: want \"2.x\"", v)
			}
		}
		return nil
	}
	return walk(ctx, r, "vulnerabilities", check, fn)
}

type record20 struct {
	CVE struct {
		ID           string `json:"id"`
		Published    string `json:"published"`
		LastModified string `json:"lastModified"`
		VulnStatus   string `json:"vulnStatus"`
		Descriptions []struct {
			Lang  string `json:"lang"`
			Value string `json:"value"`
		} `json:"descriptions"`
		Metrics struct {
			V40 []metric20 `json:"cvssMetricV40"`
			V31 []metric20 `json:"cvssMetricV31"`
			V30 []metric20 `json:"cvssMetricV30"`
			V2  []metric20 `json:"cvssMetricV2"`
		} `json:"metrics"`
		References []struct {
			URL string `json:"url"`
		} `json:"references"`
	} `json:"cve"`
}

type metric20 struct {
	Source string `json:"source"`
	Type   string `json:"type"`
	Data   cvss   `json:"cvssData"`
}

func idOf20(raw json.RawMessage) string {
	var r struct {
		CVE struct {
			ID any `json:"id"`
		} `json:"cve"`
	}
	_ = jsonv1.Unmarshal(raw, &r)
	if s, ok := r.CVE.ID.(string); ok && len(s) < 64 {
		return s
	}
	return ""
}

// scores converts one metrics list of a record (name is its key, want the
// CVSS version its entries must carry) into NVD's and the other scorers'.
func scores(name, want string, ms []metric20) (nvd, others []advisory.CVSS, err error) {
	for i, m := range ms {
		d := m.Data
		switch {
		case d.Version != want:
			return nil, nil, fmt.Errorf("metrics.%s[%d]: version %q, want %q", name, i, d.Version, want)
		case strings.TrimSpace(d.VectorString) == "":
			return nil, nil, fmt.Errorf("metrics.%s[%d]: no vectorString", name, i)
		case d.BaseScore < 0 || d.BaseScore > 10:
			return nil, nil, fmt.Errorf("metrics.%s[%d]: baseScore %v outside 0-10", name, i, d.BaseScore)
		}
		src := strings.TrimSpace(m.Source)
		switch {
		case src == "":
			return nil, nil, fmt.Errorf("metrics.%s[%d]: no source", name, i)
		case len(src) > maxSourceLen:
			return nil, nil, fmt.Errorf("metrics.%s[%d]: source longer than %d bytes", name, i, maxSourceLen)
		}
		c := advisory.CVSS{Version: want, Vector: strings.TrimSpace(d.VectorString), Score: d.BaseScore}
		if src == nvdSource {
			c.Source = "nvd"
			nvd = append(nvd, c)
		} else {
			c.Source = src
			others = append(others, c)
		}
	}
	return nvd, others, nil
}

// convert20 reads one 2.0 vulnerabilities entry. Its CVSS are ordered as
// the package doc says: v3.1, v3.0 (NVD's, then others'), v2, v4.0.
func convert20(raw json.RawMessage) (*advisory.Advisory, error) {
	var r record20
	if err := jsonv1.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	c := &r.CVE
	id := strings.TrimSpace(c.ID)
	if !cveRe.MatchString(id) {
		return nil, fmt.Errorf("invalid CVE id %q", id)
	}
	a := &advisory.Advisory{ID: id, Source: "nvd"}
	for _, d := range c.Descriptions {
		if d.Lang == "en" {
			a.Description = d.Value
			break
		}
	}
	a.Rejected = c.VulnStatus == "Rejected" || advisory.RejectNotice(a.Description)
	for _, ref := range c.References {
		if u := strings.TrimSpace(ref.URL); u != "" {
			a.References = append(a.References, u)
		}
	}
	lists := []struct {
		name, version string
		ms            []metric20
	}{
		{"cvssMetricV31", "3.1", c.Metrics.V31},
		{"cvssMetricV30", "3.0", c.Metrics.V30},
		{"cvssMetricV2", "2.0", c.Metrics.V2},
		{"cvssMetricV40", "4.0", c.Metrics.V40},
	}
	var v3nvd, v3other []advisory.CVSS
	for i, l := range lists {
		nvd, others, err := scores(l.name, l.version, l.ms)
		if err != nil {
			return nil, err
		}
		if i < 2 {
			v3nvd, v3other = append(v3nvd, nvd...), append(v3other, others...)
			if i == 1 {
				a.CVSS = append(append(a.CVSS, v3nvd...), v3other...)
			}
			continue
		}
		a.CVSS = append(append(a.CVSS, nvd...), others...)
	}
	var err error
	if a.Published, err = parseDate(c.Published); err != nil {
		return nil, fmt.Errorf("published: %w", err)
	}
	if a.Modified, err = parseDate(c.LastModified); err != nil {
		return nil, fmt.Errorf("lastModified: %w", err)
	}
	if a.CPE, err = cpeRanges20(raw); err != nil {
		return nil, err
	}
	return a, nil
}
