package dbcost

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/cdcbench/cdcbench/internal/proccost"
	"github.com/cdcbench/cdcbench/internal/result"
)

// The cost's figures are part of result.json's schema, which package result
// owns so that readers of results link no database driver; these names are
// dbcost's view of them.
type (
	Cost              = result.DBCost
	SlotCost          = result.SlotCost
	PerThousand       = result.PerThousand
	DatabaseCounters  = result.DatabaseCounters
	TableCounters     = result.TableCounters
	StatementCounters = result.StatementCounters
	StatementCost     = result.StatementCost
)

// Diff is the cost of the window from before to after, normalised by
// transactions, the number of card transactions the window carried. Both
// samples should come from one Sampler, before taken first.
func Diff(before, after Sample, transactions int64) Cost {
	c := Cost{Seconds: after.At.Sub(before.At).Seconds(), Transactions: transactions}
	if c.Seconds < 0 {
		addProblem(&c, "the samples are in the wrong order (after was taken %.3f s before before)", -c.Seconds)
	}

	// A Sampler that reconnected samples from another backend, but it
	// still counts its own transactions and CPU across backends.
	sameSampler := before.SamplerPID == after.SamplerPID || before.SamplerID != 0 && before.SamplerID == after.SamplerID
	if before.SamplerID != 0 && before.SamplerID == after.SamplerID {
		c.SamplerReconnects = after.SamplerReconnects - before.SamplerReconnects
	}
	if !sameSampler {
		addProblem(&c, "the samples come from two sampler connections (backends %d and %d): the sampler's own transactions and CPU are counted as load", before.SamplerPID, after.SamplerPID)
	}

	c.Database = after.Database.Minus(before.Database)
	if sameSampler {
		c.Database.XactCommit -= after.SamplerXacts - before.SamplerXacts
	}
	if c.Database.Negative() {
		addProblem(&c, "pg_stat_database counters went backwards: statistics were reset between the samples")
	}

	switch {
	case before.TableOID == after.TableOID:
		c.Table = after.Table.Minus(before.Table)
		if c.Table.Negative() {
			addProblem(&c, "%s counters went backwards: statistics were reset between the samples", Table)
		}
	case after.TableOID == 0:
		addProblem(&c, "%s was dropped between the samples: its figures are lost", Table)
	default:
		// Created in the window: everything it counted is the window's.
		c.Table = after.Table
		if before.TableOID != 0 {
			addProblem(&c, "%s was re-created between the samples: work on the old table after the first sample is not counted", Table)
		}
	}
	c.RowsRead = c.Table.SeqTupRead + c.Table.IdxTupFetch

	switch b, a := before.Statements, after.Statements; {
	case b != nil && a != nil:
		reads, writes, other := a.Reads.Minus(b.Reads), a.Writes.Minus(b.Writes), a.Other.Minus(b.Other)
		c.AgentReads, c.ProducerWrites, c.OtherStatements = &reads, &writes, &other
		c.Statements, c.StatementsLeftOut = diffQueries(b.Queries, a.Queries)
		if reads.Negative() || writes.Negative() || other.Negative() {
			addProblem(&c, "pg_stat_statements counters went backwards: it was reset between the samples")
		}
		if b.Dealloc != nil && a.Dealloc != nil && *a.Dealloc > *b.Dealloc {
			addProblem(&c, "pg_stat_statements evicted %d entries between the samples (raise pg_stat_statements.max): statement figures are too low", *a.Dealloc-*b.Dealloc)
		}
	case b != nil || a != nil:
		addProblem(&c, "pg_stat_statements was available at only one of the samples")
	}

	c.WALBytes = int64(after.WALLSN - before.WALLSN)
	if after.WALLSN < before.WALLSN {
		addProblem(&c, "the WAL position went backwards: the samples come from different servers")
	}

	if before.ServerCPUTicks != nil && after.ServerCPUTicks != nil {
		ticks := *after.ServerCPUTicks - *before.ServerCPUTicks
		if sameSampler {
			ticks -= after.SamplerCPUTicks - before.SamplerCPUTicks
		}
		if ticks < 0 {
			addProblem(&c, "server CPU went backwards (%d ticks): the server restarted between the samples", ticks)
		}
		sec := float64(ticks) / proccost.TicksPerSecond
		c.ServerCPUSeconds = &sec
	}

	c.Slots = diffSlots(before.Slots, after.Slots)
	for _, s := range c.Slots {
		c.SlotLagBytesMax = maxPtr(c.SlotLagBytesMax, &s.LagBytesMax)
		c.SlotRetainedBytesMax = maxPtr(c.SlotRetainedBytesMax, &s.RetainedBytesMax)
	}

	if transactions > 0 {
		c.Per1000 = perThousand(&c)
	}
	return c
}

// perThousand divides c's figures by Transactions/1000.
func perThousand(c *Cost) *PerThousand {
	k := float64(c.Transactions) / 1000
	per := func(v int64) float64 { return float64(v) / k }
	p := &PerThousand{
		RowsRead:    per(c.RowsRead),
		XactCommit:  per(c.Database.XactCommit),
		TupReturned: per(c.Database.TupReturned),
		TupFetched:  per(c.Database.TupFetched),
		Blocks:      per(c.Database.BlksHit + c.Database.BlksRead),
		WALBytes:    per(c.WALBytes),
	}
	if r := c.AgentReads; r != nil {
		calls, rows, ms := per(r.Calls), per(r.Rows), r.ExecMs/k
		p.AgentStatements, p.AgentRows, p.AgentExecMs = &calls, &rows, &ms
	}
	if c.ServerCPUSeconds != nil {
		cpu := *c.ServerCPUSeconds / k
		p.ServerCPUSeconds = &cpu
	}
	return p
}

func addProblem(c *Cost, format string, args ...any) {
	c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
}

// diffSlots pairs the slots of two samples by name.
func diffSlots(before, after []Slot) []SlotCost {
	byName := map[string]*SlotCost{}
	var names []string
	confirmed := map[string]uint64{}
	for i, slots := range [][]Slot{before, after} {
		for _, s := range slots {
			sc := byName[s.Name]
			if sc == nil {
				sc = &SlotCost{Name: s.Name}
				byName[s.Name] = sc
				names = append(names, s.Name)
			}
			sc.LagBytesMax = max(sc.LagBytesMax, s.LagBytes)
			sc.RetainedBytesMax = max(sc.RetainedBytesMax, s.RetainedBytes)
			if snd := s.Sender; snd != nil {
				sc.SentLagBytesMax = maxPtr(sc.SentLagBytesMax, &snd.SentLagBytes)
				sc.FlushLagBytesMax = maxPtr(sc.FlushLagBytesMax, &snd.FlushLagBytes)
				sc.ReplayLagBytesMax = maxPtr(sc.ReplayLagBytesMax, &snd.ReplayLagBytes)
				if snd.Command != "" {
					sc.SenderCommand = clip(snd.Command)
				}
			}
			if i == 0 {
				confirmed[s.Name] = s.ConfirmedFlushLSN
			} else if from, ok := confirmed[s.Name]; ok {
				moved := int64(s.ConfirmedFlushLSN - from)
				sc.ConfirmedBytes = &moved
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	out := make([]SlotCost, len(names))
	for i, n := range names {
		out[i] = *byName[n]
	}
	return out
}

// classOrder puts reads, what a path sends to find its rows, first.
var classOrder = map[string]int{"read": 0, "other": 1, "write": 2}

// diffQueries is what each statement did between the samples: the ones
// that ran, reads first, then the most called, at most
// result.MaxStatements of them, and how many more ran. An entry new in
// after counts whole; one whose counters went backwards (evicted and
// re-created) counts as it is now, the window's part of it lost, which the
// sum's problems already say.
func diffQueries(before, after []Query) ([]StatementCost, int) {
	type key struct {
		id    int64
		class string
	}
	was := make(map[key]StatementCounters, len(before))
	for _, q := range before {
		was[key{q.ID, q.Class}] = q.StatementCounters
	}
	var out []StatementCost
	for _, q := range after {
		d := q.StatementCounters.Minus(was[key{q.ID, q.Class}])
		if d.Negative() {
			d = q.StatementCounters
		}
		if d.Calls > 0 {
			out = append(out, StatementCost{Class: q.Class, Query: clip(q.Text), StatementCounters: d})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if classOrder[a.Class] != classOrder[b.Class] {
			return classOrder[a.Class] < classOrder[b.Class]
		}
		if a.Calls != b.Calls {
			return a.Calls > b.Calls
		}
		return a.Query < b.Query
	})
	if len(out) > result.MaxStatements {
		return out[:result.MaxStatements], len(out) - result.MaxStatements
	}
	return out, 0
}

// clip cuts text at result.MaxQueryText bytes, on a character boundary.
func clip(text string) string {
	if len(text) <= result.MaxQueryText {
		return text
	}
	cut := result.MaxQueryText
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}

// maxPtr is the larger of *a and *b as a new pointer, treating nil as absent.
func maxPtr(a, b *int64) *int64 {
	v := *b
	if a != nil && *a > v {
		v = *a
	}
	return &v
}
