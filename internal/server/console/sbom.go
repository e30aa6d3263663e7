package console

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/inventory"
	"github.com/stowaway-scanner/stowaway/internal/sbom"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// loadInventory returns the image's stored inventory, nil and a note for
// the page when there is none.
func (c *Console) loadInventory(r *http.Request, repo, digest string) (*inventory.Inventory, string, error) {
	ctx := r.Context()
	data, _, _, err := c.o.Store.ConsoleInventory(ctx, repo, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "No inventory (SBOM) is stored for this image: it has not been scanned since inventories are kept.", nil
	}
	if err != nil {
		return nil, "", err
	}
	inv, err := c.codec.Decode(data)
	if err != nil {
		return nil, "", fmt.Errorf("console: stored inventory of %s@%s: %w", repo, digest, err)
	}
	return inv, "", nil
}

var sbomTypes = map[sbom.Format]struct{ contentType, ext string }{
	sbom.CycloneDX: {"application/vnd.cyclonedx+json", "cdx.json"},
	sbom.SPDX:      {"application/spdx+json", "spdx.json"},
}

// sbom serves the image's SBOM encoded from its stored inventory.
func (c *Console) sbom(w http.ResponseWriter, r *http.Request, repo, digest string) {
	f, err := sbom.ParseFormat(r.URL.Query().Get("format"))
	if r.URL.Query().Get("format") == "" {
		f, err = sbom.CycloneDX, nil
	}
	if _, ok := sbomTypes[f]; err != nil || !ok {
		c.fail(w, r, http.StatusBadRequest, "Unknown SBOM format: use format=cyclonedx or format=spdx.")
		return
	}
	if _, err := c.o.Store.GetImage(r.Context(), repo, digest); err != nil {
		c.storeFail(w, r, err, fmt.Sprintf("Image %s does not exist in repository %q.", digest, repo))
		return
	}
	inv, note, err := c.loadInventory(r, repo, digest)
	if err != nil {
		c.storeFail(w, r, err, "")
		return
	}
	if inv == nil {
		c.fail(w, r, http.StatusNotFound, note)
		return
	}
	var buf bytes.Buffer
	if err := sbom.EncodeWith(&buf, inv, f, sbom.Options{ToolVersion: c.o.ToolVersion, Names: c.o.Names}); err != nil {
		c.o.Logger.Error("console: encode sbom", "repository", repo, "digest", digest, "err", err)
		c.fail(w, r, http.StatusInternalServerError, "The stored inventory could not be encoded as an SBOM; see the server log.")
		return
	}
	t := sbomTypes[f]
	name := strings.NewReplacer("/", "_", ":", "_").Replace(repo) + "-" + shortDigest(digest) + "." + t.ext
	w.Header().Set("Content-Type", t.contentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
