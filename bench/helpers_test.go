package bench_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/result"
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

// outcome is what bench.Run returned.
type outcome struct {
	res *result.Result
	err error
}

// runAsync runs bench.Run with cfg in the background; its outcome arrives
// on the channel.
func runAsync(ctx context.Context, cfg bench.Config) <-chan outcome {
	done := make(chan outcome, 1)
	go func() {
		res, _, err := bench.Run(ctx, cfg)
		done <- outcome{res, err}
	}()
	return done
}
