package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func defaultRetry() Retry {
	return Retry{Attempts: 3, Base: 200 * time.Millisecond, Max: 5 * time.Second, BreakerThreshold: 5, BreakerCooldown: 30 * time.Second}
}

func defaultDelivery() Delivery {
	return Delivery{MaxAttempts: 20, BackoffBase: time.Second, BackoffMax: time.Hour, Lease: time.Minute, Poll: time.Second, Batch: 32}
}

func TestParseFiles(t *testing.T) {
	tests := []struct {
		file string
		want *Config
	}{
		{"minimal.yaml", &Config{
			Sinks:    []SinkConfig{{ID: "hook", Type: TypeWebhook, URL: "http://127.0.0.1:9000/hook", SecretEnv: "HOOK_SECRET", Timeout: 10 * time.Second, Retry: defaultRetry()}},
			Delivery: defaultDelivery(),
		}},
		{"full.yaml", &Config{
			Sinks: []SinkConfig{
				{
					ID: "security-hook", Type: TypeWebhook, URL: "https://hooks.example.com/stowaway", SecretEnv: "STOWAWAY_HOOK_SECRET", Timeout: 5 * time.Second,
					Rules: []Rule{
						{RepositoryFilters: []string{"prod*", "payments"}, MinSeverity: "HIGH"},
						{DetailTypes: []string{"ECR Image Scan Findings Change"}},
					},
					Retry: Retry{Attempts: 4, Base: 100 * time.Millisecond, Max: 2 * time.Second, BreakerThreshold: 3, BreakerCooldown: time.Minute},
				},
				{ID: "audit", Type: TypeWebhook, URL: "http://127.0.0.1:9000/hook", SecretFile: "/run/secrets/audit-hook", Timeout: 10 * time.Second, Retry: defaultRetry()},
				{ID: "bus", Type: TypeNATS, URL: "nats://127.0.0.1:4222", SubjectPrefix: "acme.stowaway", Stream: "ACME_STOWAWAY", Retry: defaultRetry()},
			},
			Delivery: Delivery{MaxAttempts: 30, BackoffBase: 2 * time.Second, BackoffMax: 30 * time.Minute, Lease: 2 * time.Minute, Poll: 500 * time.Millisecond, Batch: 64},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Load(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDefaultsNATS(t *testing.T) {
	c, err := Parse(strings.NewReader("sinks: [{id: bus, type: nats, url: 'nats://127.0.0.1:4222'}]"))
	if err != nil {
		t.Fatal(err)
	}
	want := SinkConfig{ID: "bus", Type: TypeNATS, URL: "nats://127.0.0.1:4222", SubjectPrefix: "stowaway.events", Stream: "STOWAWAY_EVENTS", Retry: defaultRetry()}
	if diff := cmp.Diff(want, c.Sinks[0]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	hook := "sinks:\n  - id: h\n    type: webhook\n    url: http://127.0.0.1/x\n    secretEnv: S\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "empty document"},
		{"no sinks", "sinks: []", "sinks: at least one sink"},
		{"unknown top field", "sink: []", "field sink not found"},
		{"unknown sink field", hook + "    secret: hunter2\n", "field secret not found"},
		{"inline secret refused by name", hook + "    secretValue: x\n", "field secretValue not found"},
		{"two documents", hook + "---\n" + hook, "exactly one YAML document"},
		{"not a mapping", "- a\n- b\n", "cannot unmarshal"},
		{"bad id", "sinks: [{id: 'a b', type: webhook, url: 'http://h/x', secretEnv: S}]", `sinks[0].id "a b"`},
		{"empty id", "sinks: [{type: webhook, url: 'http://h/x', secretEnv: S}]", `sinks[0].id ""`},
		{"duplicate id", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S}, {id: a, type: nats, url: 'nats://h:4222'}]", "sinks[1] (id a): duplicate id"},
		{"no type", "sinks: [{id: a, url: 'http://h/x'}]", "type: required"},
		{"bad type", "sinks: [{id: a, type: kafka, url: 'http://h/x'}]", `type "kafka"`},
		{"no url", "sinks: [{id: a, type: webhook, secretEnv: S}]", "url: required"},
		{"bad url", "sinks: [{id: a, type: webhook, url: 'http://[::1', secretEnv: S}]", "url: not a valid URL"},
		{"url scheme", "sinks: [{id: a, type: webhook, url: 'ftp://h/x', secretEnv: S}]", `scheme "ftp": want http or https`},
		{"relative url", "sinks: [{id: a, type: webhook, url: '/hook', secretEnv: S}]", `scheme "": want http or https`},
		{"url credentials", "sinks: [{id: a, type: webhook, url: 'https://u:p@h/x', secretEnv: S}]", "must not carry credentials"},
		{"nats scheme", "sinks: [{id: a, type: nats, url: 'http://h:4222'}]", `scheme "http": want nats or tls`},
		{"no secret", "sinks: [{id: a, type: webhook, url: 'http://h/x'}]", "one of secretEnv or secretFile is required"},
		{"two secrets", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, secretFile: /f}]", "only one of secretEnv and secretFile"},
		{"bad env name", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: 'A-B'}]", `secretEnv "A-B"`},
		{"stream on webhook", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, stream: X}]", "apply only to nats"},
		{"secret on nats", "sinks: [{id: a, type: nats, url: 'nats://h:4222', secretEnv: S}]", "apply only to webhook"},
		{"bad stream", "sinks: [{id: a, type: nats, url: 'nats://h:4222', stream: 'A.B'}]", `stream "A.B"`},
		{"wildcard subject", "sinks: [{id: a, type: nats, url: 'nats://h:4222', subjectPrefix: 'a.*'}]", `subjectPrefix "a.*"`},
		{"empty subject token", "sinks: [{id: a, type: nats, url: 'nats://h:4222', subjectPrefix: 'a..b'}]", `subjectPrefix "a..b"`},
		{"bad severity", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, rules: [{minSeverity: SEVERE}]}]", `sinks[0] (id a): rules[0]: minSeverity "SEVERE"`},
		{"bad filter", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, rules: [{repositoryFilters: ['Prod']}]}]", `rules[0]: repositoryFilters[0]: repository filter "Prod"`},
		{"bad detail type", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, rules: [{detailTypes: ['ECR Scan']}]}]", `detailTypes[0] "ECR Scan"`},
		{"duration as number", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, timeout: 10}]", "cannot unmarshal"},
		{"bad duration", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, timeout: 10 parsecs}]", "cannot unmarshal"},
		{"negative timeout", "sinks: [{id: a, type: webhook, url: 'http://h/x', secretEnv: S, timeout: -1s}]", "timeout -1s"},
		{"retry attempts", hook + "    retry: {attempts: 11}\n", "retry.attempts 11"},
		{"retry max below base", hook + "    retry: {base: 2s, max: 1s}\n", "retry.max 1s: must be at least retry.base 2s"},
		{"delivery attempts", hook + "delivery: {maxAttempts: -1}\n", "delivery.maxAttempts -1"},
		{"delivery lease", hook + "delivery: {lease: 10ms}\n", "delivery.lease 10ms"},
		{"delivery backoff", hook + "delivery: {backoffBase: 1m, backoffMax: 1s}\n", "delivery.backoffMax 1s"},
		{"delivery batch", hook + "delivery: {batch: 5000}\n", "delivery.batch 5000"},
		{"retries exceed lease", hook + "    timeout: 1m\ndelivery: {lease: 1m}\n", "more than 90% of delivery.lease"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseErrorHidesURLSecrets(t *testing.T) {
	_, err := Parse(strings.NewReader("sinks: [{id: a, type: webhook, url: 'https://[::1/x?token=hunter2', secretEnv: S}]"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v: want an error that does not echo the URL", err)
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(strings.NewReader("# " + strings.Repeat("x", maxConfigSize)))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want a size error", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"minimal.yaml", "full.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("sinks: [{id: a, type: nats, url: 'nats://h:4222', subjectPrefix: 'a..b'}]")
	f.Add("sinks: &a [*a]")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse(strings.NewReader(in))
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		// Whatever parses is valid and has its defaults.
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config fails validation: %v", err)
		}
		for _, s := range c.Sinks {
			if s.Retry.Attempts == 0 || (s.Type == TypeNATS && s.Stream == "") {
				t.Fatalf("defaults not applied: %+v", s)
			}
		}
	})
}
