package vulndb

import (
	"context"
	"encoding/json"
	"fmt"
)

// applyRejections enforces the rejection rule (see the package doc): no
// record of a CVE id that some source marks rejected is kept, from any
// source. It runs once per build, after every source was loaded or copied
// forward, so a rejection applies whatever the order of the updaters and
// whether or not the rejecting source changed. The work is bounded by the
// rejected ids and the records that name them: every step is an index seek
// (advisories(id), aliases(alias, advisory), affected's primary key through
// the advisory's pairs), never a scan of the DB.
//
//   - A record whose own id is rejected is deleted.
//   - A record that lists rejected CVEs among its aliases loses those
//     aliases and is kept: a CVE is often rejected as a duplicate of
//     another (CVE-2023-5129 of CVE-2023-4863), and the DSA, ALAS or GHSA
//     that named it still stands for a real fix. With no CVE left it is
//     reported under its own id, never under the rejected one.
//
// Deleted records are counted in their source's Rejected and removed from
// its Advisories and Affected counts. Changed records get a new digest, so
// their pairs count as changed for continuous rescans (their rows' stored
// digests are rewritten).
func (b *builder) applyRejections(ctx context.Context) error {
	fail := func(err error) error { return fmt.Errorf("vulndb: build: rejected ids: %w", err) }
	if err := b.conn.QueryRowContext(ctx, `SELECT COUNT(DISTINCT id) FROM rejected`).Scan(&b.rejectedIDs); err != nil {
		return fail(err)
	}
	if b.rejectedIDs == 0 {
		return nil
	}
	type rec struct {
		rid   int64
		pairs string
		row   advRow
		// drop lists the rejected aliases of a record kept under its own id.
		drop map[string]bool
	}
	load := func(q string, args ...any) ([]*rec, error) {
		rows, err := b.conn.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []*rec
		for rows.Next() {
			r := &rec{}
			if err := rows.Scan(append([]any{&r.rid, &r.pairs}, r.row.dest()...)...); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	doomed, err := load(`SELECT rid, pairs, ` + advCols + ` FROM advisories WHERE id IN (SELECT id FROM rejected) ORDER BY rid`)
	if err != nil {
		return fail(err)
	}

	// Records that name a rejected id as an alias.
	byAlias := map[int64]map[string]bool{}
	var order []int64
	rows, err := b.conn.QueryContext(ctx, `SELECT advisory, alias FROM aliases WHERE alias IN (SELECT id FROM rejected) ORDER BY advisory, alias`)
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var rid int64
		var alias string
		if err := rows.Scan(&rid, &alias); err != nil {
			rows.Close()
			return fail(err)
		}
		if byAlias[rid] == nil {
			byAlias[rid] = map[string]bool{}
			order = append(order, rid)
		}
		byAlias[rid][alias] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	gone := map[int64]bool{}
	for _, r := range doomed {
		gone[r.rid] = true
	}
	var trimmed []*rec
	for _, rid := range order {
		if gone[rid] {
			continue
		}
		rs, err := load(`SELECT rid, pairs, `+advCols+` FROM advisories WHERE rid = ?`, rid)
		if err != nil {
			return fail(err)
		}
		if len(rs) != 1 {
			continue
		}
		r := rs[0]
		r.drop = byAlias[rid]
		aliases, err := decodeList[string](r.row.aliases)
		if err != nil {
			return fail(fmt.Errorf("advisory %s: aliases: %w", r.row.id, err))
		}
		kept := aliases[:0:0]
		for _, al := range aliases {
			if !r.drop[al] {
				kept = append(kept, al)
			}
		}
		if r.row.aliases, err = jsonList(kept); err != nil {
			return fail(err)
		}
		trimmed = append(trimmed, r)
	}

	for _, r := range trimmed {
		d := digest(r.row.values()...)
		if _, err := b.conn.ExecContext(ctx, `UPDATE advisories SET aliases = ?, digest = ? WHERE rid = ?`,
			r.row.aliases, d, r.rid); err != nil {
			return fail(err)
		}
		var pairs [][2]string
		if err := json.Unmarshal([]byte(r.pairs), &pairs); err != nil {
			return fail(fmt.Errorf("advisory %s: pairs: %w", r.row.id, err))
		}
		if err := b.redigestRows(ctx, r.rid, pairs, d); err != nil {
			return fail(fmt.Errorf("advisory %s: row digests: %w", r.row.id, err))
		}
		for al := range r.drop {
			if _, err := b.conn.ExecContext(ctx, `DELETE FROM aliases WHERE alias = ? AND advisory = ?`, al, r.rid); err != nil {
				return fail(err)
			}
		}
	}
	for _, r := range doomed {
		var pairs [][2]string
		if err := json.Unmarshal([]byte(r.pairs), &pairs); err != nil {
			return fail(fmt.Errorf("advisory %s: pairs: %w", r.row.id, err))
		}
		affected := 0
		for _, p := range pairs {
			res, err := b.conn.ExecContext(ctx, `DELETE FROM affected WHERE namespace = ? AND package = ? AND advisory = ?`, p[0], p[1], r.rid)
			if err != nil {
				return fail(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fail(err)
			}
			affected += int(n)
		}
		aliases, err := decodeList[string](r.row.aliases)
		if err != nil {
			return fail(fmt.Errorf("advisory %s: aliases: %w", r.row.id, err))
		}
		for _, al := range aliases {
			if _, err := b.conn.ExecContext(ctx, `DELETE FROM aliases WHERE alias = ? AND advisory = ?`, al, r.rid); err != nil {
				return fail(err)
			}
		}
		if _, err := b.conn.ExecContext(ctx, `DELETE FROM advisories WHERE rid = ?`, r.rid); err != nil {
			return fail(err)
		}
		for _, s := range b.sources {
			if s.Name == r.row.source {
				s.Rejected++
				s.Advisories--
				s.Affected -= affected
			}
		}
	}
	return nil
}
