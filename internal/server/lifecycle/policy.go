// Package lifecycle implements Amazon ECR lifecycle policies: parsing and
// validating the policy text (Parse), evaluating a policy over a
// repository's images (Evaluate, a pure function), previews, and the
// scheduled runner that expires images and then garbage-collects blobs.
//
// Sources followed (cited where used):
//   - ECR User Guide, "Lifecycle policies" (LifecyclePolicies.md: template,
//     parameters, "Lifecycle policy evaluation rules") and "Lifecycle policy
//     properties" (lifecycle_policy_parameters: tagPatternList, at most four
//     '*' per pattern);
//   - ECR User Guide, "Examples of lifecycle policies" (the worked examples
//     are table tests in evaluate_test.go);
//   - ECR API reference, PutLifecyclePolicy (lifecyclePolicyText is 100 to
//     30720 characters);
//   - ECR's error texts as quoted by users and by moto's validator
//     (moto/ecr/policy_validation.py): the prefix "Invalid parameter at
//     'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy
//     validation failure: ...'", the JSON-schema style details ("object has
//     missing required properties", "object instance has properties which
//     are not allowed by the schema", "instance value (x) not found in enum",
//     "numeric instance is lower than the required minimum", "instance failed
//     to match exactly one schema (matched 0 out of 2)"), and the semantic
//     ones "Only one rule can select Untagged images." and "Rule for
//     tagStatus=ANY must have the lowest priority" (ECR now appends "per
//     storage class"; this server has no storage classes).
//
// Where no source gives ECR's wording, the message is ours and says plainly
// what is wrong; those are marked "(our wording)".
package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Limits on the policy text (ECR API reference, PutLifecyclePolicy).
const (
	MinTextLength = 100
	MaxTextLength = 30720
	// MaxWildcards is the number of '*' allowed in one tagPatternList entry
	// (ECR User Guide, tagPatternList).
	MaxWildcards = 4
	// MaxTagListLength bounds tagPrefixList and tagPatternList. ECR does not
	// document a bound; this one keeps evaluation cheap (our choice).
	MaxTagListLength = 100
	// MaxRules bounds the number of rules (our choice; ECR documents none,
	// the 30720-character text bounds it in practice).
	MaxRules = 100
)

// Tag statuses, count types and the action a rule may name.
const (
	TagStatusTagged   = "tagged"
	TagStatusUntagged = "untagged"
	TagStatusAny      = "any"

	CountImageCountMoreThan = "imageCountMoreThan"
	CountSinceImagePushed   = "sinceImagePushed"
	CountSinceImagePulled   = "sinceImagePulled"

	UnitDays = "days"

	ActionExpire = "expire"
)

// Policy is a validated lifecycle policy; Rules are sorted by Priority,
// lowest (evaluated first) first.
type Policy struct {
	Rules []Rule
}

// Rule is one validated rule.
type Rule struct {
	Priority    int
	Description string
	TagStatus   string
	TagPrefixes []string
	TagPatterns []string
	CountType   string
	CountUnit   string
	CountNumber int
	Action      string
}

// ValidationError is a policy ECR would refuse; Error is ECR's message.
type ValidationError struct {
	// Detail follows "Lifecycle policy validation failure: ".
	Detail string
}

func (e *ValidationError) Error() string {
	return "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: " + e.Detail + "'"
}

// LengthError is a policy text outside 100..30720 characters.
type LengthError struct{ Length int }

func (e *LengthError) Error() string {
	if e.Length < MinTextLength {
		return fmt.Sprintf("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length greater than or equal to %d'", MinTextLength)
	}
	return fmt.Sprintf("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length less than or equal to %d'", MaxTextLength)
}

func invalid(format string, a ...any) error {
	return &ValidationError{Detail: fmt.Sprintf(format, a...)}
}

// Parse reads and validates a policy text. It reads at most MaxTextLength+1
// bytes. Errors are *LengthError or *ValidationError.
func Parse(r io.Reader) (*Policy, error) {
	text, err := io.ReadAll(io.LimitReader(r, MaxTextLength+1))
	if err != nil {
		return nil, fmt.Errorf("lifecycle: read policy: %w", err)
	}
	if len(text) > MaxTextLength {
		return nil, &LengthError{Length: len(text)}
	}
	return parse(text)
}

// ParseText validates a policy text given as a string, also enforcing the
// API's minimum length.
func ParseText(text string) (*Policy, error) {
	if n := len([]rune(text)); n < MinTextLength || len(text) > MaxTextLength {
		return nil, &LengthError{Length: n}
	}
	return parse([]byte(text))
}

// object is a decoded JSON object with its keys.
type object map[string]json.RawMessage

func decodeObject(raw json.RawMessage) (object, error) {
	if t := jsonType(raw); t != "object" {
		return nil, invalid(`instance type (%s) does not match any allowed primitive type (allowed: ["object"])`, t)
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, invalid("Could not map policyString into LifecyclePolicy.")
	}
	return o, nil
}

// jsonType names a JSON value's type as JSON Schema does.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "null"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if d.Decode(&n) == nil {
		if _, err := n.Int64(); err == nil {
			return "integer"
		}
	}
	return "number"
}

// checkProperties reports missing required and unknown properties, as
// ECR's schema validator does.
func (o object) checkProperties(required, optional []string) error {
	var missing []string
	for _, k := range required {
		if _, ok := o[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return invalid("object has missing required properties (%s)", quoteList(missing))
	}
	var extra []string
	for k := range o {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return invalid("object instance has properties which are not allowed by the schema: (%s)", quoteList(extra))
	}
	return nil
}

func quoteList(items []string) string {
	b, _ := json.Marshal(items)
	return string(b)
}

func (o object) str(key string) (string, bool, error) {
	raw, ok := o[key]
	if !ok {
		return "", false, nil
	}
	if t := jsonType(raw); t != "string" {
		return "", true, invalid(`instance type (%s) does not match any allowed primitive type (allowed: ["string"])`, t)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, invalid("Could not map policyString into LifecyclePolicy.")
	}
	return s, true, nil
}

func (o object) enum(key string, values []string) (string, bool, error) {
	s, ok, err := o.str(key)
	if err != nil || !ok {
		return s, ok, err
	}
	if !slices.Contains(values, s) {
		return s, true, invalid("instance value (%s) not found in enum :(possible values: %s)", s, quoteList(values))
	}
	return s, true, nil
}

// integer reads a positive integer property (minimum 1).
func (o object) integer(key string) (int, bool, error) {
	raw, ok := o[key]
	if !ok {
		return 0, false, nil
	}
	if t := jsonType(raw); t != "integer" {
		return 0, true, invalid(`instance type (%s) does not match any allowed primitive type (allowed: ["integer"])`, t)
	}
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return 0, true, invalid("Could not map policyString into LifecyclePolicy.")
	}
	v, err := n.Int64()
	if err != nil || v > 1<<31-1 {
		return 0, true, invalid("numeric instance is greater than the required maximum (maximum: %d, found: %s)", 1<<31-1, n.String())
	}
	if v < 1 {
		return 0, true, invalid("numeric instance is lower than the required minimum (minimum: 1, found: %d)", v)
	}
	return int(v), true, nil
}

// stringList reads tagPrefixList or tagPatternList.
func (o object) stringList(key string) ([]string, bool, error) {
	raw, ok := o[key]
	if !ok {
		return nil, false, nil
	}
	if t := jsonType(raw); t != "array" {
		return nil, true, invalid(`instance type (%s) does not match any allowed primitive type (allowed: ["array"])`, t)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, true, invalid("Could not map policyString into LifecyclePolicy.")
	}
	if len(items) == 0 {
		return nil, true, invalid("array is too short: must have at least 1 elements but instance has 0 elements")
	}
	if len(items) > MaxTagListLength {
		return nil, true, invalid("array is too long: must have at most %d elements but instance has %d elements", MaxTagListLength, len(items))
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if t := jsonType(it); t != "string" {
			return nil, true, invalid(`instance type (%s) does not match any allowed primitive type (allowed: ["string"])`, t)
		}
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			return nil, true, invalid("Could not map policyString into LifecyclePolicy.")
		}
		if s == "" {
			return nil, true, invalid(`string "" is too short (length: 0, required minimum: 1)`)
		}
		out = append(out, s)
	}
	return out, true, nil
}

func parse(text []byte) (*Policy, error) {
	if !json.Valid(text) {
		return nil, invalid("Could not map policyString into LifecyclePolicy.")
	}
	top, err := decodeObject(text)
	if err != nil {
		return nil, invalid("Could not map policyString into LifecyclePolicy.")
	}
	if err := top.checkProperties([]string{"rules"}, nil); err != nil {
		return nil, err
	}
	if t := jsonType(top["rules"]); t != "array" {
		return nil, invalid(`instance type (%s) does not match any allowed primitive type (allowed: ["array"])`, t)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(top["rules"], &raws); err != nil {
		return nil, invalid("Could not map policyString into LifecyclePolicy.")
	}
	if len(raws) == 0 {
		return nil, invalid("array is too short: must have at least 1 elements but instance has 0 elements")
	}
	if len(raws) > MaxRules {
		return nil, invalid("array is too long: must have at most %d elements but instance has %d elements", MaxRules, len(raws))
	}
	p := &Policy{}
	for _, raw := range raws {
		r, err := parseRule(raw)
		if err != nil {
			return nil, err
		}
		p.Rules = append(p.Rules, r)
	}
	if err := p.checkRules(); err != nil {
		return nil, err
	}
	sort.Slice(p.Rules, func(i, j int) bool { return p.Rules[i].Priority < p.Rules[j].Priority })
	return p, nil
}

func parseRule(raw json.RawMessage) (Rule, error) {
	var r Rule
	o, err := decodeObject(raw)
	if err != nil {
		return r, err
	}
	if err := o.checkProperties([]string{"rulePriority", "selection", "action"}, []string{"description"}); err != nil {
		return r, err
	}
	if r.Priority, _, err = o.integer("rulePriority"); err != nil {
		return r, err
	}
	if r.Description, _, err = o.str("description"); err != nil {
		return r, err
	}
	action, err := decodeObject(o["action"])
	if err != nil {
		return r, err
	}
	if err := action.checkProperties([]string{"type"}, nil); err != nil {
		return r, err
	}
	if r.Action, _, err = action.enum("type", []string{ActionExpire}); err != nil {
		return r, err
	}
	sel, err := decodeObject(o["selection"])
	if err != nil {
		return r, err
	}
	if err := sel.checkProperties([]string{"tagStatus", "countType", "countNumber"},
		[]string{"tagPrefixList", "tagPatternList", "countUnit"}); err != nil {
		return r, err
	}
	if r.TagStatus, _, err = sel.enum("tagStatus", []string{TagStatusAny, TagStatusTagged, TagStatusUntagged}); err != nil {
		return r, err
	}
	var hasPrefixes, hasPatterns bool
	if r.TagPrefixes, hasPrefixes, err = sel.stringList("tagPrefixList"); err != nil {
		return r, err
	}
	if r.TagPatterns, hasPatterns, err = sel.stringList("tagPatternList"); err != nil {
		return r, err
	}
	// countType selects one of the schema's variants; a countType outside
	// them, or a countUnit that does not fit the variant, matches none
	// (ECR's message for both, as quoted in cloudposse/terraform-aws-ecr#132).
	noVariant := invalid("instance failed to match exactly one schema (matched 0 out of 2)")
	if r.CountType, _, err = sel.str("countType"); err != nil {
		return r, err
	}
	unit, hasUnit, err := sel.str("countUnit")
	if err != nil {
		return r, err
	}
	switch r.CountType {
	case CountImageCountMoreThan:
		if hasUnit {
			return r, noVariant
		}
	case CountSinceImagePushed, CountSinceImagePulled:
		if !hasUnit {
			return r, noVariant
		}
		if unit != UnitDays {
			return r, invalid("instance value (%s) not found in enum :(possible values: %s)", unit, quoteList([]string{UnitDays}))
		}
		r.CountUnit = unit
	default:
		return r, noVariant
	}
	if r.CountNumber, _, err = sel.integer("countNumber"); err != nil {
		return r, err
	}
	switch {
	case hasPrefixes && hasPatterns:
		return r, invalid("tagPrefixList and tagPatternList cannot both be specified in one rule") // (our wording)
	case r.TagStatus == TagStatusTagged && !hasPrefixes && !hasPatterns:
		return r, invalid("tagPrefixList or tagPatternList is required when tagStatus is tagged") // (our wording)
	case r.TagStatus != TagStatusTagged && (hasPrefixes || hasPatterns):
		return r, invalid("tagPrefixList and tagPatternList can only be used when tagStatus is tagged") // (our wording)
	}
	for _, p := range r.TagPatterns {
		if strings.Count(p, "*") > MaxWildcards {
			return r, invalid("tagPatternList entry %q has more than %d wildcards (*)", p, MaxWildcards) // (our wording)
		}
	}
	return r, nil
}

// checkRules applies the rules that relate rules to each other.
func (p *Policy) checkRules() error {
	seen := map[int]bool{}
	maxPriority := 0
	untagged := 0
	selectors := map[string]int{}
	for _, r := range p.Rules {
		if seen[r.Priority] {
			return invalid("rulePriority %d is used by more than one rule; rule priorities must be unique", r.Priority) // (our wording)
		}
		seen[r.Priority] = true
		maxPriority = max(maxPriority, r.Priority)
		if r.TagStatus == TagStatusUntagged {
			untagged++
		}
		if r.TagStatus == TagStatusTagged {
			// "The set of rules must contain a unique set of tag prefixes."
			key := selectorKey(r)
			if other, dup := selectors[key]; dup {
				return invalid("rules %d and %d select the same tags; the set of rules must contain a unique set of tag prefixes", other, r.Priority) // (our wording)
			}
			selectors[key] = r.Priority
		}
	}
	if untagged > 1 {
		return invalid("Only one rule can select Untagged images.")
	}
	for _, r := range p.Rules {
		if r.TagStatus == TagStatusAny && r.Priority != maxPriority {
			return invalid("Rule for tagStatus=ANY must have the lowest priority")
		}
	}
	return nil
}

func selectorKey(r Rule) string {
	kind, list := "prefix", r.TagPrefixes
	if len(r.TagPatterns) > 0 {
		kind, list = "pattern", r.TagPatterns
	}
	sorted := slices.Clone(list)
	sort.Strings(sorted)
	sorted = slices.Compact(sorted)
	return kind + "\x00" + strings.Join(sorted, "\x00")
}
