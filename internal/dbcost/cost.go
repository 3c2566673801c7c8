package dbcost

import (
	"fmt"
	"sort"
)

// Cost is what the server did between two samples, with the sampler's own
// work taken out, and the same figures per 1,000 card transactions. It goes
// into result.json as it is. A figure the server could not give is null,
// never 0; Problems says why a figure cannot be trusted.
type Cost struct {
	// Seconds is the wall time between the samples.
	Seconds float64 `json:"seconds"`
	// Transactions is the number of card transactions (rows of Table) the
	// caller says the window carried; the Per1000 figures divide by it.
	Transactions int64 `json:"transactions"`

	// Database is pg_stat_database for the whole database: every backend,
	// catalog reads included, the sampler's own transactions removed.
	Database DatabaseCounters `json:"database"`
	// Table is pg_stat_user_tables for Table.
	Table TableCounters `json:"table"`
	// RowsRead is the rows the server read from Table to answer queries,
	// by sequential and index scans (seq_tup_read + idx_tup_fetch).
	RowsRead int64 `json:"rows_read"`

	// AgentReads are the SELECTs on Table (pg_stat_statements): the
	// agents' polling. Null when pg_stat_statements is not available.
	AgentReads *StatementCounters `json:"agent_reads"`
	// ProducerWrites are the INSERTs and COPYs (and UPDATE, DELETE, MERGE)
	// into Table: the producer's work, the same on every path.
	ProducerWrites *StatementCounters `json:"producer_writes"`
	// OtherStatements are the rest that mention Table: DDL and queries
	// tagged with HarnessTag.
	OtherStatements *StatementCounters `json:"other_statements"`

	// WALBytes is the WAL written, in bytes.
	WALBytes int64 `json:"wal_bytes"`
	// ServerCPUSeconds is user+system CPU of all server processes (WAL
	// senders and backends that exited included), the sampler's own
	// backend excluded, at 10 ms resolution. Null when the server is not
	// on this host.
	ServerCPUSeconds *float64 `json:"server_cpu_seconds"`

	// SlotLagBytesMax is the most WAL any of cdcbench's slots had not had
	// confirmed by its consumer, at either sample. Null without slots.
	SlotLagBytesMax *int64 `json:"slot_lag_bytes_max"`
	// SlotRetainedBytesMax is the most WAL any of cdcbench's slots kept
	// the server from recycling, at either sample. Null without slots.
	SlotRetainedBytesMax *int64 `json:"slot_retained_bytes_max"`
	// Slots has the figures per slot present at either sample.
	Slots []SlotCost `json:"slots,omitempty"`

	// Per1000 is the cost per 1,000 card transactions; null when
	// Transactions is not positive.
	Per1000 *PerThousand `json:"per_1000_transactions"`
	// Problems lists what makes figures untrustworthy: counters reset or
	// evicted between the samples, the table re-created, samples from two
	// different samplers. Empty when the figures are sound.
	Problems []string `json:"problems,omitempty"`
}

// SlotCost is one replication slot over the window. Lags are in bytes of
// WAL, the larger of the two samples' values.
type SlotCost struct {
	Name string `json:"name"`
	// LagBytesMax is WAL not yet confirmed by the slot's consumer.
	LagBytesMax int64 `json:"lag_bytes_max"`
	// RetainedBytesMax is WAL the slot kept from being recycled.
	RetainedBytesMax int64 `json:"retained_bytes_max"`
	// ConfirmedBytes is how far the consumer's confirmed position moved:
	// WAL it took. Null unless the slot existed at both samples.
	ConfirmedBytes *int64 `json:"confirmed_bytes"`
	// SentLagBytesMax, FlushLagBytesMax and ReplayLagBytesMax are the WAL
	// sender's lags (not yet sent; not reported flushed; not reported
	// applied by the consumer). Null when no sender streamed the slot at
	// either sample.
	SentLagBytesMax   *int64 `json:"sent_lag_bytes_max"`
	FlushLagBytesMax  *int64 `json:"flush_lag_bytes_max"`
	ReplayLagBytesMax *int64 `json:"replay_lag_bytes_max"`
}

// PerThousand is a Cost's figures divided by Transactions/1000. Fields are
// null where the Cost's figure is.
type PerThousand struct {
	AgentStatements  *float64 `json:"agent_statements"`   // polling queries
	AgentRows        *float64 `json:"agent_rows"`         // rows the polling queries returned
	AgentExecMs      *float64 `json:"agent_exec_ms"`      // ms the server spent executing them
	RowsRead         float64  `json:"rows_read"`          // rows read from Table
	XactCommit       float64  `json:"xact_commit"`        // transactions committed in the database
	TupReturned      float64  `json:"tup_returned"`       // database-wide rows/index entries returned by scans
	TupFetched       float64  `json:"tup_fetched"`        // database-wide rows fetched through indexes
	Blocks           float64  `json:"blocks"`             // database-wide 8 kB blocks accessed (hit + read)
	WALBytes         float64  `json:"wal_bytes"`          // bytes of WAL
	ServerCPUSeconds *float64 `json:"server_cpu_seconds"` // CPU seconds of the server
}

// Diff is the cost of the window from before to after, normalised by
// transactions, the number of card transactions the window carried. Both
// samples should come from one Sampler, before taken first.
func Diff(before, after Sample, transactions int64) Cost {
	c := Cost{Seconds: after.At.Sub(before.At).Seconds(), Transactions: transactions}
	if c.Seconds < 0 {
		c.problem("the samples are in the wrong order (after was taken %.3f s before before)", -c.Seconds)
	}

	sameSampler := before.SamplerPID == after.SamplerPID
	if !sameSampler {
		c.problem("the samples come from two sampler connections (backends %d and %d): the sampler's own transactions and CPU are counted as load", before.SamplerPID, after.SamplerPID)
	}

	c.Database = after.Database.minus(before.Database)
	if sameSampler {
		c.Database.XactCommit -= after.SamplerXacts - before.SamplerXacts
	}
	if c.Database.negative() {
		c.problem("pg_stat_database counters went backwards: statistics were reset between the samples")
	}

	switch {
	case before.TableOID == after.TableOID:
		c.Table = after.Table.minus(before.Table)
		if c.Table.negative() {
			c.problem("%s counters went backwards: statistics were reset between the samples", Table)
		}
	case after.TableOID == 0:
		c.problem("%s was dropped between the samples: its figures are lost", Table)
	default:
		// Created in the window: everything it counted is the window's.
		c.Table = after.Table
		if before.TableOID != 0 {
			c.problem("%s was re-created between the samples: work on the old table after the first sample is not counted", Table)
		}
	}
	c.RowsRead = c.Table.SeqTupRead + c.Table.IdxTupFetch

	switch b, a := before.Statements, after.Statements; {
	case b != nil && a != nil:
		reads, writes, other := a.Reads.minus(b.Reads), a.Writes.minus(b.Writes), a.Other.minus(b.Other)
		c.AgentReads, c.ProducerWrites, c.OtherStatements = &reads, &writes, &other
		if reads.negative() || writes.negative() || other.negative() {
			c.problem("pg_stat_statements counters went backwards: it was reset between the samples")
		}
		if b.Dealloc != nil && a.Dealloc != nil && *a.Dealloc > *b.Dealloc {
			c.problem("pg_stat_statements evicted %d entries between the samples (raise pg_stat_statements.max): statement figures are too low", *a.Dealloc-*b.Dealloc)
		}
	case b != nil || a != nil:
		c.problem("pg_stat_statements was available at only one of the samples")
	}

	c.WALBytes = int64(after.WALLSN - before.WALLSN)
	if after.WALLSN < before.WALLSN {
		c.problem("the WAL position went backwards: the samples come from different servers")
	}

	if before.ServerCPUTicks != nil && after.ServerCPUTicks != nil {
		ticks := *after.ServerCPUTicks - *before.ServerCPUTicks
		if sameSampler {
			ticks -= after.SamplerCPUTicks - before.SamplerCPUTicks
		}
		if ticks < 0 {
			c.problem("server CPU went backwards (%d ticks): the server restarted between the samples", ticks)
		}
		sec := float64(ticks) / TicksPerSecond
		c.ServerCPUSeconds = &sec
	}

	c.Slots = diffSlots(before.Slots, after.Slots)
	for _, s := range c.Slots {
		c.SlotLagBytesMax = maxPtr(c.SlotLagBytesMax, &s.LagBytesMax)
		c.SlotRetainedBytesMax = maxPtr(c.SlotRetainedBytesMax, &s.RetainedBytesMax)
	}

	if transactions > 0 {
		c.Per1000 = c.perThousand()
	}
	return c
}

// perThousand divides c's figures by Transactions/1000.
func (c *Cost) perThousand() *PerThousand {
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

func (c *Cost) problem(format string, args ...any) {
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

// maxPtr is the larger of *a and *b as a new pointer, treating nil as absent.
func maxPtr(a, b *int64) *int64 {
	v := *b
	if a != nil && *a > v {
		v = *a
	}
	return &v
}

func (a DatabaseCounters) minus(b DatabaseCounters) DatabaseCounters {
	return DatabaseCounters{
		XactCommit: a.XactCommit - b.XactCommit, XactRollback: a.XactRollback - b.XactRollback,
		TupReturned: a.TupReturned - b.TupReturned, TupFetched: a.TupFetched - b.TupFetched,
		BlksHit: a.BlksHit - b.BlksHit, BlksRead: a.BlksRead - b.BlksRead,
	}
}

func (a DatabaseCounters) negative() bool {
	return a.XactCommit < 0 || a.XactRollback < 0 || a.TupReturned < 0 || a.TupFetched < 0 || a.BlksHit < 0 || a.BlksRead < 0
}

func (a TableCounters) minus(b TableCounters) TableCounters {
	return TableCounters{
		SeqScan: a.SeqScan - b.SeqScan, SeqTupRead: a.SeqTupRead - b.SeqTupRead,
		IdxScan: a.IdxScan - b.IdxScan, IdxTupFetch: a.IdxTupFetch - b.IdxTupFetch,
		TupInserted: a.TupInserted - b.TupInserted,
	}
}

func (a TableCounters) negative() bool {
	return a.SeqScan < 0 || a.SeqTupRead < 0 || a.IdxScan < 0 || a.IdxTupFetch < 0 || a.TupInserted < 0
}

func (a StatementCounters) minus(b StatementCounters) StatementCounters {
	return StatementCounters{
		Calls: a.Calls - b.Calls, Rows: a.Rows - b.Rows, ExecMs: a.ExecMs - b.ExecMs,
		SharedBlksHit: a.SharedBlksHit - b.SharedBlksHit, SharedBlksRead: a.SharedBlksRead - b.SharedBlksRead,
	}
}

func (a StatementCounters) negative() bool {
	// ExecMs is a float sum whose order of addition may differ between
	// samples; only a real decrease counts.
	return a.Calls < 0 || a.Rows < 0 || a.ExecMs < -1e-6 || a.SharedBlksHit < 0 || a.SharedBlksRead < 0
}
