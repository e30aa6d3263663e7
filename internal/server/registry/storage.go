package registry

// Blob storage: where the registry keeps blobs, manifests, tags, referrer
// artifacts and upload sessions. It is one of distribution's own storage
// drivers, named in storageDrivers: the local filesystem (the default,
// under Options.Dir) or S3-compatible object storage (serve --storage
// s3://BUCKET?..., or --storage-config FILE with distribution's storage
// section). The server never touches blob storage but through the driver:
// distribution's handlers, the in-process image reads and pushes, garbage
// collection, lifecycle deletes and the upload purge all go through it.
//
// S3 credentials are never part of the URL: the driver takes them from the
// standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
// AWS_SESSION_TOKEN, the shared credentials file with AWS_PROFILE, web
// identity, the instance role). A URL naming access keys is refused.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	// distribution's drivers register themselves in its factory from
	// their init functions; storageDrivers is the list serve accepts.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
	"gopkg.in/yaml.v3"
)

// Storage names the blob storage: one of distribution's drivers and its
// parameters (those of distribution's configuration storage section).
type Storage struct {
	// Driver is "filesystem" or "s3" ("" = the filesystem under
	// Options.Dir).
	Driver string
	// Params are the driver's parameters (rootdirectory; bucket, region,
	// regionendpoint, forcepathstyle, ...).
	Params map[string]any
	// Redirect answers blob GETs with a redirect to the driver's own URL
	// (a presigned S3 URL) instead of streaming the blob through serve:
	// clients must then reach the object store themselves. Off by default.
	Redirect bool
}

// storageDrivers are the drivers serve accepts, by the name of their
// section in distribution's configuration, with the factory name each is
// created by.
var storageDrivers = map[string]string{
	"filesystem": "filesystem",
	"s3":         "s3aws",
	"s3aws":      "s3aws",
}

// IsObjectStore says whether blobs live outside the local filesystem.
func (s Storage) IsObjectStore() bool { return s.Driver != "" && s.Driver != "filesystem" }

// String describes the storage for logs and errors, without credentials.
func (s Storage) String() string {
	str := func(k string) string {
		if v, ok := s.Params[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	switch storageDrivers[s.Driver] {
	case "":
		return "filesystem"
	case "filesystem":
		return "filesystem at " + str("rootdirectory")
	}
	d := "s3 bucket " + str("bucket")
	if p := str("rootdirectory"); p != "" {
		d += " under " + p
	}
	if e := str("regionendpoint"); e != "" {
		d += " at " + e
	}
	if r := str("region"); r != "" {
		d += " (region " + r + ")"
	}
	return d
}

// s3URLParams maps the query parameters of an s3:// URL to the driver's
// parameters; each is checked as the driver would, so that a typo fails at
// start naming the parameter.
var s3URLParams = map[string]struct {
	param string
	kind  string // "string", "bool", "int", "url"
}{
	"region":         {"region", "string"},
	"endpoint":       {"regionendpoint", "url"},
	"forcepathstyle": {"forcepathstyle", "bool"},
	"storageclass":   {"storageclass", "string"},
	"encrypt":        {"encrypt", "bool"},
	"keyid":          {"keyid", "string"},
	"skipverify":     {"skipverify", "bool"},
	"chunksize":      {"chunksize", "int"},
	"objectacl":      {"objectacl", "string"},
	"usedualstack":   {"usedualstack", "bool"},
	"accelerate":     {"accelerate", "bool"},
	"v4auth":         {"v4auth", "bool"},
	"redirect":       {"", "bool"},
}

// credentialKeys are parameters that would carry a credential.
var credentialKeys = []string{"accesskey", "secretkey", "sessiontoken", "accesskeyid", "secretaccesskey", "access_key", "secret_key", "aws_access_key_id", "aws_secret_access_key"}

// credentialsHint says where S3 credentials come from instead.
const credentialsHint = "S3 credentials come from the standard AWS environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), web identity or the instance role, never from a flag"

var (
	bucketRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$`)
	prefixRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
)

// ParseStorageURL reads serve's --storage value:
// s3://BUCKET[/PREFIX]?region=R&endpoint=URL&forcepathstyle=true (and the
// other query parameters of s3URLParams). getenv supplies the region when
// the URL has none (AWS_REGION, then AWS_DEFAULT_REGION); with an endpoint
// and no region anywhere the region is us-east-1 (what S3-compatible
// servers expect in the signature).
func ParseStorageURL(raw string, getenv func(string) string) (Storage, error) {
	fail := func(format string, a ...any) (Storage, error) {
		return Storage{}, fmt.Errorf("--storage: "+format, a...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole URL in its error; it may hold a
		// secret, so name the problem only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail("not a URL (%v): want s3://BUCKET?region=...&endpoint=...", err)
	}
	if u.Scheme != "s3" {
		return fail("scheme %q: want s3://BUCKET?region=...&endpoint=...; for another driver use --storage-config", u.Scheme)
	}
	if u.User != nil {
		return fail("the URL names credentials (user info before the bucket): %s", credentialsHint)
	}
	if u.Opaque != "" {
		return fail("want s3://BUCKET?region=...&endpoint=...")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fail("query: %v", err)
	}
	// One fixed order for every check below, so that the same URL always
	// gets the same error.
	keys := slices.Sorted(maps.Keys(q))
	for _, k := range keys {
		if slices.Contains(credentialKeys, strings.ToLower(k)) {
			return fail("the URL names credentials (%s=): %s", k, credentialsHint)
		}
	}
	if !bucketRE.MatchString(u.Host) {
		return fail("bucket %q: want a bucket name (letters, digits, '.', '-', '_'; 2 to 255 characters)", u.Host)
	}
	params := map[string]any{"bucket": u.Host}
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		if !prefixRE.MatchString(p) {
			return fail("prefix %q: want /NAME[/NAME...] of letters, digits, '.', '-', '_'", u.Path)
		}
		params["rootdirectory"] = p
	}
	st := Storage{Driver: "s3", Params: params}
	for _, k := range keys {
		vs := q[k]
		spec, ok := s3URLParams[k]
		if !ok {
			known := make([]string, 0, len(s3URLParams))
			for n := range s3URLParams {
				known = append(known, n)
			}
			sort.Strings(known)
			return fail("unknown parameter %q: want one of %s", k, strings.Join(known, ", "))
		}
		if len(vs) != 1 {
			return fail("parameter %s given %d times", k, len(vs))
		}
		v := vs[0]
		var val any = v
		switch spec.kind {
		case "bool":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fail("%s=%q: want true or false", k, v)
			}
			val = b
		case "int":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return fail("%s=%q: want a positive number of bytes", k, v)
			}
			val = n
		case "url":
			e, err := url.Parse(v)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return fail("%s=%q: want http://HOST[:PORT] or https://HOST[:PORT]", k, v)
			}
			if e.User != nil {
				return fail("%s names credentials: %s", k, credentialsHint)
			}
			if e.Scheme == "http" {
				params["secure"] = false
			}
		case "string":
			if v == "" {
				return fail("%s is empty", k)
			}
		}
		if k == "redirect" {
			st.Redirect = val.(bool)
			continue
		}
		params[spec.param] = val
	}
	if _, ok := params["region"]; !ok {
		region := ""
		if getenv != nil {
			region = getenv("AWS_REGION")
			if region == "" {
				region = getenv("AWS_DEFAULT_REGION")
			}
		}
		if region == "" {
			if _, custom := params["regionendpoint"]; !custom {
				return fail("no region: add region=... to the URL or set AWS_REGION (AWS S3 needs one; an S3-compatible server is named with endpoint=...)")
			}
			region = "us-east-1"
		}
		params["region"] = region
	}
	return st, nil
}

// maxStorageConfig bounds a --storage-config file.
const maxStorageConfig = 1 << 20

// LoadStorageConfig reads serve's --storage-config FILE: distribution's
// storage section (with or without the enclosing "storage:" key) naming one
// driver of storageDrivers and its parameters, and optionally
// "redirect: {disable: BOOL}" (default: disabled, as with --storage).
// serve owns the rest of distribution's section (deletes are always on,
// upload purging is --upload-purge-age), so other keys are refused.
func LoadStorageConfig(file string) (Storage, error) {
	f, err := os.Open(file)
	if err != nil {
		return Storage{}, fmt.Errorf("--storage-config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStorageConfig+1))
	if err != nil {
		return Storage{}, fmt.Errorf("--storage-config %s: %w", file, err)
	}
	if len(b) > maxStorageConfig {
		return Storage{}, fmt.Errorf("--storage-config %s: larger than %d bytes", file, maxStorageConfig)
	}
	st, err := ParseStorageConfig(b)
	if err != nil {
		return Storage{}, fmt.Errorf("--storage-config %s: %w", file, err)
	}
	return st, nil
}

// ParseStorageConfig parses the content of a --storage-config file.
func ParseStorageConfig(b []byte) (Storage, error) {
	var doc map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Storage{}, errors.New("empty: want distribution's storage section, e.g. s3: {bucket: ..., region: ...}")
		}
		return Storage{}, fmt.Errorf("not YAML: %w", err)
	}
	if s, ok := doc["storage"]; ok && len(doc) == 1 {
		m, ok := s.(map[string]any)
		if !ok {
			return Storage{}, errors.New("storage: want a mapping")
		}
		doc = m
	}
	var st Storage
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := doc[k]
		switch {
		case k == "redirect":
			m, ok := v.(map[string]any)
			if !ok {
				return Storage{}, errors.New("redirect: want a mapping with disable: true or false")
			}
			for rk, rv := range m {
				b, ok := rv.(bool)
				if rk != "disable" || !ok {
					return Storage{}, fmt.Errorf("redirect: %s: want only disable: true or false", rk)
				}
				st.Redirect = !b
			}
		case storageDrivers[k] != "":
			if st.Driver != "" {
				return Storage{}, fmt.Errorf("two drivers (%s and %s): want one", st.Driver, k)
			}
			params := map[string]any{}
			if v != nil {
				m, ok := v.(map[string]any)
				if !ok {
					return Storage{}, fmt.Errorf("%s: want a mapping of the driver's parameters", k)
				}
				for pk, pv := range m {
					params[strings.ToLower(pk)] = pv
				}
			}
			st.Driver, st.Params = k, params
		case k == "delete" || k == "maintenance" || k == "cache" || k == "tag":
			return Storage{}, fmt.Errorf("%s: serve manages it (deletes are always enabled; interrupted uploads are purged after --upload-purge-age): remove it", k)
		default:
			return Storage{}, fmt.Errorf("unknown key %q: want one driver (filesystem or s3) and optionally redirect", k)
		}
	}
	if st.Driver == "" {
		return Storage{}, errors.New("no driver: want a filesystem or s3 section")
	}
	if st.Driver == "s3aws" {
		st.Driver = "s3"
	}
	switch st.Driver {
	case "filesystem":
		root, ok := st.Params["rootdirectory"].(string)
		if !ok || root == "" {
			return Storage{}, errors.New("filesystem: rootdirectory is required")
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			return Storage{}, fmt.Errorf("filesystem: rootdirectory: %w", err)
		}
		st.Params["rootdirectory"] = abs
	case "s3":
		if b, _ := st.Params["bucket"].(string); b == "" {
			return Storage{}, errors.New("s3: bucket is required")
		}
	}
	return st, nil
}

// probeTimeout bounds the start-up check of the storage.
const probeTimeout = 30 * time.Second

// openDriver creates the storage's driver and checks that it answers: a
// missing bucket, refused credentials or an unreachable endpoint fail at
// start, naming the storage, not at the first push.
func openDriver(ctx context.Context, st Storage) (storagedriver.StorageDriver, error) {
	name := storageDrivers[st.Driver]
	if name == "" {
		return nil, fmt.Errorf("registry: storage driver %q: want filesystem or s3", st.Driver)
	}
	drv, err := factory.Create(ctx, name, st.Params)
	if err != nil {
		return nil, fmt.Errorf("registry: storage %s: %w", st, err)
	}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if _, err := drv.Stat(pctx, "/docker/registry/v2"); err != nil && !isPathNotFound(err) {
		return nil, fmt.Errorf("registry: storage %s does not answer: %w", st, err)
	}
	return drv, nil
}
