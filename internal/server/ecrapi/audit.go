package ecrapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/server/audit"
	"github.com/stowaway-scanner/stowaway/internal/server/auth"
)

// audited are the operations that change state: each success is one audit
// record (one per deleted image for BatchDeleteImage). PutImage is not
// here: it is a manifest PUT through the registry, which records it, as it
// records a client's push. The policy operations are listed so they are
// audited from the day they are served.
var audited = map[string]bool{
	"CreateRepository":                 true,
	"DeleteRepository":                 true,
	"BatchDeleteImage":                 true,
	"PutImageScanningConfiguration":    true,
	"PutRegistryScanningConfiguration": true,
	"PutLifecyclePolicy":               true,
	"DeleteLifecyclePolicy":            true,
	"PutImageTagMutability":            true,
	"TagResource":                      true,
	"UntagResource":                    true,
	"PutAccountSetting":                true,
	"CreateRepositoryCreationTemplate": true,
	"UpdateRepositoryCreationTemplate": true,
	"DeleteRepositoryCreationTemplate": true,
	"SetRepositoryPolicy":              true,
	"DeleteRepositoryPolicy":           true,
	"PutRegistryPolicy":                true,
	"DeleteRegistryPolicy":             true,
	"PutReplicationConfiguration":      true,
	"CreatePullThroughCacheRule":       true,
	"UpdatePullThroughCacheRule":       true,
	"DeletePullThroughCacheRule":       true,
}

// recordChange writes the audit records of a successful operation.
func (a *API) recordChange(ctx context.Context, op string, c *call, out any) {
	if !audited[op] || a.o.Audit == nil {
		return
	}
	var in struct {
		RepositoryName string `json:"repositoryName"`
		ResourceArn    string `json:"resourceArn"`
		ImageTag       string `json:"imageTag"`
		ImageDigest    string `json:"imageDigest"`
		Prefix         string `json:"ecrRepositoryPrefix"`
	}
	_ = json.Unmarshal(c.body, &in)
	repo := in.RepositoryName
	if repo == "" && in.ResourceArn != "" {
		// arn:aws:ecr:REGION:ACCOUNT:repository/NAME
		if _, name, ok := strings.Cut(in.ResourceArn, ":repository/"); ok {
			repo = name
		}
	}
	rec := audit.Record{Principal: c.p.Name, Action: "ecr:" + op, Repository: repo, Tag: in.ImageTag, Digest: in.ImageDigest}
	if in.Prefix != "" {
		rec.Reason = "pull-through cache rule " + in.Prefix
	}
	if op == "BatchDeleteImage" {
		raw, _ := json.Marshal(out)
		var res struct {
			ImageIDs []imageID `json:"imageIds"`
		}
		_ = json.Unmarshal(raw, &res)
		for _, id := range res.ImageIDs {
			r := rec
			r.Digest, r.Tag, r.Reason = id.ImageDigest, id.ImageTag, "image deleted"
			if id.ImageTag != "" {
				r.Reason = "tag deleted"
			}
			a.o.Audit.Record(ctx, r)
		}
		return
	}
	a.o.Audit.Record(ctx, rec)
}

// authenticateThrottled verifies SigV4 under the authenticator's throttle
// (per access key id and source address). A failure with credentials is
// logged and audited (the key id, never the signature); while the caller is
// blocked the answer is ThrottlingException.
func (a *API) authenticateThrottled(r *http.Request, op string, body []byte) (*auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		_, err := verifySigV4(r, body, a.o.Auth.AccessKeySecret, a.o.Now(), a.o.Region, "ecr")
		return nil, err
	}
	var keyID string
	if s, err := parseAuthorization(h); err == nil {
		keyID = s.KeyID
	}
	p, err := a.o.Auth.Guard(keyID, audit.SourceAddr(r), func() (*auth.Principal, error) {
		id, err := verifySigV4(r, body, a.o.Auth.AccessKeySecret, a.o.Now(), a.o.Region, "ecr")
		if err != nil {
			return nil, err
		}
		p := a.o.Auth.AccessKeyPrincipal(id)
		if p == nil {
			// The key went in a reload between the signature check and now.
			return nil, apiErr("UnrecognizedClientException", "The security token included in the request is invalid.")
		}
		return p, nil
	})
	var f *auth.Failure
	if err == nil || !errors.As(err, &f) {
		return p, err
	}
	if f.Logged() {
		a.o.Logger.Warn("ecrapi: authentication failed", "accessKeyId", f.User, "source", f.Addr, "operation", clipName(op), "refused", f.Refused, "reason", f.Error())
		a.o.Audit.Check(r.Context(), f.User, "ecr:"+op, "", false, "authentication failed: "+f.Error())
	}
	if errors.Is(err, auth.ErrThrottled) {
		return nil, apiErr("ThrottlingException", "Too many failed authentication attempts; retry after %d seconds.", int(f.RetryAfter.Seconds()+0.999))
	}
	return nil, f.Err
}
