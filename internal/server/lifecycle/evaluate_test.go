package lifecycle

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return t0.Add(-time.Duration(d * float64(24*time.Hour))) }

func img(name string, pushed time.Time, tags ...string) Image {
	return Image{Digest: "sha256:" + name, Tags: tags, PushedAt: pushed}
}

// TestEvaluateECRExamples encodes every worked example of ECR's "Examples of
// lifecycle policies" (awsdocs/amazon-ecr-user-guide,
// doc_source/lifecycle_policy_examples.md) plus the two single-rule ones.
func TestEvaluateECRExamples(t *testing.T) {
	tests := []struct {
		name   string
		rules  []string
		images []Image
		want   map[string]int // image → applied rule priority
	}{
		{
			name:  "filtering on image age: untagged older than 14 days",
			rules: []string{rule("1", `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14}`)},
			images: []Image{
				img("old", daysAgo(15)), img("new", daysAgo(13)), img("tagged-old", daysAgo(30), "v1"),
			},
			want: map[string]int{"old": 1},
		},
		{
			name:  "filtering on image count: keep one untagged",
			rules: []string{rule("1", untaggedKeep1)},
			images: []Image{
				img("u1", daysAgo(3)), img("u2", daysAgo(2)), img("u3", daysAgo(1)), img("t", daysAgo(5), "x"),
			},
			want: map[string]int{"u1": 1, "u2": 1},
		},
		{
			name: "multiple rules, example A: prod then beta",
			rules: []string{
				rule("1", `{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1}`),
				rule("2", `{"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1}`),
			},
			images: []Image{
				img("A", daysAgo(10), "beta-1", "prod-1"), img("B", daysAgo(9), "beta-2", "prod-2"), img("C", daysAgo(8), "beta-3"),
			},
			want: map[string]int{"A": 1},
		},
		{
			name: "multiple rules, example B: beta then prod",
			rules: []string{
				rule("1", `{"tagStatus":"tagged","tagPrefixList":["beta"],"countType":"imageCountMoreThan","countNumber":1}`),
				rule("2", `{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1}`),
			},
			images: []Image{
				img("A", daysAgo(10), "beta-1", "prod-1"), img("B", daysAgo(9), "beta-2", "prod-2"), img("C", daysAgo(8), "beta-3"),
			},
			want: map[string]int{"A": 1, "B": 1},
		},
		{
			name:  "multiple tags in a single rule, example A: all prefixes must match",
			rules: []string{rule("1", `{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"sinceImagePushed","countNumber":5,"countUnit":"days"}`)},
			images: []Image{
				img("A", daysAgo(12), "alpha-1"), img("B", daysAgo(11), "beta-1"), img("C", daysAgo(10), "alpha-2", "beta-2"),
				img("D", daysAgo(4), "alpha-3"), img("E", daysAgo(3), "beta-3"), img("F", daysAgo(2), "alpha-4", "beta-4"),
			},
			want: map[string]int{"C": 1},
		},
		{
			name:  "multiple tags in a single rule, example B: tags are not exclusive",
			rules: []string{rule("1", `{"tagStatus":"tagged","tagPrefixList":["alpha","beta"],"countType":"imageCountMoreThan","countNumber":1}`)},
			images: []Image{
				img("A", daysAgo(10), "alpha-1", "beta-1", "gamma-1"), img("B", daysAgo(9), "alpha-2", "beta-2"), img("C", daysAgo(8), "alpha-3", "beta-3", "gamma-2"),
			},
			want: map[string]int{"A": 1, "B": 1},
		},
		{
			name:  "all images, example A: any keeps one",
			rules: []string{rule("1", anyKeep1)},
			images: []Image{
				img("A", daysAgo(4), "alpha-1"), img("B", daysAgo(3), "beta-1"), img("C", daysAgo(2)), img("D", daysAgo(1), "alpha-2"),
			},
			want: map[string]int{"A": 1, "B": 1, "C": 1},
		},
		{
			name: "all images, example B: all rule types combined",
			rules: []string{
				rule("1", `{"tagStatus":"tagged","tagPrefixList":["alpha"],"countType":"imageCountMoreThan","countNumber":1}`),
				rule("2", `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1}`),
				rule("3", anyKeep1),
			},
			// D and E were both pushed "1 day ago"; E is the newer of the
			// two (the example keeps it), and is not older than one day.
			images: []Image{
				img("A", daysAgo(4), "alpha-1", "beta-1"), img("B", daysAgo(3)), img("C", daysAgo(2), "alpha-2"),
				img("D", daysAgo(1).Add(-time.Minute), "git hash"), img("E", daysAgo(1).Add(time.Minute)),
			},
			want: map[string]int{"A": 1, "B": 2, "D": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(policy(tt.rules...)))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, e := range p.Evaluate(tt.images, t0) {
				got[strings.TrimPrefix(e.Image.Digest, "sha256:")] = e.RulePriority
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("expired (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateDetails(t *testing.T) {
	tests := []struct {
		name   string
		rules  []string
		images []Image
		want   []string // expired, oldest first
	}{
		{
			name:  "patterns match the whole tag",
			rules: []string{rule("1", `{"tagStatus":"tagged","tagPatternList":["v*-rc"],"countType":"sinceImagePushed","countUnit":"days","countNumber":1}`)},
			images: []Image{
				img("rc", daysAgo(3), "v1-rc"), img("rcx", daysAgo(3), "v1-rc2"), img("other", daysAgo(3), "v1", "x-v1-rc"),
			},
			want: []string{"rc"},
		},
		{
			name:  "exactly countNumber days old is not older",
			rules: []string{rule("1", `{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":2}`)},
			images: []Image{
				img("edge", daysAgo(2)), img("older", daysAgo(2).Add(-time.Millisecond)),
			},
			want: []string{"older"},
		},
		{
			name:  "push-time ties are broken by digest, deterministically",
			rules: []string{rule("1", untaggedKeep1)},
			images: []Image{
				img("b", daysAgo(1)), img("a", daysAgo(1)), img("c", daysAgo(1)),
			},
			want: []string{"a", "b"},
		},
		{
			name:  "sinceImagePulled counts from the last pull, or the push when never pulled",
			rules: []string{rule("1", `{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":7}`)},
			images: []Image{
				{Digest: "sha256:pulled-recently", PushedAt: daysAgo(30), LastPulledAt: daysAgo(1)},
				{Digest: "sha256:pulled-long-ago", PushedAt: daysAgo(30), LastPulledAt: daysAgo(10)},
				{Digest: "sha256:never-pulled-old", PushedAt: daysAgo(8)},
				{Digest: "sha256:never-pulled-new", PushedAt: daysAgo(2)},
			},
			want: []string{"pulled-long-ago", "never-pulled-old"},
		},
		{
			name: "an image matched by an earlier rule is never expired by a later one",
			rules: []string{
				rule("1", `{"tagStatus":"tagged","tagPrefixList":["keep"],"countType":"imageCountMoreThan","countNumber":100}`),
				rule("2", anyKeep1),
			},
			images: []Image{
				img("k1", daysAgo(5), "keep-1"), img("u", daysAgo(4)), img("k2", daysAgo(3), "keep-2"), img("n", daysAgo(1), "new"),
			},
			want: []string{"u"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(policy(tt.rules...)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range p.Evaluate(tt.images, t0) {
				got = append(got, strings.TrimPrefix(e.Image.Digest, "sha256:"))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("expired (-want +got):\n%s", diff)
			}
		})
	}
}
