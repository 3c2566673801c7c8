package dbcost

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/pgretry"
	"github.com/cdcbench/cdcbench/internal/proccost"
)

// Names dbcost measures. They are cdcbench's own, not options: the harness
// creates exactly this table and names every slot it creates with the prefix.
const (
	// Table is the table whose scans and rows are counted.
	Table = "public.transactions"
	// SlotPrefix starts the name of every replication slot cdcbench
	// creates; only those slots are reported.
	SlotPrefix = "cdcbench"
	// HarnessTag, put at the very start of a query, keeps that query out
	// of the agent and producer figures: the harness's own reads of the
	// table (counting rows, checking a probe) are not what a path costs.
	// pg_stat_statements files statements by their parse tree, comments
	// ignored, so the tag only works for a query the agents do not also run.
	HarnessTag = "/* cdcbench:harness */"
)

// Regular expressions (PostgreSQL ARE, matched case-insensitively) that
// classify pg_stat_statements entries. They travel as parameters, so the
// sampler's own statement text never mentions the table and never matches.
const (
	tableRE = `\mtransactions\M`
	// leadingComments skips comments such as a driver's or an ORM's.
	leadingComments = `^\s*(/\*[^*]*\*/\s*)*`
	readRE          = leadingComments + `select\M`
	writeRE         = leadingComments + `(insert|update|delete|merge|copy\M.*\mfrom)\M`
)

// minServerVersion is the oldest PostgreSQL the sampler's queries run on
// (starts_with appeared in 11).
const minServerVersion = 110000

// Sample is the server's counters at one instant, as one Sampler saw them.
// Counters are cumulative since the server (or its statistics) started;
// only the difference between two samples means anything, which is Diff's job.
type Sample struct {
	// At is when the counters were read (client clock).
	At time.Time
	// SamplerPID is the backend pid of the sampling connection.
	SamplerPID int
	// SamplerID identifies the Sampler that took the sample (0: unknown).
	// A Sampler that reconnected samples from a new backend, so its samples
	// differ in SamplerPID but not here, and Diff still takes the
	// sampler's own work out.
	SamplerID uint64
	// SamplerReconnects counts the connections the Sampler had replaced
	// after the server dropped them, when it took the sample.
	SamplerReconnects int64
	// SamplerXacts counts the sampler's own committed transactions that
	// the server had published when this sample read its counters; Diff
	// subtracts the sampler's commits with it. (A failed sample rolls back
	// and shows in xact_rollback.)
	SamplerXacts int64
	// Database holds pg_stat_database's counters for the connected database.
	Database DatabaseCounters
	// TableOID identifies Table; 0 when it does not exist. A different OID
	// in two samples means the table was re-created in between.
	TableOID uint32
	// Table holds pg_stat_user_tables' counters for Table (zero when it
	// does not exist).
	Table TableCounters
	// Statements is what pg_stat_statements says about statements that
	// mention the table; nil when the extension is not available.
	Statements *StatementSplit
	// WALLSN is pg_current_wal_lsn() as a byte position.
	WALLSN uint64
	// Slots are the replication slots whose names start with SlotPrefix,
	// ordered by name.
	Slots []Slot
	// ServerCPUTicks is the user+system CPU of every server process in
	// clock ticks (1/100 s); nil when not available (serverPID 0, no /proc).
	ServerCPUTicks *int64
	// SamplerCPUTicks is the CPU of the sampler's own backends in clock
	// ticks, which Diff subtracts; meaningful only with ServerCPUTicks. After
	// a reconnect it adds the new backend's to what the Sampler last read of
	// the old ones (a dropped backend's CPU after that read, a few ticks at
	// most, counts as load).
	SamplerCPUTicks int64
}

// StatementSplit divides the statements that mention the table by who runs
// them.
type StatementSplit struct {
	// Reads are SELECTs: the agents' polling on the poll path (a Debezium
	// snapshot would land here too).
	Reads StatementCounters
	// Writes are INSERT, COPY ... FROM, UPDATE, DELETE and MERGE: the
	// producer (and the harness's probe row).
	Writes StatementCounters
	// Other is everything else that mentions the table: DDL, TRUNCATE and
	// queries starting with HarnessTag.
	Other StatementCounters
	// Dealloc counts entries pg_stat_statements evicted to make room (nil
	// before PostgreSQL 14); evicted entries take their counts with them.
	Dealloc *int64
	// Queries are the same statements one by one, so that a report can
	// show what each path actually sends (a Spark job's generated SQL is
	// not in cdcbench's source); Reads, Writes and Other are their sums.
	Queries []Query
}

// Query is one pg_stat_statements entry (summed over users) that mentions
// the table.
type Query struct {
	// ID is pg_stat_statements' queryid: the same normalised statement
	// has the same ID in two samples.
	ID int64
	// Class is "read", "write" or "other", as in StatementSplit.
	Class string
	// Text is the statement as the server normalised it (constants
	// replaced by $1, $2, ...).
	Text string
	StatementCounters
}

// Slot is one replication slot and, when one is streaming it, its WAL sender.
type Slot struct {
	Name   string
	Active bool // a consumer is connected
	// RestartLSN is the oldest WAL the slot still needs; ConfirmedFlushLSN
	// what its consumer confirmed (0 for a physical slot).
	RestartLSN, ConfirmedFlushLSN uint64
	// RetainedBytes is WAL the slot keeps the server from recycling
	// (WALLSN − RestartLSN).
	RetainedBytes int64
	// LagBytes is WAL written but not yet confirmed by the consumer
	// (WALLSN − ConfirmedFlushLSN); RetainedBytes for a physical slot.
	LagBytes int64
	// Sender is nil when no WAL sender streams the slot.
	Sender *Sender
}

// Sender is a WAL sender's progress, as bytes behind the WAL position.
type Sender struct {
	PID            int
	SentLagBytes   int64 // WAL not yet sent (decoded, for a logical slot)
	FlushLagBytes  int64 // WAL the consumer has not reported flushed
	ReplayLagBytes int64 // WAL the consumer has not reported applied
	// Command is the replication command the sender runs, as
	// pg_stat_activity shows it (START_REPLICATION SLOT ...): all a CDC
	// path asks of the server, which pg_stat_statements does not track.
	Command string
}

// Sampler takes Samples over one connection. The connection should be its
// own: a sample runs in a transaction, and Diff subtracts exactly the
// sampler's transactions, not anything else done on the connection. A
// Sampler is not safe for concurrent use, like the pgx.Conn it holds.
type Sampler struct {
	conn      *pgx.Conn
	serverPID int // 0 = CPU not available
	dbOID     uint32
	pid       int // the sampling backend
	version   int // server_version_num
	pgss      string
	pgssInfo  string
	xacts     int64
	tableOID  uint32
	indexOIDs []uint32

	id uint64
	// dial, when set, makes a new connection after the server dropped the
	// current one (Dial); a Sampler on a borrowed connection cannot.
	dial       func(context.Context) (*pgx.Conn, error)
	reconnects int64
	// ownTicks is the CPU of the sampler's earlier backends as last read;
	// lastTicks the current backend's at the last sample.
	ownTicks, lastTicks int64
}

// samplerIDs numbers Samplers for Sample.SamplerID.
var samplerIDs atomic.Uint64

// NewSampler prepares to sample the server conn is connected to. serverPID
// is the postmaster's pid when the server runs on this host (CPU is then
// read from /proc), or 0 for a server elsewhere. A serverPID that is not
// the postmaster of conn's server is an error. NewSampler ends by taking one
// sample and throwing it away, so that the sampler's warm-up (catalog
// lookups, prepared statements) lands before the first sample that counts.
// The Sampler cannot replace conn if the server drops it; Dial's can.
func NewSampler(ctx context.Context, conn *pgx.Conn, serverPID int) (*Sampler, error) {
	if serverPID < 0 {
		return nil, fmt.Errorf("dbcost: serverPID %d is negative", serverPID)
	}
	s := &Sampler{serverPID: serverPID, id: samplerIDs.Add(1)}
	if err := s.attach(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := s.Take(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Dial is NewSampler on a connection of the Sampler's own, made by dial,
// which it makes again when the server drops it (a restart, a terminated
// backend), under pgretry's policy, so that the cost of a window in which
// the harness lost its connection is still measured. Close closes it.
func Dial(ctx context.Context, dial func(context.Context) (*pgx.Conn, error), serverPID int) (*Sampler, error) {
	var conn *pgx.Conn
	if _, err := pgretry.Default.Do(ctx, func(ctx context.Context) (err error) {
		conn, err = dial(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("dbcost: connect: %w", err)
	}
	s, err := NewSampler(ctx, conn, serverPID)
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	s.dial = dial
	return s, nil
}

// Close closes the connection of a Sampler made by Dial; a borrowed
// connection is the caller's to close.
func (s *Sampler) Close(ctx context.Context) {
	if s.dial != nil && s.conn != nil {
		_ = s.conn.Close(ctx)
	}
}

// attach makes conn the sampling connection: it reads what the sampler
// needs to know about the server and the backend, in a transaction that is
// counted as the sampler's own.
func (s *Sampler) attach(ctx context.Context, conn *pgx.Conn) error {
	s.conn = conn
	var pgssSchema, pgssTrack *string
	var pgssInfo bool
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('server_version_num')::int, d.oid, pg_backend_pid(),
		(SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'),
		current_setting('pg_stat_statements.track', true),
		EXISTS (SELECT FROM pg_extension e JOIN pg_proc p ON p.pronamespace = e.extnamespace
			WHERE e.extname = 'pg_stat_statements' AND p.proname = 'pg_stat_statements_info')
		FROM pg_database d WHERE d.datname = current_database()`).
			Scan(&s.version, &s.dbOID, &s.pid, &pgssSchema, &pgssTrack, &pgssInfo)
	})
	if err != nil {
		return fmt.Errorf("dbcost: inspect server: %w", err)
	}
	if s.version < minServerVersion {
		return fmt.Errorf("dbcost: PostgreSQL %d is too old; the sampler needs %d or later", s.version, minServerVersion)
	}
	// Available means: the library is loaded (its setting exists), it
	// tracks something, the extension's view exists in this database, and
	// the view has the column names of PostgreSQL 13 and later.
	s.pgss, s.pgssInfo = "", ""
	if pgssSchema != nil && pgssTrack != nil && *pgssTrack != "none" && s.version >= 130000 {
		s.pgss = pgx.Identifier{*pgssSchema, "pg_stat_statements"}.Sanitize()
		if pgssInfo {
			s.pgssInfo = pgx.Identifier{*pgssSchema, "pg_stat_statements_info"}.Sanitize()
		}
	}
	if s.serverPID > 0 && proccost.Available() {
		st, err := proccost.ReadStat(s.pid)
		if err != nil {
			return fmt.Errorf("dbcost: serverPID %d: cannot see the sampler's backend %d in /proc (a server in another PID namespace?): %w", s.serverPID, s.pid, err)
		}
		if st.PPID != s.serverPID {
			return fmt.Errorf("dbcost: serverPID %d is not the postmaster of the connected server (the sampler's backend %d has parent %d)", s.serverPID, s.pid, st.PPID)
		}
	} else {
		s.serverPID = 0
	}
	return nil
}

// reconnect replaces the dropped connection with a new one from dial and
// takes the sample on it.
func (s *Sampler) reconnect(ctx context.Context) (Sample, error) {
	var smp Sample
	_, err := pgretry.Default.Do(ctx, func(ctx context.Context) error {
		conn, err := s.dial(ctx)
		if err != nil {
			return err
		}
		_ = s.conn.Close(context.WithoutCancel(ctx))
		s.reconnects++
		s.ownTicks += s.lastTicks
		s.lastTicks = 0
		if err := s.attach(ctx, conn); err != nil {
			return err
		}
		smp, err = s.take(ctx)
		return err
	})
	return smp, err
}

// StatementsAvailable reports whether samples carry pg_stat_statements
// figures.
func (s *Sampler) StatementsAvailable() bool { return s.pgss != "" }

// Take reads the counters.
//
// Statistics other backends have not yet published are not in it: since
// PostgreSQL 15 a busy backend publishes its pg_stat_database and
// pg_stat_user_tables counts at most once a second, one that goes idle
// right after working up to 10 s later, and one that exits at once.
// pg_stat_statements, the WAL position, slots and /proc CPU have no such
// delay. A window whose ends both fall in steady load is off by at most
// about a second of each backend's work at each end, in the same direction
// at both; a window that must be exact ends after the workload's
// connections have closed (and their backends exited). The sampler's own
// statistics are published before each of its reads (see settle), which is
// what lets Diff subtract them exactly; on PostgreSQL 14 and older, which
// cannot be asked to publish, they may straggle into a later window.
//
// A Sampler made by Dial reconnects when the server dropped its connection
// and samples on the new one; the sample then says so in
// SamplerReconnects.
func (s *Sampler) Take(ctx context.Context) (Sample, error) {
	smp, err := s.take(ctx)
	if err != nil && s.dial != nil && pgretry.Lost(err) && ctx.Err() == nil {
		smp, err = s.reconnect(ctx)
	}
	if err != nil {
		return Sample{}, fmt.Errorf("dbcost: sample: %w", err)
	}
	return smp, nil
}

func (s *Sampler) take(ctx context.Context) (smp Sample, err error) {
	if err := s.inTx(ctx, s.settle); err != nil {
		return smp, err
	}
	// Everything the sampler did up to here is published; what it does
	// from here on is published by the next sample's settle, before that
	// sample reads. So the sampler's own transactions between two samples
	// are exactly the difference of this count.
	smp.SamplerPID, smp.SamplerXacts, smp.TableOID = s.pid, s.xacts, s.tableOID
	smp.SamplerID, smp.SamplerReconnects = s.id, s.reconnects
	err = s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error { return s.read(ctx, tx, &smp) })
	if err != nil {
		return smp, err
	}
	smp.At = time.Now()
	if s.serverPID > 0 {
		total, err := serverTicks(s.serverPID)
		if err != nil {
			return smp, err
		}
		own, err := proccost.ReadStat(s.pid)
		if err != nil {
			return smp, fmt.Errorf("sampler backend: %w", err)
		}
		s.lastTicks = own.Ticks
		smp.ServerCPUTicks, smp.SamplerCPUTicks = &total, s.ownTicks+own.Ticks
	}
	return smp, nil
}

// inTx runs fn in a transaction of its own and counts it. Explicit
// transactions keep the count exact whatever the connection's query mode
// (pgx may otherwise prepare a statement in a transaction of its own).
func (s *Sampler) inTx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		tx.Rollback(context.WithoutCancel(ctx)) // the error already says what failed
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.xacts++
	return nil
}

// settle does the sampler's catalog lookups and makes the server publish
// the sampler's pending statistics — its earlier transactions and those
// lookups — before the counters are read.
//
// A backend publishes only when it has some table statistics pending, and
// the sampler's reads (statistics functions, no tables) leave none; its
// commits would then wait unpublished and land in some later window. So
// settle reads one row of pg_database: a shared catalog, whose statistics
// belong to the "shared objects" entry, not to the measured database, but
// which makes the sampler's backend publish everything it holds when
// pg_stat_force_next_flush asks it to, at the end of this transaction.
func (s *Sampler) settle(ctx context.Context, tx pgx.Tx) error {
	flush := "NULL"
	if s.version >= 150000 {
		flush = "pg_stat_force_next_flush()"
	}
	var tableOID uint32
	err := tx.QueryRow(ctx, `SELECT coalesce(to_regclass($1)::oid, 0),
		(SELECT count(*) FROM pg_database WHERE oid = $2), `+flush, Table, s.dbOID).
		Scan(&tableOID, nil, nil)
	if err != nil {
		return fmt.Errorf("look up %s: %w", Table, err)
	}
	if tableOID == s.tableOID {
		return nil
	}
	// The table is new (or new again): its indexes are looked up in the
	// catalog here, once, rather than by every sample's read.
	s.tableOID, s.indexOIDs = tableOID, nil
	if tableOID != 0 {
		err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(indexrelid), '{}') FROM pg_index WHERE indrelid = $1`, tableOID).Scan(&s.indexOIDs)
		if err != nil {
			return fmt.Errorf("indexes of %s: %w", Table, err)
		}
	}
	return nil
}

// read reads the counters into smp. It touches no table, so it costs the
// measured database nothing but its commit, which settle accounts for.
func (s *Sampler) read(ctx context.Context, tx pgx.Tx, smp *Sample) error {
	var lsn string
	db := &smp.Database
	err := tx.QueryRow(ctx, `SELECT pg_stat_get_db_xact_commit($1), pg_stat_get_db_xact_rollback($1),
		pg_stat_get_db_tuples_returned($1), pg_stat_get_db_tuples_fetched($1),
		pg_stat_get_db_blocks_hit($1), pg_stat_get_db_blocks_fetched($1) - pg_stat_get_db_blocks_hit($1),
		pg_current_wal_lsn()::text`, s.dbOID).
		Scan(&db.XactCommit, &db.XactRollback, &db.TupReturned, &db.TupFetched, &db.BlksHit, &db.BlksRead, &lsn)
	if err != nil {
		return fmt.Errorf("database counters: %w", err)
	}
	if smp.WALLSN, err = parseLSN(lsn); err != nil {
		return err
	}

	b := &pgx.Batch{}
	if s.tableOID != 0 {
		t := &smp.Table
		b.Queue(`SELECT pg_stat_get_numscans($1), pg_stat_get_tuples_returned($1),
			(SELECT coalesce(sum(pg_stat_get_numscans(i)), 0)::bigint FROM unnest($2::oid[]) i),
			(SELECT coalesce(sum(pg_stat_get_tuples_fetched(i)), 0)::bigint FROM unnest($2::oid[]) i) + pg_stat_get_tuples_fetched($1),
			pg_stat_get_tuples_inserted($1)`, s.tableOID, s.indexOIDs).
			QueryRow(func(row pgx.Row) error {
				return row.Scan(&t.SeqScan, &t.SeqTupRead, &t.IdxScan, &t.IdxTupFetch, &t.TupInserted)
			})
	}
	if s.pgss != "" {
		smp.Statements = &StatementSplit{}
		b.Queue(`SELECT coalesce(queryid, 0), CASE WHEN starts_with(ltrim(query), $3) THEN 'other'
				WHEN query ~* $4 THEN 'read' WHEN query ~* $5 THEN 'write' ELSE 'other' END,
			min(query), sum(calls)::bigint, sum(rows)::bigint, sum(total_exec_time)::float8,
			sum(shared_blks_hit)::bigint, sum(shared_blks_read)::bigint
			FROM `+s.pgss+` WHERE dbid = $1 AND query ~* $2 GROUP BY 1, 2`,
			s.dbOID, tableRE, HarnessTag, readRE, writeRE).
			Query(func(rows pgx.Rows) error { return scanStatements(rows, smp.Statements) })
		if s.pgssInfo != "" {
			b.Queue(`SELECT dealloc FROM ` + s.pgssInfo).QueryRow(func(row pgx.Row) error {
				return row.Scan(&smp.Statements.Dealloc)
			})
		}
	}
	b.Queue(`SELECT s.slot_name::text, s.active, s.restart_lsn::text, s.confirmed_flush_lsn::text,
			w.pid, w.sent_lsn::text, w.flush_lsn::text, w.replay_lsn::text,
			-- the WHERE: given NULL (no sender) the function returns every backend
			(SELECT a.query FROM pg_stat_get_activity(w.pid) a WHERE a.pid = w.pid)
		FROM pg_get_replication_slots() s LEFT JOIN pg_stat_get_wal_senders() w ON w.pid = s.active_pid
		WHERE starts_with(s.slot_name::text, $1) ORDER BY 1`, SlotPrefix).
		Query(func(rows pgx.Rows) error {
			slots, err := scanSlots(rows, smp.WALLSN)
			smp.Slots = slots
			return err
		})
	return tx.SendBatch(ctx, b).Close()
}

// scanStatements reads the pg_stat_statements entries into split, one
// Query each, and sums them by class.
func scanStatements(rows pgx.Rows, split *StatementSplit) error {
	for rows.Next() {
		var q Query
		c := &q.StatementCounters
		if err := rows.Scan(&q.ID, &q.Class, &q.Text, &c.Calls, &c.Rows, &c.ExecMs, &c.SharedBlksHit, &c.SharedBlksRead); err != nil {
			return fmt.Errorf("pg_stat_statements: %w", err)
		}
		sum := &split.Other
		switch q.Class {
		case "read":
			sum = &split.Reads
		case "write":
			sum = &split.Writes
		}
		*sum = sum.Plus(*c)
		split.Queries = append(split.Queries, q)
	}
	return rows.Err()
}

// scanSlots reads the slot rows and computes their lags against wal.
func scanSlots(rows pgx.Rows, wal uint64) ([]Slot, error) {
	var slots []Slot
	for rows.Next() {
		var sl Slot
		var restart, confirmed, sent, flush, replay, command *string
		var pid *int
		if err := rows.Scan(&sl.Name, &sl.Active, &restart, &confirmed, &pid, &sent, &flush, &replay, &command); err != nil {
			return nil, fmt.Errorf("replication slots: %w", err)
		}
		var err error
		if sl.RestartLSN, err = parseOptLSN(restart); err != nil {
			return nil, err
		}
		if sl.ConfirmedFlushLSN, err = parseOptLSN(confirmed); err != nil {
			return nil, err
		}
		if restart != nil { // a slot without a restart LSN retains nothing
			sl.RetainedBytes = behind(wal, sl.RestartLSN)
		}
		sl.LagBytes = sl.RetainedBytes // a physical slot confirms nothing
		if confirmed != nil {
			sl.LagBytes = behind(wal, sl.ConfirmedFlushLSN)
		}
		if pid != nil {
			snd := &Sender{PID: *pid}
			if command != nil {
				snd.Command = *command
			}
			for _, f := range []struct {
				lsn *string
				lag *int64
			}{{sent, &snd.SentLagBytes}, {flush, &snd.FlushLagBytes}, {replay, &snd.ReplayLagBytes}} {
				// A sender that has sent nothing or heard no feedback
				// yet is as far behind as the slot.
				*f.lag = sl.LagBytes
				if f.lsn != nil {
					v, err := parseLSN(*f.lsn)
					if err != nil {
						return nil, err
					}
					*f.lag = behind(wal, v)
				}
			}
			sl.Sender = snd
		}
		slots = append(slots, sl)
	}
	return slots, rows.Err()
}

// behind is how many bytes lsn is behind wal. A position read after wal
// (the sender moves on while the sample is taken) is no lag, not a
// negative one.
func behind(wal, lsn uint64) int64 {
	if lsn >= wal {
		return 0
	}
	return int64(wal - lsn)
}

// errLSN reports an LSN the server printed in a form dbcost cannot read.
var errLSN = errors.New("dbcost: malformed LSN")

func parseLSN(s string) (uint64, error) {
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %v", errLSN, s, err)
	}
	return uint64(lsn), nil
}

func parseOptLSN(s *string) (uint64, error) {
	if s == nil {
		return 0, nil
	}
	return parseLSN(*s)
}
