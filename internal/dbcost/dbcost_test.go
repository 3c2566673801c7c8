package dbcost_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cdcbench/cdcbench/internal/dbcost"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/proccost"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// cluster is shared by the tests: starting one takes seconds. Each test
// works in a database of its own, and tests do not run in parallel, because
// CPU and slots are server-wide. The first newDB starts it (so that -short
// starts none), TestMain stops it.
var (
	clusterOnce sync.Once
	cluster     *pgcluster.Cluster
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "stop cluster:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	schema = `CREATE TABLE transactions (id bigint PRIMARY KEY, user_id int NOT NULL, amount numeric(10,2) NOT NULL,
		card_type text NOT NULL, merchant_id int NOT NULL, created_at timestamp NOT NULL)`
	// pollSQL is the agents' polling query (package source).
	pollSQL = `SELECT id, user_id, amount, card_type, merchant_id, created_at FROM transactions WHERE id > $1 ORDER BY id LIMIT $2`
	copySQL = `COPY transactions (id, user_id, amount, card_type, merchant_id, created_at) FROM STDIN`
)

// newDB creates a database with the transactions table (and the
// pg_stat_statements extension when statements is set) and returns its
// connection config; the database is dropped when the test ends.
func newDB(t *testing.T, name string, statements bool) *pgx.ConnConfig {
	t.Helper()
	testtier.Integration(t)
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// Autovacuum off: an ANALYZE of the freshly filled table would add
		// transactions and reads to a window whose counts the tests check exactly.
		cluster, clusterErr = pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{"autovacuum": "off"}})
	})
	if clusterErr != nil {
		t.Fatalf("dbcost tests need a PostgreSQL cluster: %v", clusterErr)
	}
	if statements && !cluster.HasStatStatements() {
		t.Fatal("pg_stat_statements is not installed for the test cluster (apt-get install postgresql-contrib)")
	}
	ctx := context.Background()
	admin := connect(t, mustConfig(t, cluster.DSN()))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	cfg := mustConfig(t, cluster.DSN())
	cfg.Database = name
	conn := connect(t, cfg)
	stmts := []string{schema}
	if statements {
		stmts = append(stmts, "CREATE EXTENSION pg_stat_statements")
	}
	for _, sql := range stmts {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return cfg
}

func mustConfig(t *testing.T, dsn string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// connect opens a connection that is closed when the test ends.
func connect(t *testing.T, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func newSampler(t *testing.T, cfg *pgx.ConnConfig, serverPID int) *dbcost.Sampler {
	t.Helper()
	s, err := dbcost.NewSampler(context.Background(), connect(t, cfg), serverPID)
	if err != nil {
		t.Fatalf("NewSampler: %v", err)
	}
	return s
}

func take(t *testing.T, s *dbcost.Sampler) dbcost.Sample {
	t.Helper()
	smp, err := s.Take(context.Background())
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return smp
}

// copyRows writes rows from..to-1 with one COPY, as the producer does.
func copyRows(t *testing.T, conn *pgx.Conn, from, to int) {
	t.Helper()
	var b strings.Builder
	for id := from; id < to; id++ {
		fmt.Fprintf(&b, "%d\t%d\t%d.%02d\tVISA\t%d\t2026-01-02 03:04:05.%06d\n", id, id%97, id%5000, id%100, id%13, id)
	}
	if _, err := conn.PgConn().CopyFrom(context.Background(), strings.NewReader(b.String()), copySQL); err != nil {
		t.Fatalf("copy: %v", err)
	}
}

// closeAndWait closes conns and waits for their backends to exit: a
// backend publishes its last statistics when it exits.
func closeAndWait(t *testing.T, conns ...*pgx.Conn) {
	t.Helper()
	for _, c := range conns {
		pid := int(c.PgConn().PID())
		c.Close(context.Background())
		waitExit(t, pid)
	}
}

// waitExit waits until the server process pid is gone (reaped).
func waitExit(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server process %d still running 5 s after its connection closed", pid)
		}
	}
}

// TestPollingCost runs what the poll path does — a producer COPYing 1,000
// rows in 10 batches, an agent polling 50 times — and checks that the cost
// says so.
func TestPollingCost(t *testing.T) {
	const (
		rows, batches, polls = 1000, 10, 50
	)
	ctx := context.Background()
	cfg := newDB(t, "polling", true)
	s := newSampler(t, cfg, cluster.PID())
	producer, agent := connect(t, cfg), connect(t, cfg)

	before := take(t, s)
	for b := range batches {
		copyRows(t, producer, 1+b*rows/batches, 1+(b+1)*rows/batches)
	}
	var returned int64
	for range polls {
		r, err := agent.Query(ctx, pollSQL, 0, rows)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		for r.Next() {
			returned++
		}
		if err := r.Err(); err != nil {
			t.Fatalf("poll: %v", err)
		}
	}
	open := take(t, s)
	closeAndWait(t, producer, agent)
	closed := take(t, s)

	// pg_stat_statements, WAL and CPU need no waiting: right while the
	// workload's connections are still open.
	t.Run("while connected", func(t *testing.T) {
		c := dbcost.Diff(before, open, rows)
		if len(c.Problems) > 0 {
			t.Errorf("problems: %v", c.Problems)
		}
		if c.AgentReads == nil || c.ProducerWrites == nil || c.OtherStatements == nil {
			t.Fatalf("statements not available: %+v", c)
		}
		if got := *c.AgentReads; got.Calls != polls || got.Rows != returned || returned != polls*rows {
			t.Errorf("agent reads = %+v, want %d calls returning %d rows (%d returned)", got, polls, polls*rows, returned)
		}
		if got := *c.ProducerWrites; got.Calls != batches || got.Rows != rows {
			t.Errorf("producer writes = %+v, want %d calls writing %d rows", got, batches, rows)
		}
		if c.OtherStatements.Calls != 0 {
			t.Errorf("other statements = %+v, want none", *c.OtherStatements)
		}
		if c.AgentReads.ExecMs <= 0 {
			t.Errorf("agent exec time = %v ms, want > 0", c.AgentReads.ExecMs)
		}
		// One entry per statement, its text as sent (pollSQL has only
		// parameters, nothing to normalise).
		var listed []string
		for _, st := range c.Statements {
			listed = append(listed, fmt.Sprintf("%s %d %d %s", st.Class, st.Calls, st.Rows, st.Query))
		}
		want := []string{fmt.Sprintf("read %d %d %s", polls, returned, pollSQL), fmt.Sprintf("write %d %d %s", batches, rows, copySQL)}
		if !slices.Equal(listed, want) {
			t.Errorf("statements = %q, want %q", listed, want)
		}
		if c.WALBytes < rows*50 {
			t.Errorf("WAL = %d bytes for %d rows, want at least 50 bytes a row", c.WALBytes, rows)
		}
		checkCPU(t, c, false)
		t.Logf("while connected: agent %d calls, %d rows, %.1f ms; producer %d calls, %d rows, %.1f ms; WAL %d bytes; server CPU %.2f s",
			c.AgentReads.Calls, c.AgentReads.Rows, c.AgentReads.ExecMs, c.ProducerWrites.Calls, c.ProducerWrites.Rows, c.ProducerWrites.ExecMs,
			c.WALBytes, *c.ServerCPUSeconds)
	})

	// The table and database counters are complete once the workload's
	// backends have exited.
	t.Run("after disconnect", func(t *testing.T) {
		c := dbcost.Diff(before, closed, rows)
		if len(c.Problems) > 0 {
			t.Errorf("problems: %v", c.Problems)
		}
		if c.Table.TupInserted != rows {
			t.Errorf("n_tup_ins = %d, want %d", c.Table.TupInserted, rows)
		}
		if scans := c.Table.SeqScan + c.Table.IdxScan; scans != polls {
			t.Errorf("scans = %d (seq %d, idx %d), want one per poll (%d)", scans, c.Table.SeqScan, c.Table.IdxScan, polls)
		}
		if c.RowsRead < returned {
			t.Errorf("rows read = %d, fewer than the %d the polls returned", c.RowsRead, returned)
		}
		if c.Database.TupReturned+c.Database.TupFetched < c.RowsRead {
			t.Errorf("database tuples %+v fewer than the table's rows read %d", c.Database, c.RowsRead)
		}
		// One transaction per COPY and per poll, plus the one in which
		// pgx prepared the polling statement.
		if want := int64(batches + polls + 1); c.Database.XactCommit != want {
			t.Errorf("xact_commit = %d, want %d", c.Database.XactCommit, want)
		}
		if c.Database.BlksHit+c.Database.BlksRead == 0 {
			t.Errorf("no blocks accessed: %+v", c.Database)
		}
		checkCPU(t, c, true)
		cOpen := dbcost.Diff(before, open, rows)
		// Backends that exited keep their CPU in the total (the
		// postmaster's cutime), so it cannot fall when they go.
		if *c.ServerCPUSeconds < *cOpen.ServerCPUSeconds {
			t.Errorf("server CPU fell from %.2f s to %.2f s when the workload disconnected", *cOpen.ServerCPUSeconds, *c.ServerCPUSeconds)
		}
		p := c.Per1000
		if p == nil || p.AgentStatements == nil || *p.AgentStatements != polls || p.RowsRead != float64(c.RowsRead) {
			t.Errorf("per 1000 = %+v, want %d agent statements and %d rows read", p, polls, c.RowsRead)
		}
		j, _ := json.MarshalIndent(c, "", "  ")
		t.Logf("%d polls of %d rows and %d COPYs: %s", polls, rows, batches, j)
	})
}

// checkCPU wants no more server CPU than the machine has, and, with
// positive, some. /proc counts each live process in 10 ms ticks, so the
// 20-odd ms that 50 polls cost can read as a single tick while the backends
// live; once they have exited, the postmaster holds their exact total.
func checkCPU(t *testing.T, c dbcost.Cost, positive bool) {
	t.Helper()
	if c.ServerCPUSeconds == nil {
		t.Fatal("server CPU not available for a local server")
	}
	cpu, limit := *c.ServerCPUSeconds, c.Seconds*float64(runtime.NumCPU())
	if cpu < 0 || cpu > limit || positive && cpu == 0 {
		t.Errorf("server CPU = %.2f s in %.2f s on %d CPUs, want in [0, %.2f], positive: %v", cpu, c.Seconds, runtime.NumCPU(), limit, positive)
	}
}

// TestSamplerExcluded takes many samples and expects them to cost nothing:
// the sampler's transactions, statements and CPU are its own, not the
// workload's. A harness query tagged with HarnessTag is kept out of the
// agents' reads.
func TestSamplerExcluded(t *testing.T) {
	const (
		// The sampler samples until its own backend has used this much
		// CPU, so that counting it as load could not go unnoticed.
		ownCPU = 0.1
		// An idle server's background processes may use a tick or two.
		idleCPU = 0.03
	)
	ctx := context.Background()
	cfg := newDB(t, "excluded", true)
	s := newSampler(t, cfg, cluster.PID())
	copyRows(t, connect(t, cfg), 1, 101)

	t.Run("own samples", func(t *testing.T) {
		before := take(t, s)
		after, samples := before, 0
		for float64(after.SamplerCPUTicks-before.SamplerCPUTicks)/proccost.TicksPerSecond < ownCPU {
			if samples++; samples > 10000 {
				t.Fatalf("%d samples used only %d ticks of the sampler's backend", samples, after.SamplerCPUTicks-before.SamplerCPUTicks)
			}
			after = take(t, s)
		}
		c := dbcost.Diff(before, after, 0)
		if len(c.Problems) > 0 {
			t.Errorf("problems: %v", c.Problems)
		}
		if c.Database != (dbcost.DatabaseCounters{}) {
			t.Errorf("database counters after %d samples = %+v, want all zero", samples, c.Database)
		}
		if c.Table != (dbcost.TableCounters{}) {
			t.Errorf("table counters = %+v, want all zero", c.Table)
		}
		for name, st := range map[string]*dbcost.StatementCounters{"agent": c.AgentReads, "producer": c.ProducerWrites, "other": c.OtherStatements} {
			if st == nil || st.Calls != 0 {
				t.Errorf("%s statements = %+v, want 0 calls", name, st)
			}
		}
		raw := float64(*after.ServerCPUTicks-*before.ServerCPUTicks) / proccost.TicksPerSecond
		own := float64(after.SamplerCPUTicks-before.SamplerCPUTicks) / proccost.TicksPerSecond
		if c.ServerCPUSeconds == nil || *c.ServerCPUSeconds > idleCPU {
			t.Errorf("server CPU without the sampler = %v s (raw %.2f s, sampler %.2f s), want at most %.2f s", c.ServerCPUSeconds, raw, own, idleCPU)
		}
		t.Logf("%d samples in %.2f s: sampler backend CPU %.2f s, server CPU raw %.2f s, net %.2f s",
			samples, c.Seconds, own, raw, *c.ServerCPUSeconds)
	})

	t.Run("harness tag", func(t *testing.T) {
		harness := connect(t, cfg)
		before := take(t, s)
		for _, sql := range []string{dbcost.HarnessTag + " SELECT count(*) FROM transactions", "SELECT max(id) FROM transactions"} {
			if _, err := harness.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		c := dbcost.Diff(before, take(t, s), 0)
		if c.AgentReads.Calls != 1 || c.OtherStatements.Calls != 1 {
			t.Errorf("agent reads %+v, other %+v; want the untagged query in the first, the tagged one in the second", *c.AgentReads, *c.OtherStatements)
		}
	})
}

// TestSlotLag checks a cdcbench slot that nobody consumes falls behind as
// rows are written, and that a WAL sender streaming it shows up and
// catches it up.
func TestSlotLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg := newDB(t, "slots", false)
	conn := connect(t, cfg)
	for _, sql := range []string{
		"CREATE PUBLICATION cdcbench_t FOR TABLE transactions",
		"SELECT pg_create_logical_replication_slot('cdcbench_t', 'pgoutput')",
		"SELECT pg_create_logical_replication_slot('other_t', 'pgoutput')",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() { // before the database is dropped
		for _, slot := range []string{"cdcbench_t", "other_t"} {
			if _, err := conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot); err != nil {
				t.Errorf("drop slot %s: %v", slot, err)
			}
		}
	})
	s := newSampler(t, cfg, cluster.PID())

	before := take(t, s)
	copyRows(t, conn, 1, 1001)
	after := take(t, s)
	if len(before.Slots) != 1 || len(after.Slots) != 1 || after.Slots[0].Name != "cdcbench_t" {
		t.Fatalf("slots = %+v then %+v, want cdcbench_t alone", before.Slots, after.Slots)
	}
	b, a := before.Slots[0], after.Slots[0]
	if a.Active || a.Sender != nil {
		t.Errorf("unconsumed slot reported active or streaming: %+v", a)
	}
	if grew := a.LagBytes - b.LagBytes; grew < int64(after.WALLSN-before.WALLSN) || grew <= 0 {
		t.Errorf("slot lag went from %d to %d bytes while %d bytes of WAL were written", b.LagBytes, a.LagBytes, after.WALLSN-before.WALLSN)
	}
	if a.RetainedBytes < a.LagBytes {
		t.Errorf("retained %d bytes < lag %d bytes", a.RetainedBytes, a.LagBytes)
	}
	c := dbcost.Diff(before, after, 1000)
	if c.SlotLagBytesMax == nil || *c.SlotLagBytesMax != a.LagBytes || c.SlotRetainedBytesMax == nil || *c.SlotRetainedBytesMax != a.RetainedBytes {
		t.Errorf("cost slot maxima = %v, %v; want %d, %d", c.SlotLagBytesMax, c.SlotRetainedBytesMax, a.LagBytes, a.RetainedBytes)
	}
	if len(c.Slots) != 1 || c.Slots[0].ConfirmedBytes == nil || *c.Slots[0].ConfirmedBytes != 0 || c.Slots[0].SentLagBytesMax != nil {
		t.Errorf("cost slots = %+v, want one that confirmed nothing and had no sender", c.Slots)
	}
	t.Logf("1000 rows: %d bytes of WAL, slot lag %d → %d bytes", c.WALBytes, b.LagBytes, a.LagBytes)

	// A WAL sender streams the slot and its consumer confirms what it
	// received: the sender shows up and the lag shrinks.
	t.Run("streamed", func(t *testing.T) {
		dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable&replication=database", cfg.User, cfg.Host, cfg.Port, cfg.Database)
		rc, err := pgconn.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer waitExit(t, int(rc.PID()))
		defer rc.Close(context.Background())
		if err := pglogrepl.StartReplication(ctx, rc, "cdcbench_t", 0, pglogrepl.StartReplicationOptions{
			PluginArgs: []string{"proto_version '1'", "publication_names 'cdcbench_t'"},
		}); err != nil {
			t.Fatalf("start replication: %v", err)
		}
		if err := confirmUpTo(ctx, rc, pglogrepl.LSN(after.WALLSN)); err != nil {
			t.Fatalf("stream: %v", err)
		}
		var streamed dbcost.Sample
		for {
			streamed = take(t, s)
			if len(streamed.Slots) == 1 && streamed.Slots[0].ConfirmedFlushLSN >= after.WALLSN {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("the slot never confirmed %X: %+v", after.WALLSN, streamed.Slots)
			}
			time.Sleep(10 * time.Millisecond)
		}
		sl := streamed.Slots[0]
		if !sl.Active || sl.Sender == nil || sl.Sender.PID != int(rc.PID()) {
			t.Fatalf("streamed slot = %+v, want active with the sender of backend %d", sl, rc.PID())
		}
		if sl.LagBytes >= a.LagBytes || sl.Sender.FlushLagBytes >= a.LagBytes {
			t.Errorf("lag %d bytes (sender flush lag %d) after catching up, not below the %d before", sl.LagBytes, sl.Sender.FlushLagBytes, a.LagBytes)
		}
		c := dbcost.Diff(after, streamed, 0)
		if len(c.Slots) != 1 || c.Slots[0].ConfirmedBytes == nil || *c.Slots[0].ConfirmedBytes < int64(after.WALLSN-before.WALLSN) || c.Slots[0].SentLagBytesMax == nil {
			t.Errorf("cost slots = %+v, want the consumer to have confirmed the rows' WAL and a sender", c.Slots)
		}
		if len(c.Slots) == 1 && !strings.HasPrefix(c.Slots[0].SenderCommand, "START_REPLICATION SLOT") {
			t.Errorf("sender command = %q, want the START_REPLICATION the consumer sent", c.Slots[0].SenderCommand)
		}
		t.Logf("streamed: slot lag %d bytes, sender lags sent %d / flush %d / replay %d bytes",
			sl.LagBytes, sl.Sender.SentLagBytes, sl.Sender.FlushLagBytes, sl.Sender.ReplayLagBytes)
	})
}

// confirmUpTo reads the replication stream until the server has sent WAL
// up to target, then confirms what it received as flushed and applied.
func confirmUpTo(ctx context.Context, rc *pgconn.PgConn, target pglogrepl.LSN) error {
	var seen pglogrepl.LSN
	for seen < target {
		msg, err := rc.ReceiveMessage(ctx)
		if err != nil {
			return err
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			return fmt.Errorf("unexpected message %T", msg)
		}
		switch cd.Data[0] {
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return err
			}
			seen = max(seen, x.WALStart+pglogrepl.LSN(len(x.WALData)))
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			k, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err != nil {
				return err
			}
			seen = max(seen, k.ServerWALEnd)
		}
	}
	return pglogrepl.SendStandbyStatusUpdate(ctx, rc, pglogrepl.StandbyStatusUpdate{WALWritePosition: seen, WALFlushPosition: seen, WALApplyPosition: seen})
}

// TestNotAvailable checks that what the server cannot give is absent, not
// zero, and that a wrong postmaster pid is refused.
func TestNotAvailable(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t, "absent", false) // no pg_stat_statements in this database

	t.Run("server elsewhere, no pg_stat_statements", func(t *testing.T) {
		s := newSampler(t, cfg, 0)
		if s.StatementsAvailable() {
			t.Error("StatementsAvailable() in a database without the extension")
		}
		before := take(t, s)
		copyRows(t, connect(t, cfg), 1, 11)
		after := take(t, s)
		if after.ServerCPUTicks != nil || after.Statements != nil {
			t.Errorf("sample has CPU %v and statements %v, want neither", after.ServerCPUTicks, after.Statements)
		}
		c := dbcost.Diff(before, after, 10)
		if c.ServerCPUSeconds != nil || c.AgentReads != nil || c.ProducerWrites != nil || c.Per1000.ServerCPUSeconds != nil || c.Per1000.AgentStatements != nil {
			t.Errorf("cost reports figures it cannot have: %+v / %+v", c, *c.Per1000)
		}
		if c.WALBytes <= 0 {
			t.Errorf("WAL = %d bytes, want the rows' WAL (available everywhere)", c.WALBytes)
		}
		j, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range []string{`"server_cpu_seconds":null`, `"agent_reads":null`, `"slot_lag_bytes_max":null`} {
			if !strings.Contains(string(j), field) {
				t.Errorf("JSON %s lacks %s", j, field)
			}
		}
	})

	for _, tc := range []struct {
		name string
		pid  int
		want string
	}{
		{"not the postmaster", os.Getpid(), "not the postmaster"},
		{"negative pid", -1, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dbcost.NewSampler(ctx, connect(t, cfg), tc.pid)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewSampler(pid %d) = %v, want an error saying %q", tc.pid, err, tc.want)
			}
		})
	}
}

// TestSamplerReconnects terminates the sampler's backend between two
// samples, as a pg_terminate_backend from outside or a server restart
// would: the Sampler from Dial reconnects and the window's cost is still
// sound, with the sampler's own work still taken out.
func TestSamplerReconnects(t *testing.T) {
	ctx := context.Background()
	cfg := newDB(t, "reconnects", true)
	s, err := dbcost.Dial(ctx, func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) }, cluster.PID())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer s.Close(ctx)
	before := take(t, s)
	writer, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	copyRows(t, writer, 1, 101)
	closeAndWait(t, writer)
	var ok bool
	if err := connect(t, mustConfig(t, cluster.DSN())).QueryRow(ctx, "SELECT pg_terminate_backend($1)", before.SamplerPID).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the sampler's backend %d: %v %v", before.SamplerPID, ok, err)
	}
	waitExit(t, before.SamplerPID) // and publishes its last commit
	after := take(t, s)
	if after.SamplerPID == before.SamplerPID || after.SamplerReconnects != 1 {
		t.Fatalf("after: backend %d (before %d), %d reconnects; want a new backend and 1 reconnect", after.SamplerPID, before.SamplerPID, after.SamplerReconnects)
	}
	c := dbcost.Diff(before, after, 100)
	if len(c.Problems) > 0 || c.NotMeasured != "" {
		t.Errorf("problems %q, not measured %q; want a sound cost", c.Problems, c.NotMeasured)
	}
	// The new backend's start-up (a commit or two, its catalog reads)
	// counts as load; the sampler's own transactions on both backends do not.
	if c.SamplerReconnects != 1 || c.Table.TupInserted != 100 || c.Database.XactCommit < 1 || c.Database.XactCommit > 3 {
		t.Errorf("sampler reconnects %d, rows inserted %d, commits %d; want 1, 100 and 1 to 3 (the COPY, the new backend's start)",
			c.SamplerReconnects, c.Table.TupInserted, c.Database.XactCommit)
	}
	if c.ProducerWrites == nil || c.ProducerWrites.Calls != 1 {
		t.Errorf("producer writes %+v, want the one COPY", c.ProducerWrites)
	}

	// A Sampler on a borrowed connection cannot reconnect: the sample fails.
	borrowed := newSampler(t, cfg, cluster.PID())
	smp := take(t, borrowed)
	if _, err := connect(t, mustConfig(t, cluster.DSN())).Exec(ctx, "SELECT pg_terminate_backend($1)", smp.SamplerPID); err != nil {
		t.Fatal(err)
	}
	if _, err := borrowed.Take(ctx); err == nil {
		t.Error("a sampler on a terminated borrowed connection sampled")
	}
}
