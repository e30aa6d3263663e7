package scan_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// redhatVEXRecords reads the mirror's Red Hat CSAF VEX documents (the
// per-CVE files beside the archive) into the CVE API's record shape, so
// that the Red Hat oracle can apply them as the DB does: for a CVE that VEX
// judges on a release's main stream, the VEX record replaces the CVE API
// record (the RHEL descriptor ranks VEX first). It is a reading of the
// format independent of internal/feed/redhat: per product_status entry,
// the relationship's platform CPE and component (purl, else the product
// id); fixed source rpms become affected_release NEVRAs, the rest
// package_state entries (no_fix_planned: Will not fix). A missing
// directory gives no records.
func redhatVEXRecords(feeds string) (map[string]rhRecord, error) {
	files, err := filepath.Glob(filepath.Join(feeds, "redhat", "csaf", "v2", "vex", "[0-9][0-9][0-9][0-9]", "cve-*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]rhRecord{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var d struct {
			ProductTree struct {
				Branches      []json.RawMessage `json:"branches"`
				Relationships []struct {
					Full struct {
						ID string `json:"product_id"`
					} `json:"full_product_name"`
					Component string `json:"product_reference"`
					Platform  string `json:"relates_to_product_reference"`
				} `json:"relationships"`
			} `json:"product_tree"`
			Vulnerabilities []struct {
				CVE           string              `json:"cve"`
				ProductStatus map[string][]string `json:"product_status"`
				Remediations  []struct {
					Category   string   `json:"category"`
					ProductIDs []string `json:"product_ids"`
				} `json:"remediations"`
			} `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, err
		}
		helpers := map[string]map[string]string{} // product id -> cpe/purl
		var walk func([]json.RawMessage)
		walk = func(bs []json.RawMessage) {
			for _, raw := range bs {
				var br struct {
					Product *struct {
						ID     string            `json:"product_id"`
						Helper map[string]string `json:"product_identification_helper"`
					} `json:"product"`
					Branches []json.RawMessage `json:"branches"`
				}
				if json.Unmarshal(raw, &br) != nil {
					continue
				}
				if br.Product != nil {
					helpers[br.Product.ID] = br.Product.Helper
				}
				walk(br.Branches)
			}
		}
		walk(d.ProductTree.Branches)
		type pair struct{ component, platform string }
		rel := map[string]pair{}
		for _, r := range d.ProductTree.Relationships {
			rel[r.Full.ID] = pair{r.Component, r.Platform}
		}
		for _, v := range d.Vulnerabilities {
			rec := rhRecord{Name: v.CVE}
			noFix := map[string]bool{}
			for _, r := range v.Remediations {
				if r.Category == "no_fix_planned" {
					for _, id := range r.ProductIDs {
						noFix[id] = true
					}
				}
			}
			for status, ids := range v.ProductStatus {
				for _, id := range ids {
					p, ok := rel[id]
					if !ok {
						continue
					}
					cpe := helpers[p.platform]["cpe"]
					name, nevra, src := vexComponent(p.component, helpers[p.component]["purl"])
					if name == "" {
						continue
					}
					switch status {
					case "fixed":
						if src && nevra != "" {
							rec.AffectedRelease = append(rec.AffectedRelease, struct {
								CPE     string `json:"cpe"`
								Package string `json:"package"`
							}{cpe, nevra})
						}
						continue
					}
					state := map[string]string{"known_not_affected": "Not affected", "under_investigation": "Under investigation", "known_affected": "Affected"}[status]
					if status == "known_affected" && noFix[id] {
						state = "Will not fix"
					}
					if state == "" {
						continue
					}
					rec.PackageState = append(rec.PackageState, struct {
						CPE         string `json:"cpe"`
						FixState    string `json:"fix_state"`
						PackageName string `json:"package_name"`
					}{cpe, state, name})
				}
			}
			out[v.CVE] = rec
		}
	}
	return out, nil
}

// vexComponent gives a component's rpm name, its source NEVRA
// ("name-E:V-R", for a versioned source rpm) and whether it is a source
// rpm; name is "" for a non-rpm component.
func vexComponent(id, purl string) (name, nevra string, src bool) {
	if purl == "" {
		if n, ok := strings.CutSuffix(id, ".src"); ok {
			if m := rhNEVRA.FindStringSubmatch(n); m != nil {
				return m[1], n, true
			}
			return n, "", true
		}
		if strings.Contains(id, "/") {
			return "", "", false
		}
		return id, "", false
	}
	rest, ok := strings.CutPrefix(purl, "pkg:rpm/redhat/")
	if !ok {
		return "", "", false
	}
	rest, query, _ := strings.Cut(rest, "?")
	q, _ := url.ParseQuery(query)
	name, ver, _ := strings.Cut(rest, "@")
	ver, _ = url.PathUnescape(ver)
	src = q.Get("arch") == "src"
	if ver != "" {
		epoch := q.Get("epoch")
		if epoch == "" {
			epoch = "0"
		}
		nevra = name + "-" + epoch + ":" + ver
	}
	return name, nevra, src
}
