package result

// The database cost of a path: what package dbcost measures, in the form
// result.json carries it. "Table" below is public.transactions.

// DBCost is what the server did between two samples, with the sampler's own
// work taken out, and the same figures per 1,000 card transactions. It goes
// into result.json as it is. A figure the server could not give is null,
// never 0; Problems says why a figure cannot be trusted.
type DBCost struct {
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
	// tagged as the harness's own (dbcost.HarnessTag).
	OtherStatements *StatementCounters `json:"other_statements"`
	// Statements are the entries behind those three sums that ran in the
	// window, one per normalised statement, reads first, then the most
	// called: the queries a path actually sends (a Spark job's generated
	// SQL, a poller's SELECT), which no source file shows for every
	// capture. At most MaxStatements; StatementsLeftOut counts the rest.
	Statements        []StatementCost `json:"statements,omitempty"`
	StatementsLeftOut int             `json:"statements_left_out,omitempty"`

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

	// SamplerReconnects counts the sampler's connections replaced between
	// the samples after the server dropped them. Its own transactions and
	// CPU are still taken out, so the figures stand, except that each new
	// backend's start-up (a commit or two, a few hundred catalog rows and
	// blocks) counts as load: small beside a window's workload, and not
	// worth invalidating a run over.
	SamplerReconnects int64 `json:"sampler_reconnects,omitempty"`
	// NotMeasured says why the window's cost could not be measured (the
	// server could not be sampled at one end of it, even after
	// reconnecting); every other figure is then zero or null. The harness
	// failing to take a figure is not the pipeline failing, so a cost not
	// measured does not invalidate a run.
	NotMeasured string `json:"not_measured,omitempty"`
}

// MaxStatements bounds DBCost.Statements: a workload that sends many
// different statements (literals in the text instead of parameters) would
// otherwise grow result.json with each.
const MaxStatements = 20

// StatementCost is one pg_stat_statements entry over the window.
type StatementCost struct {
	// Class is "read" (a SELECT), "write" (INSERT, COPY, UPDATE, DELETE,
	// MERGE) or "other", the sum it is counted in.
	Class string `json:"class"`
	// Query is the statement as the server normalised it: constants are
	// $1, $2, ...; cut at MaxQueryText bytes.
	Query string `json:"query"`
	StatementCounters
}

// MaxQueryText bounds StatementCost.Query and SlotCost.SenderCommand.
const MaxQueryText = 2000

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
	// SenderCommand is the replication command the slot's WAL sender ran
	// at the later sample that had one (pg_stat_activity.query): what a
	// CDC path asks of the server instead of statements. Cut at
	// MaxQueryText bytes.
	SenderCommand string `json:"sender_command,omitempty"`
}

// PerThousand is a DBCost's figures divided by Transactions/1000. Fields are
// null where the DBCost's figure is.
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

// DatabaseCounters are pg_stat_database's counters for one database. They
// cover every backend of that database, catalog reads included.
type DatabaseCounters struct {
	XactCommit   int64 `json:"xact_commit"`   // transactions committed
	XactRollback int64 `json:"xact_rollback"` // transactions rolled back
	TupReturned  int64 `json:"tup_returned"`  // rows read by sequential scans plus index entries returned
	TupFetched   int64 `json:"tup_fetched"`   // rows fetched from tables through indexes
	BlksHit      int64 `json:"blks_hit"`      // 8 kB blocks found in shared buffers
	BlksRead     int64 `json:"blks_read"`     // 8 kB blocks read from the OS (its page cache or disk)
}

// TableCounters are pg_stat_user_tables' counters for Table.
type TableCounters struct {
	SeqScan     int64 `json:"seq_scan"`      // sequential scans started
	SeqTupRead  int64 `json:"seq_tup_read"`  // live rows read by sequential scans
	IdxScan     int64 `json:"idx_scan"`      // index scans started, over all the table's indexes
	IdxTupFetch int64 `json:"idx_tup_fetch"` // live rows fetched by index scans
	TupInserted int64 `json:"n_tup_ins"`     // rows inserted
}

// StatementCounters sum pg_stat_statements entries.
type StatementCounters struct {
	Calls          int64   `json:"calls"`            // statements executed
	Rows           int64   `json:"rows"`             // rows returned (SELECT) or written (INSERT, COPY)
	ExecMs         float64 `json:"exec_ms"`          // server time executing them, in milliseconds
	SharedBlksHit  int64   `json:"shared_blks_hit"`  // 8 kB blocks they found in shared buffers
	SharedBlksRead int64   `json:"shared_blks_read"` // 8 kB blocks they read from the OS
}

// Minus is the change from b to a.
func (a DatabaseCounters) Minus(b DatabaseCounters) DatabaseCounters {
	return DatabaseCounters{
		XactCommit: a.XactCommit - b.XactCommit, XactRollback: a.XactRollback - b.XactRollback,
		TupReturned: a.TupReturned - b.TupReturned, TupFetched: a.TupFetched - b.TupFetched,
		BlksHit: a.BlksHit - b.BlksHit, BlksRead: a.BlksRead - b.BlksRead,
	}
}

// Negative reports a counter that went backwards (statistics reset).
func (a DatabaseCounters) Negative() bool {
	return a.XactCommit < 0 || a.XactRollback < 0 || a.TupReturned < 0 || a.TupFetched < 0 || a.BlksHit < 0 || a.BlksRead < 0
}

// Minus is the change from b to a.
func (a TableCounters) Minus(b TableCounters) TableCounters {
	return TableCounters{
		SeqScan: a.SeqScan - b.SeqScan, SeqTupRead: a.SeqTupRead - b.SeqTupRead,
		IdxScan: a.IdxScan - b.IdxScan, IdxTupFetch: a.IdxTupFetch - b.IdxTupFetch,
		TupInserted: a.TupInserted - b.TupInserted,
	}
}

// Negative reports a counter that went backwards (statistics reset).
func (a TableCounters) Negative() bool {
	return a.SeqScan < 0 || a.SeqTupRead < 0 || a.IdxScan < 0 || a.IdxTupFetch < 0 || a.TupInserted < 0
}

// Plus is the sum of a and b.
func (a StatementCounters) Plus(b StatementCounters) StatementCounters {
	return StatementCounters{
		Calls: a.Calls + b.Calls, Rows: a.Rows + b.Rows, ExecMs: a.ExecMs + b.ExecMs,
		SharedBlksHit: a.SharedBlksHit + b.SharedBlksHit, SharedBlksRead: a.SharedBlksRead + b.SharedBlksRead,
	}
}

// Minus is the change from b to a.
func (a StatementCounters) Minus(b StatementCounters) StatementCounters {
	return StatementCounters{
		Calls: a.Calls - b.Calls, Rows: a.Rows - b.Rows, ExecMs: a.ExecMs - b.ExecMs,
		SharedBlksHit: a.SharedBlksHit - b.SharedBlksHit, SharedBlksRead: a.SharedBlksRead - b.SharedBlksRead,
	}
}

// Negative reports a counter that went backwards (statistics reset).
func (a StatementCounters) Negative() bool {
	// ExecMs is a float sum whose order of addition may differ between
	// samples; only a real decrease counts.
	return a.Calls < 0 || a.Rows < 0 || a.ExecMs < -1e-6 || a.SharedBlksHit < 0 || a.SharedBlksRead < 0
}
