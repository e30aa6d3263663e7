package ecrapi

import (
	"context"
)

func (a *API) getAuthorizationToken(ctx context.Context, c *call) (any, error) {
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
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
	scheme := requestScheme(c.r)
	return map[string]any{
		"authorizationData": []map[string]any{{
			"authorizationToken": a.o.Auth.Token(keyID, exp),
			"expiresAt":          epoch(exp),
			"proxyEndpoint":      scheme + "://" + a.host(c.r),
		}},
	}, nil
}
