package source_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

func cluster(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	testtier.Integration(t)
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		t.Fatalf("private cluster: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

func exec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// clusterWithTable starts a private cluster with an empty transactions
// table and returns it with a connection that is closed when the test ends.
func clusterWithTable(t *testing.T) (*pgcluster.Cluster, *pgx.Conn) {
	t.Helper()
	c := cluster(t)
	admin, err := pgx.Connect(context.Background(), c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	exec(t, admin, `CREATE TABLE transactions (id bigint PRIMARY KEY, user_id int NOT NULL, amount numeric(10,2) NOT NULL,
		card_type text NOT NULL, merchant_id int NOT NULL, created_at timestamp NOT NULL)`)
	return c, admin
}

const insertRow = `INSERT INTO transactions VALUES ($1, 1001, 12.34, 'AMEX', 7, '2026-01-07 17:18:03.683652')`

// TestPollCommitOrder commits id 3 after id 4 has been polled: the naive
// cursor has moved past 3 and never sees it; the safe cursor does.
func TestPollCommitOrder(t *testing.T) {
	c, admin := clusterWithTable(t)
	ctx := context.Background()
	exec(t, admin, insertRow, 1)
	exec(t, admin, insertRow, 2)

	late, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close(ctx)
	tx, err := late.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, insertRow, 3); err != nil {
		t.Fatal(err)
	}
	exec(t, admin, insertRow, 4) // commits while 3 is still in flight

	got := map[string][]int64{}
	var mu sync.Mutex
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, mode := range []string{source.PollNaive, source.PollSafe} {
		p, err := source.NewPoll(ctx, source.PollConfig{DSN: c.DSN(), Interval: 20 * time.Millisecond, Mode: mode, Limit: 2, FirstID: 1})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.Run(pctx, func(d *source.Delivery) {
				if d.Tx.AmountCents != 1234 || d.Tx.UserID != 1001 || d.Tx.CreatedAt != 1767806283683652 || d.ReceivedNs == 0 {
					t.Errorf("%s: row decoded wrong: %+v", mode, d)
				}
				mu.Lock()
				got[mode] = append(got[mode], d.Tx.ID)
				mu.Unlock()
			})
			if err != nil {
				t.Errorf("%s: %v", mode, err)
			}
		}()
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[source.PollNaive]) >= 3 && len(got[source.PollSafe]) >= 3
	})
	time.Sleep(100 * time.Millisecond) // several polls with 3 in flight
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	exec(t, admin, insertRow, 5)
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got[source.PollSafe]) >= 5 && contains(got[source.PollNaive], 5)
	})
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()

	sorted := func(s []int64) []int64 {
		s = append([]int64(nil), s...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s
	}
	if g := sorted(got[source.PollSafe]); !equal(g, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("safe polling delivered %v, want every row exactly once", got[source.PollSafe])
	}
	if g := sorted(got[source.PollNaive]); !equal(g, []int64{1, 2, 4, 5}) {
		t.Errorf("naive polling delivered %v, want 3 lost (committed behind the cursor)", got[source.PollNaive])
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPollReconnects terminates the poller's backend between polls: the
// poller reconnects under its application_name, keeps its cursor (no row
// twice, none lost) and counts the reconnect.
func TestPollReconnects(t *testing.T) {
	c, admin := clusterWithTable(t)
	ctx := context.Background()
	exec(t, admin, insertRow, 1)
	const app = "cdcbench-test-poll"
	p, err := source.NewPoll(ctx, source.PollConfig{DSN: c.DSN(), AppName: app, Interval: 20 * time.Millisecond, Mode: source.PollSafe, Limit: 10, FirstID: 1})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []int64
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- p.Run(pctx, func(d *source.Delivery) {
			mu.Lock()
			got = append(got, d.Tx.ID)
			mu.Unlock()
		})
	}()
	seen := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= n
		}
	}
	waitFor(t, seen(1))
	var terminated int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, app).Scan(&terminated); err != nil || terminated != 1 {
		t.Fatalf("terminated %d backends named %s (%v), want the poller's", terminated, app, err)
	}
	exec(t, admin, insertRow, 2)
	exec(t, admin, insertRow, 3)
	waitFor(t, seen(3))
	var named int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&named); err != nil || named != 1 {
		t.Errorf("%d backends named %s after the reconnect (%v), want 1", named, app, err)
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !equal(got, []int64{1, 2, 3}) {
		t.Errorf("delivered %v, want 1, 2, 3 once each", got)
	}
	if p.Reconnects() != 1 {
		t.Errorf("Reconnects() = %d, want 1", p.Reconnects())
	}
}
