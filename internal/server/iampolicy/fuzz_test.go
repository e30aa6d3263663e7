package iampolicy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no text crashes Parse, a refusal is always a ValidationError,
// and an accepted policy answers any request with one of the three effects.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), false)
		f.Add(string(b), true)
	}
	f.Add(stmt(allowAll+`,"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]}}`), false)
	f.Add(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["123456789012"]},"NotAction":"ecr:*"}}`, false)
	f.Fuzz(func(t *testing.T, text string, registry bool) {
		kind := RepositoryPolicy
		if registry {
			kind = RegistryPolicy
		}
		p, err := Parse(kind, text, opts)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v (%T) is no ValidationError", err, err)
			}
			return
		}
		if len(p.Statements) == 0 || len(p.Statements) > MaxStatements {
			t.Fatalf("%d statements accepted", len(p.Statements))
		}
		for _, req := range []Request{
			{Principal: alice, Action: "ecr:PutImage", Repository: "team/app", SourceIP: netip.MustParseAddr("10.1.2.3")},
			{Action: "ecr:BatchGetImage"},
		} {
			if e := p.Evaluate(req); e != NoMatch && e != Allow && e != Deny {
				t.Fatalf("effect %d", e)
			}
		}
	})
}
