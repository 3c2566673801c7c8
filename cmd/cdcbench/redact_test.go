package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestNoPasswordPrinted gives stack up and run a DSN with a password in
// each form a DSN can hold one, on a server that trusts any password, and
// looks for the password in everything they print: the stack line, the
// psql hint, the leftover-slot warning, and the error of a server that
// does not answer.
func TestNoPasswordPrinted(t *testing.T) {
	testtier.Integration(t)
	pg, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	// A killed run's slot, for run's warning.
	conn, err := pgx.Connect(context.Background(), pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "SELECT pg_create_logical_replication_slot('cdcbench_killed_cdc', 'pgoutput')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	const secret = "S3cr3t-pw"
	forms := []struct{ name, dsn string }{
		{"userinfo", "postgres://cdcbench:" + secret + "@127.0.0.1:%d/postgres?sslmode=disable"},
		{"query", "postgres://cdcbench@127.0.0.1:%d/postgres?sslmode=disable&password=" + secret},
		{"key=value", "host=127.0.0.1 port=%d user=cdcbench dbname=postgres sslmode=disable password=" + secret},
		{"key=value quoted", "host=127.0.0.1 port=%d user=cdcbench dbname=postgres sslmode=disable password='" + secret + "'"},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			dsn := fmt.Sprintf(f.dsn, pg.Port())
			check := func(what, out string, wants ...string) {
				t.Helper()
				if strings.Contains(out, secret) {
					t.Errorf("%s printed the password:\n%s", what, out)
				}
				for _, w := range wants {
					if !strings.Contains(out, w) {
						t.Errorf("%s did not print %q:\n%s", what, w, out)
					}
				}
			}

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			var out, errb syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"cdcbench", "stack", "up", "--pg-dsn", dsn, "--reset-table"}, &out, &errb)
			}()
			if !eventually(50*time.Second, func() bool { return strings.Contains(out.String(), "up; Ctrl-C") }) {
				t.Errorf("stack up did not come up:\n%s\n%s", out.String(), errb.String())
			}
			cancel()
			<-done
			check("stack up", out.String()+errb.String(), "PostgreSQL  ", "try:  psql '", "xxxxx")

			stdout, stderr, _ := cdcbench(t, "run", "--scenario", "smoke", "--duration", "1s", "--warmup", "0s", "--paths", "poll-100ms",
				"--pg-dsn", dsn, "--reset-table", "--results", t.TempDir())
			check("run", stdout+stderr, "stack up in", "cdcbench_killed_cdc", "cdcbench clean --pg-dsn '")

			bad := strings.Replace(dsn, fmt.Sprint(pg.Port()), "1", 1)
			stdout, stderr, code := cdcbench(t, "stack", "up", "--pg-dsn", bad)
			if code == 0 {
				t.Errorf("stack up on a closed port exited 0")
			}
			check("stack up on a closed port", stdout+stderr)
		})
	}
}
