package bench_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// psql runs one query returning one nullable text value.
func psql(dsn, sql string) (string, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var s *string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		return "", fmt.Errorf("%s: %w", sql, err)
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}
