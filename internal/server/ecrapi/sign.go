package ecrapi

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// SignRequest signs r (whose body is body) with SigV4 for service "ecr", as
// the AWS SDKs do: it sets X-Amz-Date and Authorization, signing host,
// x-amz-date and every X-Amz-* and Content-Type header present. It is used by
// tests and Go clients of the API.
func SignRequest(r *http.Request, body []byte, keyID, secret, region string, now time.Time) {
	amzDate := now.UTC().Format("20060102T150405Z")
	r.Header.Set("X-Amz-Date", amzDate)
	signed := []string{"host"}
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") || lk == "content-type" {
			signed = append(signed, lk)
		}
	}
	sort.Strings(signed)
	date := amzDate[:8]
	sig := signature(secret, amzDate, date, region, "ecr", canonicalRequest(r, signed, hexSHA256(body)))
	r.Header.Set("Authorization", sigv4Algorithm+" Credential="+keyID+"/"+date+"/"+region+"/ecr/aws4_request, SignedHeaders="+
		strings.Join(signed, ";")+", Signature="+sig)
}
