package ecrapi

import (
	"context"
	"strings"
)

func (a *API) getAuthorizationToken(_ context.Context, c *call) (any, error) {
	exp := a.o.Now().Add(a.o.TokenTTL).UTC()
	keyID := ""
	if a.o.Auth.Enabled() {
		// authenticate() verified the signature; the key id is in it.
		s, err := parseAuthorization(c.r.Header.Get("Authorization"))
		if err != nil {
			return nil, apiErr("IncompleteSignatureException", err.Error())
		}
		keyID = s.KeyID
	}
	scheme := "https"
	if c.r.TLS == nil && !strings.EqualFold(c.r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "http"
	}
	return map[string]any{
		"authorizationData": []map[string]any{{
			"authorizationToken": a.o.Auth.Token(keyID, exp),
			"expiresAt":          epoch(exp),
			"proxyEndpoint":      scheme + "://" + a.host(c.r),
		}},
	}, nil
}
