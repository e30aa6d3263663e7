package vulndb

import "context"

// DigestLookups exposes digestLookups to the external tests (realfeeds_test.go).
func DigestLookups(ctx context.Context, d *DB, sample uint32) (LookupDigest, error) {
	return digestLookups(ctx, d, sample)
}

// CheckGolden exposes checkGolden to the external tests.
var CheckGolden = checkGolden

// UpdatingGolden says whether -update was given.
func UpdatingGolden() bool { return *update }
