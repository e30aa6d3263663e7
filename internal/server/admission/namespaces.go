package admission

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// The in-cluster service account files.
const (
	DefaultTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	DefaultCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// maxCachedNamespaces bounds the label cache; past it the cache is reset.
const maxCachedNamespaces = 10000

// KubeNamespaces reads namespace labels from the Kubernetes API
// (GET /api/v1/namespaces/{name}) with the service account's bearer token,
// and caches them for a short TTL. It needs RBAC "get" on namespaces.
type KubeNamespaces struct {
	base      string
	tokenFile string
	client    *http.Client
	ttl       time.Duration
	now       func() time.Time

	mu    sync.Mutex
	cache map[string]cachedLabels
}

type cachedLabels struct {
	labels  map[string]string
	fetched time.Time
}

// NewKubeNamespaces builds the client. An empty APIServer comes from
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (read with getenv,
// default os.Getenv); empty file paths are the in-cluster ones.
func NewKubeNamespaces(cfg NamespaceLookup, getenv func(string) string, now func() time.Time) (*KubeNamespaces, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if now == nil {
		now = time.Now
	}
	base := cfg.APIServer
	if base == "" {
		host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("namespace lookup: namespaceLabels.apiServer is empty and KUBERNETES_SERVICE_HOST/PORT are not set (not in a cluster?)")
		}
		base = "https://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("namespace lookup: apiServer %q: want https://host[:port]", base)
	}
	caFile := cfg.CAFile
	if caFile == "" {
		caFile = DefaultCAFile
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("namespace lookup: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("namespace lookup: CA %s: no PEM certificates", caFile)
	}
	tokenFile := cfg.TokenFile
	if tokenFile == "" {
		tokenFile = DefaultTokenFile
	}
	if _, err := os.Stat(tokenFile); err != nil {
		return nil, fmt.Errorf("namespace lookup: token: %w", err)
	}
	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	return &KubeNamespaces{
		base:      strings.TrimSuffix(base, "/"),
		tokenFile: tokenFile,
		client: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
		ttl:   ttl,
		now:   now,
		cache: map[string]cachedLabels{},
	}, nil
}

// NamespaceLabels returns the namespace's labels, from the cache when they
// are younger than the TTL.
func (k *KubeNamespaces) NamespaceLabels(ctx context.Context, name string) (map[string]string, error) {
	now := k.now()
	k.mu.Lock()
	c, ok := k.cache[name]
	k.mu.Unlock()
	if ok && now.Sub(c.fetched) < k.ttl {
		return c.labels, nil
	}
	labels, err := k.fetch(ctx, name)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if len(k.cache) >= maxCachedNamespaces {
		k.cache = map[string]cachedLabels{}
	}
	k.cache[name] = cachedLabels{labels: labels, fetched: now}
	k.mu.Unlock()
	return labels, nil
}

func (k *KubeNamespaces) fetch(ctx context.Context, name string) (map[string]string, error) {
	// The token is re-read every time: projected service account tokens
	// are rotated by the kubelet.
	tok, err := os.ReadFile(k.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("read token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.base+"/api/v1/namespaces/"+url.PathEscape(name), nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get namespace: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read namespace: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get namespace: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	var ns struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &ns); err != nil {
		return nil, fmt.Errorf("decode namespace: %w", err)
	}
	if ns.Kind != "Namespace" || ns.Metadata.Name != name {
		return nil, fmt.Errorf("decode namespace: got kind %q name %q, want Namespace %q", ns.Kind, ns.Metadata.Name, name)
	}
	if ns.Metadata.Labels == nil {
		ns.Metadata.Labels = map[string]string{}
	}
	return ns.Metadata.Labels, nil
}
