package ubuntu

import (
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/advisory"
)

// pocketChannel is the fix channel of a UCT release key: "" for a
// release's own key ("xenial"), else the Ubuntu Pro service whose archive
// carries the pocket. Canonical's tracker (scripts/cve_lib.py subprojects)
// publishes trusty/esm (alias of esm/trusty), esm-infra/<rel> and
// precise/esm from the esm-infra archives ("Available with Ubuntu Pro
// (Infra-only)"), esm-apps/<rel> from the esm-apps archives, and
// esm-infra-legacy/trusty from separate esm-infra-legacy archives
// ("Ubuntu Pro with Legacy support add-on"), so that one keeps its own
// name: the Pro service esm-infra does not deliver it.
func pocketChannel(key string) advisory.FixChannel {
	switch {
	case strings.HasPrefix(key, "esm-infra-legacy/"):
		return advisory.ChannelESMInfraLegacy
	case strings.HasPrefix(key, "esm-infra/"), strings.HasSuffix(key, "/esm"):
		return advisory.ChannelESMInfra
	case strings.HasPrefix(key, "esm-apps/"):
		return advisory.ChannelESMApps
	}
	return advisory.ChannelStandard
}
