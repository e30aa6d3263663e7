package ecrapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// botocoreModel is the part of botocore's ECR service model the tests use.
type botocoreModel struct {
	path       string
	Operations map[string]struct {
		Output *struct {
			Shape string `json:"shape"`
		} `json:"output"`
		Errors []struct {
			Shape string `json:"shape"`
		} `json:"errors"`
	} `json:"operations"`
	Shapes map[string]modelShape `json:"shapes"`
}

type modelShape struct {
	Type    string `json:"type"`
	Members map[string]struct {
		Shape    string `json:"shape"`
		JSONName string `json:"jsonName"`
	} `json:"members"`
	Member *struct {
		Shape string `json:"shape"`
	} `json:"member"`
	Key *struct {
		Shape string `json:"shape"`
	} `json:"key"`
	Value *struct {
		Shape string `json:"shape"`
	} `json:"value"`
	Enum []string `json:"enum"`
}

// modelGlobs are where botocore's ECR model is installed: Debian's
// python3-botocore and awscli, pip installs, pyenv versions.
func modelGlobs() []string {
	const rel = "botocore/data/ecr/2015-09-21/service-2.json*"
	globs := []string{
		"/usr/lib/python3/dist-packages/" + rel,
		"/usr/lib/python3/dist-packages/awscli/" + rel,
		"/usr/lib/python3*/site-packages/" + rel,
		"/usr/local/lib/python3*/*-packages/" + rel,
		"/usr/local/aws-cli/v2/*/dist/awscli/" + rel,
	}
	if home, err := os.UserHomeDir(); err == nil {
		globs = append(globs,
			filepath.Join(home, ".local/lib/python3*/site-packages", rel),
			filepath.Join(home, ".pyenv/versions/*/lib/python3*/site-packages", rel))
	}
	return globs
}

// loadModel reads every copy of botocore's ECR model it finds and returns
// the one with the most operations; it skips the test when there is none.
func loadModel(t *testing.T) *botocoreModel {
	t.Helper()
	var best *botocoreModel
	for _, g := range modelGlobs() {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			m, err := readModel(p)
			if err != nil {
				t.Errorf("botocore model %s: %v", p, err)
				continue
			}
			if best == nil || len(m.Operations) > len(best.Operations) {
				best = m
			}
		}
	}
	if best == nil {
		t.Skipf("no botocore ECR service model found (looked in %s); install python3-botocore or awscli", strings.Join(modelGlobs(), ", "))
	}
	t.Logf("botocore model %s: %d operations", best.path, len(best.Operations))
	return best
}

func readModel(path string) (*botocoreModel, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	m := &botocoreModel{path: path}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	if len(m.Operations) == 0 {
		return nil, fmt.Errorf("no operations")
	}
	return m, nil
}

// sdkOnlyOperations are in the AWS SDK for Go v2 (v1.67.6) but not in
// botocore's model.
var sdkOnlyOperations = []string{"DescribeReplicationBackfillResults", "ListReplicationBackfills", "StartReplicationBackfill", "StopReplicationBackfill"}

type tableRow struct{ status, errType string }

var (
	tableRowRE = regexp.MustCompile(`^\| ([A-Z][A-Za-z]+) \| ([^|]+?) \| (.*)\|$`)
	errTypeRE  = regexp.MustCompile("^`([A-Za-z]+)`")
)

// readTable parses docs/ecr-api.md's table of operations.
func readTable(t *testing.T) map[string]tableRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "ecr-api.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]tableRow{}
	for line := range strings.SplitSeq(string(b), "\n") {
		m := tableRowRE.FindStringSubmatch(line)
		if m == nil || m[1] == "Operation" {
			continue
		}
		if _, dup := rows[m[1]]; dup {
			t.Errorf("docs/ecr-api.md lists %s twice", m[1])
		}
		r := tableRow{status: m[2]}
		if e := errTypeRE.FindStringSubmatch(strings.TrimSpace(m[3])); e != nil {
			r.errType = e[1]
		}
		rows[m[1]] = r
	}
	if len(rows) < 40 {
		t.Fatalf("docs/ecr-api.md: only %d table rows parsed", len(rows))
	}
	return rows
}

// TestOperationsTable keeps docs/ecr-api.md true: it lists every operation
// of botocore's model, marks implemented exactly the operations the API
// serves, and gives the others the status and error type they answer with.
func TestOperationsTable(t *testing.T) {
	rows := readTable(t)
	api := newEnv(t).api
	served := api.Operations()
	for op, r := range rows {
		if r.status == string(StatusImplemented) && !slices.Contains(served, op) {
			t.Errorf("docs/ecr-api.md marks %s implemented, but the API does not serve it", op)
		}
		if u, ok := api.unavailable[op]; ok && !slices.Contains(served, op) && (r.status != string(u.status) || r.errType != u.errType) {
			t.Errorf("docs/ecr-api.md: %s is %q answering %q, the API says %q answering %q", op, r.status, r.errType, u.status, u.errType)
		}
	}
	for _, op := range served {
		if rows[op].status != string(StatusImplemented) {
			t.Errorf("the API serves %s, which docs/ecr-api.md does not mark implemented (%q)", op, rows[op].status)
		}
		if _, ok := api.unavailable[op]; ok {
			t.Errorf("%s is served and also listed as unavailable (operations.go): remove it there", op)
		}
	}
	for op := range api.unavailable {
		if _, ok := rows[op]; !ok {
			t.Errorf("the API answers %s as unavailable, which docs/ecr-api.md lacks", op)
		}
	}
	for _, op := range sdkOnlyOperations {
		if _, ok := rows[op]; !ok {
			t.Errorf("docs/ecr-api.md lacks %s (AWS SDK for Go v2)", op)
		}
	}
	m := loadModel(t)
	for op, o := range m.Operations {
		r, ok := rows[op]
		if !ok {
			t.Errorf("botocore's model has %s, which docs/ecr-api.md lacks", op)
			continue
		}
		if r.status == string(StatusImplemented) {
			continue
		}
		if r.errType == "" {
			t.Errorf("docs/ecr-api.md: %s (%s) names no error type (`Type`. first in its notes)", op, r.status)
			continue
		}
		if !slices.ContainsFunc(o.Errors, func(e struct {
			Shape string `json:"shape"`
		}) bool {
			return e.Shape == r.errType
		}) {
			t.Errorf("%s answers %s, which its model does not list", op, r.errType)
		}
	}
}

// checkShape walks v (decoded with UseNumber) against shape and returns
// every mismatch.
func (m *botocoreModel) checkShape(path, shape string, v any) []string {
	s, ok := m.Shapes[shape]
	if !ok {
		return []string{fmt.Sprintf("%s: shape %s not in the model", path, shape)}
	}
	bad := func(want string) []string {
		return []string{fmt.Sprintf("%s: %s (%s) wants %s, got %T %s", path, shape, s.Type, want, v, clip(v))}
	}
	if v == nil {
		return bad("a value, not null")
	}
	var out []string
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		byJSON := map[string]string{}
		for name, mem := range s.Members {
			j := name
			if mem.JSONName != "" {
				j = mem.JSONName
			}
			byJSON[j] = mem.Shape
		}
		for _, k := range sortedKeys(obj) {
			ms, ok := byJSON[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: no member %q in %s", path, k, k, shape))
				continue
			}
			out = append(out, m.checkShape(path+"."+k, ms, obj[k])...)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		for _, k := range sortedKeys(obj) {
			out = append(out, m.checkShape(path+"{key}", s.Key.Shape, k)...)
			out = append(out, m.checkShape(path+"["+k+"]", s.Value.Shape, obj[k])...)
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return bad("an array")
		}
		for i, x := range arr {
			out = append(out, m.checkShape(fmt.Sprintf("%s[%d]", path, i), s.Member.Shape, x)...)
		}
	case "string", "blob":
		str, ok := v.(string)
		if !ok {
			return bad("a string")
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			return bad(fmt.Sprintf("one of %v", s.Enum))
		}
	case "timestamp":
		if _, ok := v.(json.Number); !ok {
			return bad("a number (epoch seconds)")
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			return bad("a number")
		}
		if _, err := n.Int64(); err != nil {
			return bad("an integer")
		}
	case "float", "double":
		if _, ok := v.(json.Number); !ok {
			return bad("a number")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	default:
		return bad("a type this test knows")
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func clip(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}

// TestResponsesMatchModel checks the response of every implemented
// operation (called with data: a BASIC and an ENHANCED scan result)
// against its output shape in botocore's model: every field exists, with
// the model's JSON type and enum values.
func TestResponsesMatchModel(t *testing.T) {
	m := loadModel(t)
	s := newSDKEnv(t)
	calls := append(s.driveAll(t), driveImageOps(t)...)
	checked := map[string]bool{}
	for _, c := range calls {
		if c.status != 200 {
			continue
		}
		o, ok := m.Operations[c.op]
		if !ok || o.Output == nil {
			t.Errorf("%s: no output shape in the model", c.op)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(c.body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: response is not JSON: %v", c.op, err)
			continue
		}
		for _, bad := range m.checkShape(c.op, o.Output.Shape, v) {
			t.Error(bad)
		}
		checked[c.op] = true
	}
	for _, op := range s.api.Operations() {
		if !checked[op] {
			t.Errorf("%s: no response checked", op)
		}
	}
}

// TestCheckShape shows that the walk finds each kind of mismatch.
func TestCheckShape(t *testing.T) {
	m := &botocoreModel{Shapes: map[string]modelShape{}}
	if err := json.Unmarshal([]byte(`{
		"Out": {"type": "structure", "members": {"at": {"shape": "T"}, "n": {"shape": "I"}, "s": {"shape": "E"}, "l": {"shape": "L"}, "m": {"shape": "M"}, "b": {"shape": "B"}}},
		"T": {"type": "timestamp"}, "I": {"type": "integer"}, "E": {"type": "string", "enum": ["A", "B"]},
		"L": {"type": "list", "member": {"shape": "I"}}, "M": {"type": "map", "key": {"shape": "E"}, "value": {"shape": "I"}}, "B": {"type": "boolean"}
	}`), &m.Shapes); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in string
		want     int
	}{
		{"valid", `{"at": 1.5, "n": 3, "s": "A", "l": [1, 2], "m": {"B": 1}, "b": true}`, 0},
		{"text timestamp", `{"at": "2026-05-01T12:00:00Z"}`, 1},
		{"unknown member", `{"extra": 1}`, 1},
		{"float for an integer", `{"n": 1.5}`, 1},
		{"enum", `{"s": "C"}`, 1},
		{"list member and map key", `{"l": ["x"], "m": {"C": 1}}`, 2},
		{"boolean as string", `{"b": "true"}`, 1},
		{"null", `{"n": null}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(tt.in))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			if got := m.checkShape("Out", "Out", v); len(got) != tt.want {
				t.Errorf("%d mismatches, want %d: %v", len(got), tt.want, got)
			}
		})
	}
}
