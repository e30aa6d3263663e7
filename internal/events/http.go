package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhook headers.
const (
	HeaderEventID   = "X-Stowaway-Event-Id"
	HeaderSignature = "X-Stowaway-Signature"
	HeaderTimestamp = "X-Stowaway-Timestamp"
)

// maxResponseDrain bounds how much of a webhook's answer is read.
const maxResponseDrain = 64 << 10

// HTTPSink POSTs each event as JSON to a webhook URL, signed with
// X-Stowaway-Signature: sha256=<hex HMAC-SHA256 of the body keyed by Secret>.
// X-Stowaway-Timestamp carries the send time in Unix seconds.
type HTTPSink struct {
	URL    string
	Secret []byte
	// Client defaults to a client with Timeout.
	Client *http.Client
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Write delivers ev. 2xx is success; 4xx other than 408 and 429 is a
// Permanent error; anything else is a retryable error.
func (s *HTTPSink) Write(ctx context.Context, ev Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return Permanent(fmt.Errorf("webhook: encode event %s: %w", ev.ID, err))
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("webhook: build request: %w", err))
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now().Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(s.Secret, body))
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		// net/http quotes the whole URL, query tokens included; the
		// error is logged and stored in the outbox, so keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook: post event %s: %w", ev.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseDrain))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return Permanent(fmt.Errorf("webhook: event %s: %s", ev.ID, resp.Status))
	default:
		return fmt.Errorf("webhook: event %s: %s", ev.ID, resp.Status)
	}
}

// Sign returns the X-Stowaway-Signature value for body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors returned by VerifySignature.
var (
	ErrSignatureFormat   = errors.New("signature: want sha256=<64 hex digits>")
	ErrSignatureMismatch = errors.New("signature: does not match body")
)

// VerifySignature checks an X-Stowaway-Signature header against body, in
// constant time. It is what a webhook receiver should call.
func VerifySignature(secret, body []byte, header string) error {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return ErrSignatureFormat
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignatureFormat, err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrSignatureMismatch
	}
	return nil
}
