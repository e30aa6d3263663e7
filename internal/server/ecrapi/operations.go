package ecrapi

import (
	"maps"
	"slices"
)

// Operations this server does not implement. Every ECR operation answers:
// the implemented ones from the dispatch map built in New, the others from
// unavailable with an ECR error type that the operation's model lists
// (ValidationException where it may be returned, InvalidParameterException
// otherwise, or the error that describes the situation exactly) and a
// message that says what is missing and where it is tracked.
// UnknownOperationException is kept for targets that are no ECR operation.
// docs/ecr-api.md lists every operation with the same status
// (TestOperationsTable).

// OpStatus is an operation's status in docs/ecr-api.md.
type OpStatus string

// The statuses of docs/ecr-api.md.
const (
	StatusImplemented   OpStatus = "implemented"
	StatusNotEnabled    OpStatus = "not enabled"
	StatusNotApplicable OpStatus = "not applicable"
)

// unavailableOp is how a not implemented operation answers.
type unavailableOp struct {
	status  OpStatus
	errType string
	message string
}

// unavailableOps maps every ECR operation the server does not implement to
// its answer.
func unavailableOps() map[string]unavailableOp {
	m := map[string]unavailableOp{}
	add := func(status OpStatus, errType, suffix string, ops ...string) {
		for _, op := range ops {
			m[op] = unavailableOp{status: status, errType: errType, message: op + suffix + "; see docs/ecr-api.md"}
		}
	}
	// Replication itself is served (replication.go); backfilling images
	// pushed before a rule existed is not.
	add(StatusNotEnabled, "ValidationException", ": replication backfill is not enabled on this server (issue 19): replication copies the images pushed after PutReplicationConfiguration, and earlier images are not backfilled",
		"DescribeReplicationBackfillResults", "ListReplicationBackfills",
		"StartReplicationBackfill", "StopReplicationBackfill")
	// AWS-only features.
	signer := " does not apply here: image signing is configured through AWS Signer, which this server does not use; sign images with a referrer-based tool (cosign, notation) instead"
	add(StatusNotApplicable, "SigningConfigurationNotFoundException", signer+", so there is no signing configuration", "GetSigningConfiguration", "DeleteSigningConfiguration")
	add(StatusNotApplicable, "ValidationException", signer, "PutSigningConfiguration")
	archive := " does not apply here: this server has one storage class (STANDARD) and no archive"
	add(StatusNotApplicable, "ImageStorageClassUpdateNotSupportedException", archive, "UpdateImageStorageClass")
	exclusions := " does not apply here: pull-time update exclusions name IAM principals, and this server's principals are its configured users and access keys"
	add(StatusNotApplicable, "ExclusionNotFoundException", exclusions+", so no exclusion exists", "DeregisterPullTimeUpdateExclusion")
	add(StatusNotApplicable, "ValidationException", exclusions, "RegisterPullTimeUpdateExclusion", "ListPullTimeUpdateExclusions")
	return m
}

// unavailableError is the answer to an operation the server does not
// implement, or nil when name is no ECR operation.
func (a *API) unavailableError(name string) error {
	u, ok := a.unavailable[name]
	if !ok {
		return nil
	}
	return apiErr(u.errType, "%s", u.message)
}

// Operations lists the operations the API implements, sorted.
func (a *API) Operations() []string {
	return slices.Sorted(maps.Keys(a.actions))
}
