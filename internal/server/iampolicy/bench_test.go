package iampolicy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// bigPolicy is a policy of about MaxTextLength characters: many Allow
// statements with wildcards and conditions, none of which matches the
// benchmark's request, so evaluation visits them all.
func bigPolicy(tb testing.TB) string {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":[`)
	for i := 0; ; i++ {
		st := fmt.Sprintf(`{"Sid":"s%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/u%d"},"Action":["ecr:*a*a*a*a*b","ecr:Batch?et*"],"Condition":{"IpAddress":{"aws:SourceIp":"10.%d.0.0/16"}}},`, i, i, i%256)
		if b.Len()+len(st)+2 > MaxTextLength {
			break
		}
		b.WriteString(st)
	}
	s := strings.TrimSuffix(b.String(), ",") + "]}"
	if _, err := Parse(RepositoryPolicy, s, Options{}); err != nil {
		tb.Fatal(err)
	}
	return s
}

func BenchmarkParseMaxSize(b *testing.B) {
	text := bigPolicy(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(RepositoryPolicy, text, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluateMaxSize(b *testing.B) {
	p, _ := Parse(RepositoryPolicy, bigPolicy(b), Options{})
	b.ReportMetric(float64(len(p.Statements)), "statements")
	req := Request{Principal: "arn:aws:iam::123456789012:user/u1", Action: "ecr:" + strings.Repeat("a", 40), Repository: "team/app", SourceIP: netip.MustParseAddr("192.0.2.1")}
	for b.Loop() {
		if p.Evaluate(req) != NoMatch {
			b.Fatal("matched")
		}
	}
}
