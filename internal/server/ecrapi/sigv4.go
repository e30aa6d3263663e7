package ecrapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// sigv4 holds a parsed AWS Signature Version 4 Authorization header.
type sigv4 struct {
	KeyID         string
	Date          string // yyyymmdd
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

const sigv4Algorithm = "AWS4-HMAC-SHA256"

// maxSkew is how far the request time may be from ours.
const maxSkew = 5 * time.Minute

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/20150830/
// us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex".
func parseAuthorization(h string) (sigv4, error) {
	var s sigv4
	algo, rest, ok := strings.Cut(h, " ")
	if !ok || algo != sigv4Algorithm {
		return s, fmt.Errorf("authorization header is not %s", sigv4Algorithm)
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return s, fmt.Errorf("malformed authorization component %q", part)
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return s, fmt.Errorf("malformed credential scope")
			}
			s.KeyID, s.Date, s.Region, s.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			s.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			s.Signature = v
		}
	}
	if s.KeyID == "" || len(s.SignedHeaders) == 0 || s.Signature == "" {
		return s, fmt.Errorf("authorization header lacks Credential, SignedHeaders or Signature")
	}
	return s, nil
}

// uriEncode percent-encodes everything but RFC 3986 unreserved characters
// (and '/' when keepSlash).
func uriEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k, false)+"="+uriEncode(v, false))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func canonicalHeaderValue(vs []string) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalRequest builds the SigV4 canonical request. Non-S3 services
// encode the (already escaped) path once more.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	var hdrs strings.Builder
	for _, h := range signed {
		var v string
		if h == "host" {
			v = r.Host
		} else {
			v = canonicalHeaderValue(r.Header.Values(h))
		}
		hdrs.WriteString(h + ":" + v + "\n")
	}
	return strings.Join([]string{
		r.Method,
		uriEncode(path, true),
		canonicalQuery(r.URL.Query()),
		hdrs.String(),
		strings.Join(signed, ";"),
		payloadHash,
	}, "\n")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signature computes the SigV4 signature of a canonical request.
func signature(secret, amzDate, date, region, service, canonical string) string {
	scope := date + "/" + region + "/" + service + "/aws4_request"
	toSign := sigv4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

// verifySigV4 checks r (whose body has been read into body) and returns the
// access key id. lookup returns a key's secret.
// sigV4Key checks what can be checked of a request's signature before its
// body is read: the Authorization header is present and well formed and
// names a configured access key. It returns the parsed header and the key's
// secret.
func sigV4Key(r *http.Request, lookup func(string) (string, bool)) (sigv4, string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return sigv4{}, "", apiErr("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	s, err := parseAuthorization(h)
	if err != nil {
		return sigv4{}, "", apiErr("IncompleteSignatureException", err.Error())
	}
	secret, ok := lookup(s.KeyID)
	if !ok {
		return sigv4{}, "", apiErr("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	return s, secret, nil
}

func verifySigV4(r *http.Request, body []byte, lookup func(string) (string, bool), now time.Time, region, service string) (string, error) {
	s, secret, err := sigV4Key(r, lookup)
	if err != nil {
		return "", err
	}
	if s.Service != service {
		return "", apiErr("InvalidSignatureException", fmt.Sprintf("Credential should be scoped to correct service: '%s'.", service))
	}
	if region != "" && s.Region != region {
		return "", apiErr("InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", s.Region))
	}
	signedHost := false
	for i, hn := range s.SignedHeaders {
		if hn != strings.ToLower(hn) || (i > 0 && s.SignedHeaders[i-1] >= hn) {
			return "", apiErr("InvalidSignatureException", "SignedHeaders must be lower-case and sorted")
		}
		if hn == "host" {
			signedHost = true
		}
	}
	if !signedHost {
		return "", apiErr("InvalidSignatureException", "The host header must be signed")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return "", apiErr("IncompleteSignatureException", "X-Amz-Date header is missing or malformed")
	}
	if !strings.HasPrefix(amzDate, s.Date) {
		return "", apiErr("InvalidSignatureException", "Credential scope date does not match X-Amz-Date")
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return "", apiErr("InvalidSignatureException", fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			amzDate, now.Add(-maxSkew).UTC().Format("20060102T150405Z"), now.UTC().Format("20060102T150405Z")))
	}
	payloadHash := hexSHA256(body)
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return "", apiErr("InvalidSignatureException", "X-Amz-Content-Sha256 does not match the request body")
	}
	want := signature(secret, amzDate, s.Date, s.Region, s.Service, canonicalRequest(r, s.SignedHeaders, payloadHash))
	if !hmac.Equal([]byte(want), []byte(s.Signature)) {
		return "", apiErr("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return s.KeyID, nil
}
