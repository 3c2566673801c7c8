package producer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// TestRaiseMaxConcurrent has writers report interleaved lags at once: the
// maximum must be the largest of them in every trial. A read-then-store
// loses it as soon as one writer stores a smaller value it compared
// against a stale read, which on two cores happens within a few trials.
func TestRaiseMaxConcurrent(t *testing.T) {
	const writers, perWriter, trials = 4, 2000, 200
	for trial := 0; trial < trials; trial++ {
		var m atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := int64(0); w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for k := int64(0); k < perWriter; k++ {
					raiseMax(&m, k*writers+w)
				}
			}()
		}
		close(start)
		wg.Wait()
		if want := int64(perWriter*writers - 1); m.Load() != want {
			t.Fatalf("trial %d: max %d, want %d: a smaller lag overwrote a larger one", trial, m.Load(), want)
		}
	}
}

var (
	clusterOnce sync.Once
	testCluster *pgcluster.Cluster
	clusterErr  error
)

// cluster is a private PostgreSQL server shared by the package's tests,
// stopped by TestMain. No skipping: `make test` installs PostgreSQL first.
func cluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	testtier.Integration(t)
	clusterOnce.Do(func() { testCluster, clusterErr = pgcluster.Start(context.Background(), pgcluster.Options{}) })
	if clusterErr != nil {
		t.Fatalf("private cluster: %v", clusterErr)
	}
	return testCluster
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testCluster != nil {
		_ = testCluster.Stop(context.Background())
	}
	os.Exit(code)
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func exec(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// freshTable gives the test database an empty transactions table (the
// seed's columns; bench.Schema is not importable from here).
func freshTable(t *testing.T, c *pgx.Conn) {
	t.Helper()
	exec(t, c, "DROP TABLE IF EXISTS transactions")
	exec(t, c, `CREATE TABLE transactions (id bigint PRIMARY KEY, user_id integer NOT NULL, amount numeric(10,2) NOT NULL,
		card_type text NOT NULL, merchant_id integer NOT NULL, created_at timestamp without time zone NOT NULL)`)
}

// otherWriterSQL inserts rows with ids from..to as another writer would:
// values no batch of the generator has (created in 2000).
const otherWriterSQL = `INSERT INTO transactions SELECT g, 1000, 0.01, 'VISA', 1, '2000-01-01' FROM generate_series($1::bigint, $2::bigint) g`

// TestVerifyLanded reads a retried batch's ids back: only the batch's own
// rows, value for value, count as landed.
func TestVerifyLanded(t *testing.T) {
	c := cluster(t)
	conn := connect(t, c.DSN())
	batch := func() []txn.Row {
		rows := make([]txn.Row, 5)
		NewGenerator(WorkloadConfig{BatchSize: 5, Users: 50, Conns: 1, Seed: 3}).Next(time.Date(2026, 1, 7, 17, 18, 3, 683652000, time.UTC).UnixMicro(), rows)
		return rows
	}
	dup := &pgconn.PgError{Code: "23505", Message: "duplicate key value violates unique constraint"}
	w := writer{conn: conn, insert: InsertCopy}
	for _, tc := range []struct {
		name        string
		setup       func(rows []txn.Row) // with the table empty
		wantDiffer  []int64
		wantMissing []int64
	}{
		{name: "the batch committed before the drop", setup: func(rows []txn.Row) {
			if err := w.write(context.Background(), rows); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "another writer holds every id", setup: func(rows []txn.Row) {
			exec(t, conn, otherWriterSQL, rows[0].ID, rows[4].ID)
		}, wantDiffer: []int64{2, 3, 4, 5, 6}},
		{name: "another writer holds two ids, the rest are free", setup: func(rows []txn.Row) {
			exec(t, conn, otherWriterSQL, rows[3].ID, rows[4].ID)
		}, wantDiffer: []int64{5, 6}, wantMissing: []int64{2, 3, 4}},
		{name: "one amount differs by a cent", setup: func(rows []txn.Row) {
			if err := w.write(context.Background(), rows); err != nil {
				t.Fatal(err)
			}
			exec(t, conn, "UPDATE transactions SET amount = amount + 0.01 WHERE id = $1", rows[2].ID)
		}, wantDiffer: []int64{4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			freshTable(t, conn)
			rows := batch()
			tc.setup(rows)
			err := verifyLanded(context.Background(), conn, rows, dup)
			if tc.wantDiffer == nil && tc.wantMissing == nil {
				if err != nil {
					t.Fatalf("verifyLanded = %v, want nil", err)
				}
				return
			}
			var ce *ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("verifyLanded = %v, want a *ConflictError", err)
			}
			if got := conflictIDs(ce.Differ); !reflect.DeepEqual(got, tc.wantDiffer) && len(got)+len(tc.wantDiffer) > 0 {
				t.Errorf("differing ids %v, want %v", got, tc.wantDiffer)
			}
			if !reflect.DeepEqual(ce.Missing, tc.wantMissing) {
				t.Errorf("missing ids %v, want %v", ce.Missing, tc.wantMissing)
			}
			if !errors.Is(err, dup) {
				t.Errorf("the conflict does not wrap the unique violation: %v", err)
			}
		})
	}
}

// TestRetriedBatchConflict is issue 14's reproduction with a real second
// writer: it holds batch 3's ids in an open transaction, the producer's COPY
// of batch 3 waits on its lock, the producer's backend is terminated, the
// producer reconnects and its retried COPY waits again; then the other
// writer commits. The retry fails on the primary key, and the producer must
// stop naming the conflict rather than count batch 3 as written.
func TestRetriedBatchConflict(t *testing.T) {
	c := cluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := connect(t, c.DSN())
	freshTable(t, admin)
	const batchSize, blocked = 10, 3
	first := BatchIDs(blocked, batchSize)
	last := first + batchSize - 1

	other := connect(t, c.DSN())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, otherWriterSQL, first, last); err != nil {
		t.Fatal(err)
	}

	p, err := New(ctx, Config{DSN: c.DSN(), Insert: InsertCopy,
		Workload: WorkloadConfig{BatchSize: batchSize, Users: 100, Conns: 1, Seed: 1},
		Schedule: schedule.Constant{PerSecond: 50, Length: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := p.Run(ctx, time.Now(), nil)
		done <- result{st, err}
	}()

	waiting := func(not int) int { // the pid of a producer COPY waiting on a lock
		t.Helper()
		for {
			var pid int
			err := admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
				WHERE query LIKE 'COPY transactions%' AND wait_event_type = 'Lock' AND pid <> $1`, not).Scan(&pid)
			if err == nil {
				return pid
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			select {
			case r := <-done:
				t.Fatalf("the producer ended before its COPY waited on the other writer: %+v", r)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	pid := waiting(0)
	exec(t, admin, "SELECT pg_terminate_backend($1)", pid)
	waiting(pid) // reconnected, and the retry waits on the same lock
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	r := <-done
	t.Logf("Run: %v", r.err)
	var ce *ConflictError
	if !errors.As(r.err, &ce) {
		t.Fatalf("Run = %v, want a *ConflictError", r.err)
	}
	if got := conflictIDs(ce.Differ); len(got) != batchSize || got[0] != first || got[batchSize-1] != last || len(ce.Missing) != 0 {
		t.Errorf("conflict on ids %v, missing %v; want %d-%d", got, ce.Missing, first, last)
	}
	for _, want := range []string{fmt.Sprintf("batch %d", blocked), fmt.Sprintf("ids %d-%d hold other rows", first, last),
		"amount 0.01", "2000-01-01", "not written"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error %q does not say %q", r.err, want)
		}
	}
	if r.st.Rows != blocked*batchSize {
		t.Errorf("Stats.Rows = %d, want the %d rows committed before the conflict", r.st.Rows, blocked*batchSize)
	}
	if r.st.Reconnects != 1 {
		t.Errorf("%d reconnects, want 1", r.st.Reconnects)
	}
	if p.Log().Commit(blocked) != 0 {
		t.Errorf("batch %d is logged as committed: its rows would count as produced and then as lost", blocked)
	}
	for b := int64(0); b < blocked; b++ {
		if p.Log().Commit(b) == 0 {
			t.Errorf("batch %d, before the conflict, has no commit", b)
		}
	}
	var theirs int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM transactions WHERE id BETWEEN $1 AND $2 AND created_at = '2000-01-01'", first, last).Scan(&theirs); err != nil || theirs != batchSize {
		t.Errorf("the other writer's rows: %d of %d (%v)", theirs, batchSize, err)
	}
}
