package vulndb

import (
	"context"
	"fmt"
)

// Namespaces lists the namespaces that hold at least one record, in order.
// It walks the (namespace, package) key with one index seek per namespace.
func (d *DB) Namespaces(ctx context.Context) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `WITH RECURSIVE ns(n) AS (
		SELECT MIN(namespace) FROM pairs
		UNION ALL
		SELECT (SELECT MIN(namespace) FROM pairs WHERE namespace > n) FROM ns WHERE n IS NOT NULL
	) SELECT n FROM ns WHERE n IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("vulndb: namespaces: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("vulndb: namespaces: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
