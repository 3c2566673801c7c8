package dbcost_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cdcbench/cdcbench/internal/dbcost"
	"github.com/cdcbench/cdcbench/internal/result"
)

func ptr[T any](v T) *T { return &v }

// samples returns a hand-made before/after pair: 2 s apart, from one
// sampler that committed 4 transactions in between, with every counter
// moved by a known amount.
func samples() (before, after dbcost.Sample) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	before = dbcost.Sample{
		At: t0, SamplerPID: 77, SamplerXacts: 10, TableOID: 16384,
		Database: dbcost.DatabaseCounters{XactCommit: 1000, XactRollback: 1, TupReturned: 5000, TupFetched: 4000, BlksHit: 300, BlksRead: 30},
		Table:    dbcost.TableCounters{SeqScan: 1, SeqTupRead: 10, IdxScan: 2, IdxTupFetch: 20, TupInserted: 100},
		Statements: &dbcost.StatementSplit{
			Reads:   dbcost.StatementCounters{Calls: 10, Rows: 100, ExecMs: 1.5, SharedBlksHit: 40},
			Writes:  dbcost.StatementCounters{Calls: 5, Rows: 500, ExecMs: 2},
			Dealloc: ptr[int64](0),
		},
		WALLSN:         1 << 32,
		Slots:          []dbcost.Slot{{Name: "cdcbench_a", ConfirmedFlushLSN: 1<<32 - 100, LagBytes: 100, RetainedBytes: 900}},
		ServerCPUTicks: ptr[int64](5000), SamplerCPUTicks: 40,
	}
	after = dbcost.Sample{
		At: t0.Add(2 * time.Second), SamplerPID: 77, SamplerXacts: 14, TableOID: 16384,
		Database: dbcost.DatabaseCounters{XactCommit: 1404, XactRollback: 1, TupReturned: 9000, TupFetched: 8000, BlksHit: 700, BlksRead: 30},
		Table:    dbcost.TableCounters{SeqScan: 1, SeqTupRead: 10, IdxScan: 402, IdxTupFetch: 4020, TupInserted: 2100},
		Statements: &dbcost.StatementSplit{
			Reads:   dbcost.StatementCounters{Calls: 410, Rows: 4100, ExecMs: 41.5, SharedBlksHit: 840},
			Writes:  dbcost.StatementCounters{Calls: 25, Rows: 2500, ExecMs: 12},
			Other:   dbcost.StatementCounters{Calls: 1},
			Dealloc: ptr[int64](0),
		},
		WALLSN: 1<<32 + 300000,
		Slots: []dbcost.Slot{
			{Name: "cdcbench_a", ConfirmedFlushLSN: 1<<32 + 250000, LagBytes: 50000, RetainedBytes: 60000,
				Sender: &dbcost.Sender{PID: 99, SentLagBytes: 10, FlushLagBytes: 50000, ReplayLagBytes: 50000}},
			{Name: "cdcbench_b", LagBytes: 7, RetainedBytes: 7},
		},
		ServerCPUTicks: ptr[int64](5250), SamplerCPUTicks: 50,
	}
	return before, after
}

func TestDiff(t *testing.T) {
	before, after := samples()
	c := dbcost.Diff(before, after, 2000)
	if len(c.Problems) > 0 {
		t.Errorf("problems: %v", c.Problems)
	}
	approx := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	approx("seconds", c.Seconds, 2)
	// 404 commits, 4 of them the sampler's.
	if want := (dbcost.DatabaseCounters{XactCommit: 400, TupReturned: 4000, TupFetched: 4000, BlksHit: 400}); c.Database != want {
		t.Errorf("database = %+v, want %+v", c.Database, want)
	}
	if want := (dbcost.TableCounters{IdxScan: 400, IdxTupFetch: 4000, TupInserted: 2000}); c.Table != want {
		t.Errorf("table = %+v, want %+v", c.Table, want)
	}
	if c.RowsRead != 4000 {
		t.Errorf("rows read = %d, want 4000", c.RowsRead)
	}
	if want := (dbcost.StatementCounters{Calls: 400, Rows: 4000, ExecMs: 40, SharedBlksHit: 800}); c.AgentReads == nil || *c.AgentReads != want {
		t.Errorf("agent reads = %+v, want %+v", c.AgentReads, want)
	}
	if want := (dbcost.StatementCounters{Calls: 20, Rows: 2000, ExecMs: 10}); c.ProducerWrites == nil || *c.ProducerWrites != want {
		t.Errorf("producer writes = %+v, want %+v", c.ProducerWrites, want)
	}
	if c.OtherStatements == nil || c.OtherStatements.Calls != 1 {
		t.Errorf("other = %+v, want 1 call", c.OtherStatements)
	}
	if c.WALBytes != 300000 {
		t.Errorf("WAL = %d, want 300000", c.WALBytes)
	}
	// 250 ticks, 10 of them the sampler's.
	if c.ServerCPUSeconds == nil {
		t.Fatal("server CPU missing")
	}
	approx("server CPU", *c.ServerCPUSeconds, 2.4)
	if c.SlotLagBytesMax == nil || *c.SlotLagBytesMax != 50000 || c.SlotRetainedBytesMax == nil || *c.SlotRetainedBytesMax != 60000 {
		t.Errorf("slot maxima = %v, %v; want 50000, 60000", c.SlotLagBytesMax, c.SlotRetainedBytesMax)
	}
	if len(c.Slots) != 2 {
		t.Fatalf("slots = %+v, want a and b", c.Slots)
	}
	if a := c.Slots[0]; a.Name != "cdcbench_a" || a.ConfirmedBytes == nil || *a.ConfirmedBytes != 250100 ||
		a.SentLagBytesMax == nil || *a.SentLagBytesMax != 10 || *a.FlushLagBytesMax != 50000 || *a.ReplayLagBytesMax != 50000 {
		t.Errorf("slot a = %+v", a)
	}
	if b := c.Slots[1]; b.Name != "cdcbench_b" || b.ConfirmedBytes != nil || b.SentLagBytesMax != nil || b.LagBytesMax != 7 {
		t.Errorf("slot b (new, never streamed) = %+v", b)
	}

	// Per 1,000 transactions: everything divided by 2.
	p := c.Per1000
	if p == nil || p.AgentStatements == nil || p.AgentRows == nil || p.AgentExecMs == nil || p.ServerCPUSeconds == nil {
		t.Fatalf("per 1000 = %+v, want every figure", p)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"agent statements", *p.AgentStatements, 200},
		{"agent rows", *p.AgentRows, 2000},
		{"agent exec ms", *p.AgentExecMs, 20},
		{"rows read", p.RowsRead, 2000},
		{"xact commit", p.XactCommit, 200},
		{"tup returned", p.TupReturned, 2000},
		{"tup fetched", p.TupFetched, 2000},
		{"blocks", p.Blocks, 200},
		{"WAL bytes", p.WALBytes, 150000},
		{"server CPU", *p.ServerCPUSeconds, 1.2},
	} {
		approx("per 1000 "+f.name, f.got, f.want)
	}

	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"per_1000_transactions":{`, `"agent_statements":200`, `"server_cpu_seconds":2.4`, `"rows_read":4000`, `"n_tup_ins":2000`} {
		if !strings.Contains(string(j), field) {
			t.Errorf("JSON %s lacks %s", j, field)
		}
	}
}

// TestDiffProblems changes one thing in the sample pair and expects the
// cost to say what went wrong (and what it did about it).
func TestDiffProblems(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(before, after *dbcost.Sample)
		tx      int64
		problem string // "" = none
		check   func(t *testing.T, c dbcost.Cost)
	}{
		{"no transactions", func(_, _ *dbcost.Sample) {}, 0, "", func(t *testing.T, c dbcost.Cost) {
			if c.Per1000 != nil {
				t.Errorf("per 1000 = %+v with no transactions, want null", c.Per1000)
			}
		}},
		{"CPU at one end only", func(b, _ *dbcost.Sample) { b.ServerCPUTicks = nil }, 2000, "", func(t *testing.T, c dbcost.Cost) {
			if c.ServerCPUSeconds != nil || c.Per1000.ServerCPUSeconds != nil {
				t.Errorf("server CPU = %v, want null", c.ServerCPUSeconds)
			}
		}},
		{"no slots", func(b, a *dbcost.Sample) { b.Slots, a.Slots = nil, nil }, 2000, "", func(t *testing.T, c dbcost.Cost) {
			if c.SlotLagBytesMax != nil || c.SlotRetainedBytesMax != nil || c.Slots != nil {
				t.Errorf("slot figures %v %v %v without slots, want null", c.SlotLagBytesMax, c.SlotRetainedBytesMax, c.Slots)
			}
		}},
		{"two samplers", func(_, a *dbcost.Sample) { a.SamplerPID = 78 }, 2000, "two sampler connections", func(t *testing.T, c dbcost.Cost) {
			if c.Database.XactCommit != 404 || *c.ServerCPUSeconds != 2.5 {
				t.Errorf("commits %d, CPU %v: want nothing subtracted (404, 2.5)", c.Database.XactCommit, *c.ServerCPUSeconds)
			}
		}},
		{"the sampler reconnected", func(b, a *dbcost.Sample) {
			b.SamplerID, a.SamplerID, a.SamplerPID, a.SamplerReconnects = 9, 9, 78, 1
		}, 2000, "", func(t *testing.T, c dbcost.Cost) {
			if c.Database.XactCommit != 400 || c.SamplerReconnects != 1 {
				t.Errorf("commits %d, sampler reconnects %d: want the sampler's own taken out (400) and 1 reconnect", c.Database.XactCommit, c.SamplerReconnects)
			}
		}},
		{"two samplers, both with an id", func(b, a *dbcost.Sample) { b.SamplerID, a.SamplerID, a.SamplerPID = 9, 10, 78 }, 2000, "two sampler connections", nil},
		{"stats reset", func(_, a *dbcost.Sample) { a.Database.TupReturned = 10 }, 2000, "pg_stat_database counters went backwards", nil},
		{"table stats reset", func(_, a *dbcost.Sample) { a.Table.TupInserted = 0 }, 2000, "public.transactions counters went backwards", nil},
		{"statements reset", func(_, a *dbcost.Sample) { a.Statements.Reads.Calls = 3 }, 2000, "pg_stat_statements counters went backwards", nil},
		{"statements evicted", func(_, a *dbcost.Sample) { a.Statements.Dealloc = ptr[int64](2) }, 2000, "evicted 2 entries", nil},
		{"statements at one end", func(_, a *dbcost.Sample) { a.Statements = nil }, 2000, "only one of the samples", func(t *testing.T, c dbcost.Cost) {
			if c.AgentReads != nil || c.Per1000.AgentStatements != nil {
				t.Errorf("agent reads = %+v, want null", c.AgentReads)
			}
		}},
		{"table created in the window", func(b, _ *dbcost.Sample) { b.TableOID, b.Table = 0, dbcost.TableCounters{} }, 2000, "", func(t *testing.T, c dbcost.Cost) {
			if c.Table != after().Table {
				t.Errorf("table = %+v, want all of the new table's counts", c.Table)
			}
		}},
		{"table re-created", func(_, a *dbcost.Sample) { a.TableOID = 20000 }, 2000, "re-created", func(t *testing.T, c dbcost.Cost) {
			if c.Table != after().Table {
				t.Errorf("table = %+v, want the new table's counts", c.Table)
			}
		}},
		{"table dropped", func(_, a *dbcost.Sample) { a.TableOID, a.Table = 0, dbcost.TableCounters{} }, 2000, "dropped", func(t *testing.T, c dbcost.Cost) {
			if c.Table != (dbcost.TableCounters{}) {
				t.Errorf("table = %+v, want zero", c.Table)
			}
		}},
		{"wrong order", func(b, a *dbcost.Sample) { *b, *a = *a, *b }, 2000, "wrong order", nil},
		{"server restarted", func(_, a *dbcost.Sample) { a.ServerCPUTicks = ptr[int64](10) }, 2000, "server CPU went backwards", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := samples()
			tc.edit(&before, &after)
			c := dbcost.Diff(before, after, tc.tx)
			found := false
			for _, p := range c.Problems {
				found = found || (tc.problem != "" && strings.Contains(p, tc.problem))
			}
			if tc.problem == "" && len(c.Problems) > 0 || tc.problem != "" && !found {
				t.Errorf("problems = %q, want %q", c.Problems, tc.problem)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// after is the unedited after sample.
func after() dbcost.Sample {
	_, a := samples()
	return a
}

// TestDiffStatements checks the per-statement list: what ran in the
// window, reads first and most called first, bounded in count and length.
func TestDiffStatements(t *testing.T) {
	q := func(id int64, class, text string, calls int64) dbcost.Query {
		return dbcost.Query{ID: id, Class: class, Text: text, StatementCounters: dbcost.StatementCounters{Calls: calls, Rows: 10 * calls, ExecMs: float64(calls)}}
	}
	long := strings.Repeat("é", result.MaxQueryText)
	many := func(n int) (out []dbcost.Query) {
		for i := range n {
			out = append(out, q(int64(100+i), "read", fmt.Sprintf("SELECT %d", i), int64(1+i)))
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		before, after []dbcost.Query
		want          []string // "class calls query"
		leftOut       int
	}{
		{"only what ran, reads first, most called first",
			[]dbcost.Query{q(1, "read", "SELECT a", 5), q(2, "write", "COPY", 3), q(3, "read", "SELECT idle", 7)},
			[]dbcost.Query{q(1, "read", "SELECT a", 6), q(2, "write", "COPY", 13), q(3, "read", "SELECT idle", 7), q(4, "read", "SELECT new", 4), q(5, "other", "TRUNCATE", 1)},
			[]string{"read 4 SELECT new", "read 1 SELECT a", "other 1 TRUNCATE", "write 10 COPY"}, 0},
		{"an entry evicted and back counts as it is now",
			[]dbcost.Query{q(1, "read", "SELECT a", 50)},
			[]dbcost.Query{q(1, "read", "SELECT a", 2)},
			[]string{"read 2 SELECT a"}, 0},
		{"at most MaxStatements", nil, many(result.MaxStatements + 3), nil, 3},
		{"long text cut on a character", nil, []dbcost.Query{q(1, "read", long, 1)}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := samples()
			before.Statements.Queries, after.Statements.Queries = tc.before, tc.after
			c := dbcost.Diff(before, after, 2000)
			if c.StatementsLeftOut != tc.leftOut {
				t.Errorf("left out %d, want %d", c.StatementsLeftOut, tc.leftOut)
			}
			var got []string
			for _, s := range c.Statements {
				got = append(got, fmt.Sprintf("%s %d %s", s.Class, s.Calls, s.Query))
				if s.Rows != 10*s.Calls {
					t.Errorf("%q: rows %d for %d calls, want %d", s.Query, s.Rows, s.Calls, 10*s.Calls)
				}
				if len(s.Query) > result.MaxQueryText+len("…") || !utf8.ValidString(s.Query) {
					t.Errorf("query text of %d bytes (valid UTF-8: %v), want at most %d", len(s.Query), utf8.ValidString(s.Query), result.MaxQueryText)
				}
			}
			switch {
			case tc.want != nil && !slices.Equal(got, tc.want):
				t.Errorf("statements = %q, want %q", got, tc.want)
			case tc.leftOut > 0 && (len(got) != result.MaxStatements || c.Statements[0].Calls != int64(result.MaxStatements+3)):
				t.Errorf("statements = %q, want the %d most called", got, result.MaxStatements)
			}
		})
	}
}
