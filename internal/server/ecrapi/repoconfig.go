package ecrapi

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/stowaway-scanner/stowaway/internal/server/iampolicy"
	"github.com/stowaway-scanner/stowaway/internal/server/lifecycle"
	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// Repository and registry settings: resource tags, tag mutability (with
// exclusion filters), account settings, DescribeRegistry and repository
// creation templates.

// RepoConfigStore keeps the repository and registry settings.
type RepoConfigStore interface {
	ListRepositoryTags(ctx context.Context, repo string) ([]store.Tag, error)
	TagRepository(ctx context.Context, repo string, tags []store.Tag, max int) error
	UntagRepository(ctx context.Context, repo string, keys []string) error
	GetAccountSetting(ctx context.Context, name string) (string, error)
	PutAccountSetting(ctx context.Context, name, value string) error
	CreateCreationTemplate(ctx context.Context, t store.CreationTemplate) error
	GetCreationTemplate(ctx context.Context, prefix string) (store.CreationTemplate, error)
	ListCreationTemplates(ctx context.Context) ([]store.CreationTemplate, error)
	UpdateCreationTemplate(ctx context.Context, t store.CreationTemplate) error
	DeleteCreationTemplate(ctx context.Context, prefix string) (store.CreationTemplate, error)
}

// MaxResourceTags is ECR's limit of tags on one resource.
const MaxResourceTags = 50

// Account settings and their values (ECR's GetAccountSetting). Both
// basic scan type versions are served by Stowaway's own engine: the value
// is recorded in scan results and events, it does not change the scan.
const (
	SettingBasicScanTypeVersion = "BASIC_SCAN_TYPE_VERSION"
	SettingRegistryPolicyScope  = "REGISTRY_POLICY_SCOPE"
)

// accountSettings lists each setting's values, the default first.
var accountSettings = map[string][]string{
	SettingBasicScanTypeVersion: {"AWS_NATIVE", "CLAIR"},
	SettingRegistryPolicyScope:  {"V2", "V1"},
}

// repoConfigActions are the settings operations. Without a RepoConfig store
// those that need it answer that they are not enabled, with an error type
// their model lists.
func (a *API) repoConfigActions() map[string]action {
	need := func(op, errType string, f action) action {
		return func(ctx context.Context, c *call) (any, error) {
			if a.o.RepoConfig == nil {
				return nil, apiErr(errType, "%s is not enabled: this server has no store for repository and registry settings", op)
			}
			return f(ctx, c)
		}
	}
	m := map[string]action{"PutImageTagMutability": a.putImageTagMutability, "DescribeRegistry": a.describeRegistry}
	for op, f := range map[string]action{
		"TagResource":         a.tagResource,
		"UntagResource":       a.untagResource,
		"ListTagsForResource": a.listTagsForResource,
	} {
		m[op] = need(op, "InvalidParameterException", f)
	}
	for op, f := range map[string]action{
		"GetAccountSetting":                   a.getAccountSetting,
		"PutAccountSetting":                   a.putAccountSetting,
		"CreateRepositoryCreationTemplate":    a.createRepositoryCreationTemplate,
		"DescribeRepositoryCreationTemplates": a.describeRepositoryCreationTemplates,
		"UpdateRepositoryCreationTemplate":    a.updateRepositoryCreationTemplate,
		"DeleteRepositoryCreationTemplate":    a.deleteRepositoryCreationTemplate,
	} {
		m[op] = need(op, "ValidationException", f)
	}
	return m
}

var registryIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// ownRegistry checks a request's registryId: "" or the server's own. serve
// applies it to every operation before dispatch.
func (a *API) ownRegistry(id string) error {
	if id == "" || id == a.o.RegistryID {
		return nil
	}
	if !registryIDRE.MatchString(id) {
		return apiErr("InvalidParameterException", "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''")
	}
	return apiErr("InvalidParameterException", "The registry with id '%s' is not served here: this registry's id is '%s'", id, a.o.RegistryID)
}

// tags

// tagIn is ECR's Tag (capitalised members, as in the service model).
type tagIn struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

func tagsOut(ts []store.Tag) []tagOut {
	out := []tagOut{}
	for _, t := range ts {
		out = append(out, tagOut(t))
	}
	return out
}

// validTags checks tags against ECR's limits: key 1 to 128 characters, not
// starting with the reserved "aws:", value 0 to 256, at most 50.
func validTags(in []tagIn) ([]store.Tag, error) {
	if len(in) > MaxResourceTags {
		return nil, apiErr("TooManyTagsException", "A resource can have at most %d tags; %d were given", MaxResourceTags, len(in))
	}
	var out []store.Tag
	for _, t := range in {
		if t.Key == nil || t.Value == nil {
			return nil, apiErr("InvalidTagParameterException", "A tag needs both Key and Value")
		}
		k, v := *t.Key, *t.Value
		switch {
		case len(k) < 1 || len(k) > 128:
			return nil, apiErr("InvalidTagParameterException", "Tag key '%s' must be 1 to 128 characters", k)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, apiErr("InvalidTagParameterException", "Tag key '%s' uses the reserved prefix 'aws:'", k)
		case len(v) > 256:
			return nil, apiErr("InvalidTagParameterException", "The value of tag '%s' must be at most 256 characters", k)
		}
		out = append(out, store.Tag{Key: k, Value: v})
	}
	return out, nil
}

// tagError maps the store's tag limit to TooManyTagsException.
func tagError(err error) error {
	if errors.Is(err, store.ErrTooManyTags) {
		return apiErr("TooManyTagsException", "A resource can have at most %d tags", MaxResourceTags)
	}
	return err
}

// resourceRepo is the repository a resource ARN names, as DescribeRepositories
// forms it (arn:aws:ecr:<region>:<registry id>:repository/<name>).
func (a *API) resourceRepo(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecr" || !strings.HasPrefix(parts[5], "repository/") {
		return "", apiErr("InvalidParameterException", "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'")
	}
	if parts[3] != a.o.Region || parts[4] != a.o.RegistryID {
		return "", apiErr("InvalidParameterException", "The resource '%s' is not in this registry (region %s, registry id %s)", arn, a.o.Region, a.o.RegistryID)
	}
	name := strings.TrimPrefix(parts[5], "repository/")
	if err := validRepoName(name); err != nil {
		return "", err
	}
	return name, nil
}

func (a *API) tagResource(ctx context.Context, c *call) (any, error) {
	var in struct {
		ResourceArn string  `json:"resourceArn"`
		Tags        []tagIn `json:"tags"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	repo, err := a.resourceRepo(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	tags, err := validTags(in.Tags)
	if err != nil {
		return nil, err
	}
	if _, err := a.authorizedRepo(ctx, c, repo); err != nil {
		return nil, err
	}
	if err := a.o.RepoConfig.TagRepository(ctx, repo, tags, MaxResourceTags); err != nil {
		return nil, a.repoConfigError(repo, tagError(err))
	}
	return struct{}{}, nil
}

func (a *API) untagResource(ctx context.Context, c *call) (any, error) {
	var in struct {
		ResourceArn string   `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	repo, err := a.resourceRepo(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	for _, k := range in.TagKeys {
		if len(k) < 1 || len(k) > 128 {
			return nil, apiErr("InvalidTagParameterException", "Tag key '%s' must be 1 to 128 characters", k)
		}
	}
	if _, err := a.authorizedRepo(ctx, c, repo); err != nil {
		return nil, err
	}
	if err := a.o.RepoConfig.UntagRepository(ctx, repo, in.TagKeys); err != nil {
		return nil, a.repoConfigError(repo, err)
	}
	return struct{}{}, nil
}

func (a *API) listTagsForResource(ctx context.Context, c *call) (any, error) {
	var in struct {
		ResourceArn string `json:"resourceArn"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	repo, err := a.resourceRepo(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, repo); err != nil {
		return nil, err
	}
	tags, err := a.o.RepoConfig.ListRepositoryTags(ctx, repo)
	if err != nil {
		return nil, a.repoConfigError(repo, err)
	}
	return map[string]any{"tags": tagsOut(tags)}, nil
}

// repoConfigError maps a missing repository to RepositoryNotFoundException.
func (a *API) repoConfigError(repo string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return a.repoNotFound(repo)
	}
	return err
}

// tag mutability

type exclusionFilter struct {
	FilterType string `json:"filterType"`
	Filter     string `json:"filter"`
}

var exclusionFilterRE = regexp.MustCompile(`^[0-9a-zA-Z._*-]{1,128}$`)

// parseMutability reads an imageTagMutability and its exclusion filters
// ("" is MUTABLE).
func parseMutability(mode string, filters []exclusionFilter) (immutable bool, exclusions []string, err error) {
	withExclusion := false
	switch mode {
	case "", "MUTABLE":
	case "IMMUTABLE":
		immutable = true
	case "IMMUTABLE_WITH_EXCLUSION":
		immutable, withExclusion = true, true
	case "MUTABLE_WITH_EXCLUSION":
		withExclusion = true
	default:
		return false, nil, apiErr("InvalidParameterException", "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'")
	}
	if !withExclusion {
		if len(filters) > 0 {
			return false, nil, apiErr("InvalidParameterException", "imageTagMutabilityExclusionFilters can only be given with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION")
		}
		return immutable, nil, nil
	}
	if len(filters) < 1 || len(filters) > 5 {
		return false, nil, apiErr("InvalidParameterException", "%s needs 1 to 5 imageTagMutabilityExclusionFilters", mode)
	}
	for _, f := range filters {
		if f.FilterType != "WILDCARD" {
			return false, nil, apiErr("InvalidParameterException", "Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [WILDCARD]'")
		}
		if !exclusionFilterRE.MatchString(f.Filter) {
			return false, nil, apiErr("InvalidParameterException", "Invalid parameter at 'filter' failed to satisfy constraint: 'must satisfy regular expression '%s''", exclusionFilterRE)
		}
		exclusions = append(exclusions, f.Filter)
	}
	return immutable, exclusions, nil
}

// mutabilityOut is the imageTagMutability of a setting and its filters.
func mutabilityOut(immutable bool, exclusions []string) (string, []exclusionFilter) {
	mode := "MUTABLE"
	if immutable {
		mode = "IMMUTABLE"
	}
	if len(exclusions) == 0 {
		return mode, nil
	}
	var fs []exclusionFilter
	for _, e := range exclusions {
		fs = append(fs, exclusionFilter{FilterType: "WILDCARD", Filter: e})
	}
	return mode + "_WITH_EXCLUSION", fs
}

func (a *API) putImageTagMutability(ctx context.Context, c *call) (any, error) {
	var in struct {
		RegistryID         string            `json:"registryId"`
		RepositoryName     string            `json:"repositoryName"`
		ImageTagMutability string            `json:"imageTagMutability"`
		Filters            []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if in.ImageTagMutability == "" {
		return nil, apiErr("InvalidParameterException", "imageTagMutability is required")
	}
	imm, excl, err := parseMutability(in.ImageTagMutability, in.Filters)
	if err != nil {
		return nil, err
	}
	r, err := a.authorizedRepo(ctx, c, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.TagImmutable, r.TagMutabilityExclusions = imm, excl
	if err := a.o.Store.UpdateRepository(ctx, r); err != nil {
		return nil, a.repoConfigError(r.Name, err)
	}
	mode, filters := mutabilityOut(imm, excl)
	return struct {
		RegistryID         string            `json:"registryId"`
		RepositoryName     string            `json:"repositoryName"`
		ImageTagMutability string            `json:"imageTagMutability"`
		Filters            []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
	}{a.o.RegistryID, r.Name, mode, filters}, nil
}

// encryption

type encryptionConfiguration struct {
	EncryptionType string `json:"encryptionType"`
	KMSKey         string `json:"kmsKey,omitempty"`
}

var templateKMSKeyRE = regexp.MustCompile(`^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-z0-9-]+`)

// parseEncryption checks an encryption configuration (nil is AES256).
// forTemplate applies the stricter key pattern of creation templates.
func parseEncryption(in *encryptionConfiguration, forTemplate bool) (store.Encryption, error) {
	if in == nil {
		return store.Encryption{}, nil
	}
	switch in.EncryptionType {
	case "AES256":
		if in.KMSKey != "" {
			return store.Encryption{}, apiErr("InvalidParameterException", "kmsKey can only be given with encryptionType KMS or KMS_DSSE")
		}
	case "KMS", "KMS_DSSE":
		if len(in.KMSKey) > 2048 || (forTemplate && !templateKMSKeyRE.MatchString(in.KMSKey)) {
			return store.Encryption{}, apiErr("InvalidParameterException", "Invalid parameter at 'kmsKey': must be a KMS key ARN of at most 2048 characters")
		}
	default:
		return store.Encryption{}, apiErr("InvalidParameterException", "Invalid parameter at 'encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]'")
	}
	return store.Encryption{Type: in.EncryptionType, KMSKey: in.KMSKey}, nil
}

func encryptionOut(e store.Encryption) encryptionConfiguration {
	if e.Type == "" {
		return encryptionConfiguration{EncryptionType: "AES256"}
	}
	return encryptionConfiguration{EncryptionType: e.Type, KMSKey: e.KMSKey}
}

// account settings and the registry

func (a *API) accountSetting(name string) ([]string, error) {
	vals, ok := accountSettings[name]
	if !ok {
		return nil, apiErr("ValidationException", "Invalid account setting name '%s': valid names are BASIC_SCAN_TYPE_VERSION and REGISTRY_POLICY_SCOPE", name)
	}
	return vals, nil
}

func (a *API) getAccountSetting(ctx context.Context, c *call) (any, error) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	vals, err := a.accountSetting(in.Name)
	if err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	v, err := a.o.RepoConfig.GetAccountSetting(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	if v == "" {
		v = vals[0]
	}
	return map[string]string{"name": in.Name, "value": v}, nil
}

func (a *API) putAccountSetting(ctx context.Context, c *call) (any, error) {
	var in struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	vals, err := a.accountSetting(in.Name)
	if err != nil {
		return nil, err
	}
	valid := false
	for _, v := range vals {
		valid = valid || v == in.Value
	}
	if !valid {
		return nil, apiErr("ValidationException", "Invalid value '%s' for account setting %s: valid values are %s", in.Value, in.Name, strings.Join(vals, ", "))
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	if err := a.o.RepoConfig.PutAccountSetting(ctx, in.Name, in.Value); err != nil {
		return nil, err
	}
	return map[string]string{"name": in.Name, "value": in.Value}, nil
}

// BasicScanTypeVersion is the registry's BASIC_SCAN_TYPE_VERSION setting
// (its default when unset).
func BasicScanTypeVersion(ctx context.Context, s interface {
	GetAccountSetting(ctx context.Context, name string) (string, error)
}) (string, error) {
	v, err := s.GetAccountSetting(ctx, SettingBasicScanTypeVersion)
	if v == "" && err == nil {
		v = accountSettings[SettingBasicScanTypeVersion][0]
	}
	return v, err
}

// repository creation templates

var templatePrefixRE = regexp.MustCompile(`^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*/?|ROOT)$`)

// templateIn is a creation template request; absent members are nil, so
// that an update changes only the members it gives.
type templateIn struct {
	Prefix                  string                   `json:"prefix"`
	Description             *string                  `json:"description"`
	EncryptionConfiguration *encryptionConfiguration `json:"encryptionConfiguration"`
	ResourceTags            *[]tagIn                 `json:"resourceTags"`
	ImageTagMutability      *string                  `json:"imageTagMutability"`
	Filters                 *[]exclusionFilter       `json:"imageTagMutabilityExclusionFilters"`
	RepositoryPolicy        *string                  `json:"repositoryPolicy"`
	LifecyclePolicy         *string                  `json:"lifecyclePolicy"`
	AppliedFor              *[]string                `json:"appliedFor"`
	CustomRoleArn           *string                  `json:"customRoleArn"`
}

type templateOut struct {
	Prefix                  string                  `json:"prefix"`
	Description             string                  `json:"description,omitempty"`
	EncryptionConfiguration encryptionConfiguration `json:"encryptionConfiguration"`
	ResourceTags            []tagOut                `json:"resourceTags"`
	ImageTagMutability      string                  `json:"imageTagMutability"`
	Filters                 []exclusionFilter       `json:"imageTagMutabilityExclusionFilters,omitempty"`
	RepositoryPolicy        string                  `json:"repositoryPolicy,omitempty"`
	LifecyclePolicy         string                  `json:"lifecyclePolicy,omitempty"`
	AppliedFor              []string                `json:"appliedFor"`
	CustomRoleArn           string                  `json:"customRoleArn,omitempty"`
	CreatedAt               *epoch                  `json:"createdAt,omitempty"`
	UpdatedAt               *epoch                  `json:"updatedAt,omitempty"`
}

func templateToOut(t store.CreationTemplate) templateOut {
	mode, filters := mutabilityOut(t.TagImmutable, t.TagMutabilityExclusions)
	return templateOut{
		Prefix:                  t.Prefix,
		Description:             t.Description,
		EncryptionConfiguration: encryptionOut(t.Encryption),
		ResourceTags:            tagsOut(t.ResourceTags),
		ImageTagMutability:      mode,
		Filters:                 filters,
		RepositoryPolicy:        t.RepositoryPolicy,
		LifecyclePolicy:         t.LifecyclePolicy,
		AppliedFor:              t.AppliedFor,
		CustomRoleArn:           t.CustomRoleARN,
		CreatedAt:               epochPtr(t.CreatedAt),
		UpdatedAt:               epochPtr(t.UpdatedAt),
	}
}

func validPrefix(p string) error {
	if len(p) < 1 || len(p) > 256 || !templatePrefixRE.MatchString(p) {
		return apiErr("InvalidParameterException", "Invalid parameter at 'prefix' failed to satisfy constraint: 'must satisfy regular expression '%s' and be 1 to 256 characters'", templatePrefixRE)
	}
	return nil
}

// applyTemplate validates the members in gives and sets them on t.
func applyTemplate(t *store.CreationTemplate, in templateIn) error {
	if in.Description != nil {
		if len(*in.Description) > 256 {
			return apiErr("InvalidParameterException", "description must be at most 256 characters")
		}
		t.Description = *in.Description
	}
	if in.AppliedFor != nil {
		if len(*in.AppliedFor) == 0 {
			return apiErr("InvalidParameterException", "appliedFor needs at least one of CREATE_ON_PUSH, PULL_THROUGH_CACHE, REPLICATION")
		}
		var af []string
		seen := map[string]bool{}
		for _, v := range *in.AppliedFor {
			switch v {
			case store.AppliedForCreateOnPush, store.AppliedForPullThroughCache, store.AppliedForReplication:
			default:
				return apiErr("InvalidParameterException", "Invalid parameter at 'appliedFor' failed to satisfy constraint: 'Member must satisfy enum value set: [CREATE_ON_PUSH, PULL_THROUGH_CACHE, REPLICATION]'")
			}
			if !seen[v] {
				seen[v] = true
				af = append(af, v)
			}
		}
		t.AppliedFor = af
	}
	if in.ImageTagMutability != nil || in.Filters != nil {
		mode, filters := "", []exclusionFilter(nil)
		if in.ImageTagMutability != nil {
			mode = *in.ImageTagMutability
		} else {
			mode, _ = mutabilityOut(t.TagImmutable, t.TagMutabilityExclusions)
		}
		if in.Filters != nil {
			filters = *in.Filters
		}
		imm, excl, err := parseMutability(mode, filters)
		if err != nil {
			return err
		}
		t.TagImmutable, t.TagMutabilityExclusions = imm, excl
	}
	if in.RepositoryPolicy != nil {
		// Validated as SetRepositoryPolicy validates it: the template
		// applies it to the repositories it creates.
		p := *in.RepositoryPolicy
		if p != "" {
			_, err := iampolicy.Parse(iampolicy.RepositoryPolicy, p, iampolicy.Options{})
			var ve *iampolicy.ValidationError
			if errors.As(err, &ve) {
				return apiErr("InvalidParameterException", "Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'Invalid repository policy provided': %s", ve.Detail)
			}
			if err != nil {
				return err
			}
		}
		t.RepositoryPolicy, t.RepositoryPolicyChecked = p, p != ""
	}
	if in.LifecyclePolicy != nil {
		p := *in.LifecyclePolicy
		if len(p) > 30720 {
			return apiErr("InvalidParameterException", "lifecyclePolicy must be at most 30720 characters")
		}
		if p != "" {
			if _, err := lifecycle.ParseText(p); err != nil {
				return policyError(err)
			}
		}
		t.LifecyclePolicy = p
	}
	if in.ResourceTags != nil {
		tags, err := validTags(*in.ResourceTags)
		if err != nil {
			return err
		}
		t.ResourceTags = dedupeTags(tags)
	}
	if in.EncryptionConfiguration != nil {
		e, err := parseEncryption(in.EncryptionConfiguration, true)
		if err != nil {
			return err
		}
		t.Encryption = e
	}
	if in.CustomRoleArn != nil {
		if len(*in.CustomRoleArn) > 2048 {
			return apiErr("InvalidParameterException", "customRoleArn must be at most 2048 characters")
		}
		t.CustomRoleARN = *in.CustomRoleArn
	}
	return nil
}

// dedupeTags keeps the last value of each key, in first-seen order.
func dedupeTags(ts []store.Tag) []store.Tag {
	idx := map[string]int{}
	var out []store.Tag
	for _, t := range ts {
		if i, ok := idx[t.Key]; ok {
			out[i].Value = t.Value
			continue
		}
		idx[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}

func (a *API) templateNotFound(prefix string) error {
	return apiErr("TemplateNotFoundException", "The repository creation template with prefix '%s' does not exist in the registry with id '%s'", prefix, a.o.RegistryID)
}

func (a *API) createRepositoryCreationTemplate(ctx context.Context, c *call) (any, error) {
	var in templateIn
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := validPrefix(in.Prefix); err != nil {
		return nil, err
	}
	if in.AppliedFor == nil {
		return nil, apiErr("InvalidParameterException", "appliedFor is required")
	}
	now := a.o.Now().UTC()
	t := store.CreationTemplate{Prefix: in.Prefix, CreatedAt: now, UpdatedAt: now}
	if err := applyTemplate(&t, in); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	err := a.o.RepoConfig.CreateCreationTemplate(ctx, t)
	if errors.Is(err, store.ErrExists) {
		return nil, apiErr("TemplateAlreadyExistsException", "The repository creation template with prefix '%s' already exists in the registry with id '%s'", t.Prefix, a.o.RegistryID)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"registryId": a.o.RegistryID, "repositoryCreationTemplate": templateToOut(t)}, nil
}

func (a *API) updateRepositoryCreationTemplate(ctx context.Context, c *call) (any, error) {
	var in templateIn
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := validPrefix(in.Prefix); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	t, err := a.o.RepoConfig.GetCreationTemplate(ctx, in.Prefix)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.templateNotFound(in.Prefix)
	}
	if err != nil {
		return nil, err
	}
	if err := applyTemplate(&t, in); err != nil {
		return nil, err
	}
	t.UpdatedAt = a.o.Now().UTC()
	err = a.o.RepoConfig.UpdateCreationTemplate(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.templateNotFound(in.Prefix)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"registryId": a.o.RegistryID, "repositoryCreationTemplate": templateToOut(t)}, nil
}

func (a *API) deleteRepositoryCreationTemplate(ctx context.Context, c *call) (any, error) {
	var in struct {
		Prefix string `json:"prefix"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := validPrefix(in.Prefix); err != nil {
		return nil, err
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	t, err := a.o.RepoConfig.DeleteCreationTemplate(ctx, in.Prefix)
	if errors.Is(err, store.ErrNotFound) {
		return nil, a.templateNotFound(in.Prefix)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"registryId": a.o.RegistryID, "repositoryCreationTemplate": templateToOut(t)}, nil
}

func (a *API) describeRepositoryCreationTemplates(ctx context.Context, c *call) (any, error) {
	var in struct {
		Prefixes   []string `json:"prefixes"`
		NextToken  string   `json:"nextToken"`
		MaxResults *int     `json:"maxResults"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, p := range in.Prefixes {
		if err := validPrefix(p); err != nil {
			return nil, err
		}
		want[p] = true
	}
	if err := a.need(ctx, c, ""); err != nil {
		return nil, err
	}
	all, err := a.o.RepoConfig.ListCreationTemplates(ctx)
	if err != nil {
		return nil, err
	}
	var ts []store.CreationTemplate
	for _, t := range all {
		if len(want) == 0 || want[t.Prefix] {
			ts = append(ts, t)
		}
	}
	start, end, next, err := pageBounds(in.NextToken, in.MaxResults, len(ts))
	if err != nil {
		return nil, err
	}
	out := []templateOut{}
	for _, t := range ts[start:end] {
		out = append(out, templateToOut(t))
	}
	resp := map[string]any{"registryId": a.o.RegistryID, "repositoryCreationTemplates": out}
	if next != "" {
		resp["nextToken"] = next
	}
	return resp, nil
}
