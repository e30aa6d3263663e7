package nvd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// Decode walks an NVD 1.1 feed document to its CVE_Items array and hands
// each item, undecoded, to fn. Keys other than CVE_Items are skipped.
func Decode(ctx context.Context, r io.Reader, fn func(json.RawMessage) error) error {
	return walk(ctx, r, "CVE_Items", nil, fn)
}

type item struct {
	CVE struct {
		Meta struct {
			ID string `json:"ID"`
		} `json:"CVE_data_meta"`
		References struct {
			Data []struct {
				URL string `json:"url"`
			} `json:"reference_data"`
		} `json:"references"`
		Description struct {
			Data []struct {
				Lang  string `json:"lang"`
				Value string `json:"value"`
			} `json:"description_data"`
		} `json:"description"`
	} `json:"cve"`
	Impact struct {
		V3 *struct {
			CVSS cvss `json:"cvssV3"`
		} `json:"baseMetricV3"`
		V2 *struct {
			CVSS cvss `json:"cvssV2"`
		} `json:"baseMetricV2"`
	} `json:"impact"`
	Published    string `json:"publishedDate"`
	LastModified string `json:"lastModifiedDate"`
}

type cvss struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
}

func idOf(raw json.RawMessage) string {
	var it struct {
		CVE struct {
			Meta struct {
				ID any `json:"ID"`
			} `json:"CVE_data_meta"`
		} `json:"cve"`
	}
	_ = jsonv1.Unmarshal(raw, &it)
	if s, ok := it.CVE.Meta.ID.(string); ok && len(s) < 64 {
		return s
	}
	return ""
}

// convert reads one 1.1 CVE_Items entry.
func convert(raw json.RawMessage) (*advisory.Advisory, error) {
	var it item
	if err := jsonv1.Unmarshal(raw, &it); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	id := strings.TrimSpace(it.CVE.Meta.ID)
	if !cveRe.MatchString(id) {
		return nil, fmt.Errorf("invalid CVE id %q", id)
	}
	a := &advisory.Advisory{ID: id, Source: "nvd"}
	for _, d := range it.CVE.Description.Data {
		if d.Lang == "en" {
			a.Description = d.Value
			break
		}
	}
	a.Rejected = advisory.RejectNotice(a.Description)
	for _, r := range it.CVE.References.Data {
		if u := strings.TrimSpace(r.URL); u != "" {
			a.References = append(a.References, u)
		}
	}
	if v3 := it.Impact.V3; v3 != nil && v3.CVSS.VectorString != "" {
		if !strings.HasPrefix(v3.CVSS.Version, "3") || v3.CVSS.BaseScore < 0 || v3.CVSS.BaseScore > 10 {
			return nil, fmt.Errorf("invalid CVSS v3 %+v", v3.CVSS)
		}
		a.CVSS = append(a.CVSS, advisory.CVSS{Version: v3.CVSS.Version, Vector: v3.CVSS.VectorString, Score: v3.CVSS.BaseScore, Source: "nvd"})
	}
	if v2 := it.Impact.V2; v2 != nil && v2.CVSS.VectorString != "" {
		if v2.CVSS.BaseScore < 0 || v2.CVSS.BaseScore > 10 {
			return nil, fmt.Errorf("invalid CVSS v2 %+v", v2.CVSS)
		}
		a.CVSS = append(a.CVSS, advisory.CVSS{Version: "2.0", Vector: v2.CVSS.VectorString, Score: v2.CVSS.BaseScore, Source: "nvd"})
	}
	var err error
	if a.Published, err = parseDate(it.Published); err != nil {
		return nil, fmt.Errorf("publishedDate: %w", err)
	}
	if a.Modified, err = parseDate(it.LastModified); err != nil {
		return nil, fmt.Errorf("lastModifiedDate: %w", err)
	}
	if a.CPE, err = cpeRanges11(raw); err != nil {
		return nil, err
	}
	return a, nil
}
