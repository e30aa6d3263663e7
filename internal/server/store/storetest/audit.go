package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stowaway-scanner/stowaway/internal/server/store"
)

// RunAudit runs the conformance checks of the audit trail's table:
// append, filters, paging and pruning.
func RunAudit(t *testing.T, open Opener) {
	runChecks(t, open, []check{
		{"FiltersAndPaging", testAuditFilters},
		{"Prune", testAuditPrune},
	})
}

func auditRec(i int, principal, repo, decision string) store.AuditRecord {
	return store.AuditRecord{
		Time: t0.Add(time.Duration(i) * time.Minute), Principal: principal, Source: "192.0.2.7",
		Action: "ecr:PutImage", Repository: repo, Digest: fmt.Sprintf("sha256:%064d", i), Tag: fmt.Sprint(i),
		Decision: decision, Reason: "r" + fmt.Sprint(i), RequestID: fmt.Sprintf("req-%d", i),
	}
}

func testAuditFilters(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	var all []store.AuditRecord
	for i := range 10 {
		who, repo, dec := "alice", "app", "allow"
		if i%2 == 1 {
			who, dec = "bob", "deny"
		}
		if i%3 == 0 {
			repo = "team/x"
		}
		all = append(all, auditRec(i, who, repo, dec))
	}
	must(t, s.AppendAudit(ctx, all[:4]...))
	for _, r := range all[4:] {
		must(t, s.AppendAudit(ctx, r))
	}
	ignoreID := cmpopts.IgnoreFields(store.AuditRecord{}, "ID")
	pick := func(keep func(store.AuditRecord) bool) []store.AuditRecord {
		var out []store.AuditRecord
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i])
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		keep func(store.AuditRecord) bool
	}{
		{"all", store.AuditFilter{}, func(store.AuditRecord) bool { return true }},
		{"repository", store.AuditFilter{Repository: "team/x"}, func(r store.AuditRecord) bool { return r.Repository == "team/x" }},
		{"principal", store.AuditFilter{Principal: "bob"}, func(r store.AuditRecord) bool { return r.Principal == "bob" }},
		{"decision", store.AuditFilter{Decision: "deny", Repository: "app"}, func(r store.AuditRecord) bool { return r.Decision == "deny" && r.Repository == "app" }},
		{"time range", store.AuditFilter{Since: t0.Add(2 * time.Minute), Until: t0.Add(5 * time.Minute)}, func(r store.AuditRecord) bool {
			return !r.Time.Before(t0.Add(2*time.Minute)) && r.Time.Before(t0.Add(5*time.Minute))
		}},
	} {
		got, err := s.ListAudit(ctx, tc.f)
		must(t, err)
		if diff := cmp.Diff(pick(tc.keep), got, ignoreID); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	// Pages of 3, newest first, cover everything once.
	var paged []store.AuditRecord
	f := store.AuditFilter{Limit: 3}
	for range 10 {
		page, err := s.ListAudit(ctx, f)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("page of %d, limit 3", len(page))
		}
		paged = append(paged, page...)
		if len(page) < 3 {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	if diff := cmp.Diff(pick(func(store.AuditRecord) bool { return true }), paged, ignoreID); diff != "" {
		t.Errorf("paged (-want +got):\n%s", diff)
	}
	for i := 1; i < len(paged); i++ {
		if paged[i].ID >= paged[i-1].ID {
			t.Errorf("ids not decreasing: %d then %d", paged[i-1].ID, paged[i].ID)
		}
	}
}

func testAuditPrune(t *testing.T, s *store.SQL) {
	ctx := context.Background()
	for i := range 5 {
		must(t, s.AppendAudit(ctx, auditRec(i, "alice", "app", "allow")))
	}
	n, err := s.PruneAudit(ctx, t0.Add(3*time.Minute))
	must(t, err)
	if n != 3 {
		t.Errorf("pruned %d, want 3", n)
	}
	got, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(got) != 2 || got[0].Tag != "4" || got[1].Tag != "3" {
		t.Errorf("after prune: %+v", got)
	}
}
