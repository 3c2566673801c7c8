// Package relay is cdcbench's built-in CDC path: it reads the WAL through a
// logical replication slot with pgoutput, turns every insert into the
// transactions table into a Debezium-compatible change event and produces it
// to Kafka. It stands in for Debezium on machines without a JVM, and it keeps
// Debezium's delivery contract: a transaction's commit LSN is confirmed to
// PostgreSQL only after Kafka acknowledged all of its records, so a crash
// replays events (at least once) and never loses them.
package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// Version is what the relay writes into source.version.
const Version = "cdcbench-relay/1"

// Config configures a Relay.
type Config struct {
	// ReplicationDSN connects with replication=database.
	ReplicationDSN string
	Slot           string
	Publication    string
	Brokers        []string
	Topic          string
	// Name is Debezium's topic.prefix, written into source.name.
	Name      string
	Database  string
	Schema    string
	Table     string
	KafkaOpts []kgo.Opt
	// KeyByUser keys events by user_id instead of the primary key, as
	// Debezium does with message.key.columns: a user's events then share a
	// partition, and agents scaled out over partitions keep per-user order.
	KeyByUser  bool
	StatusTick time.Duration // how often to confirm the flushed LSN (default 1s)
}

// Stats are the relay's counters.
type Stats struct {
	Events  int64 // change events acknowledged by Kafka
	Skipped int64 // changes that were not inserts into the table
}

// Relay streams one slot into one topic.
type Relay struct {
	cfg    Config
	conn   *pgconn.PgConn
	client *kgo.Client
	src    changeevent.Source

	relations map[uint32]*relation
	cols      [][]byte // reused by insert
	acks      ackQueue
	events    atomic.Int64
	skipped   atomic.Int64
	failed    chan error
	// pausedUntil (unix ns) stops reading the slot until then: a stalled
	// CDC path, for fault injection.
	pausedUntil atomic.Int64
	// abort makes the shutdown abrupt, as a crash would be: records in
	// flight are dropped and nothing more is confirmed to the slot.
	abort atomic.Bool
}

// Pause stops reading the slot for d; WAL accumulates in the slot and is
// read when the pause ends.
func (r *Relay) Pause(d time.Duration) { r.pausedUntil.Store(time.Now().Add(d).UnixNano()) }

// Abort marks the next shutdown as a crash: cancel Run's context after it.
// The slot then replays from the last confirmed position, so events are
// duplicated, never lost.
func (r *Relay) Abort() { r.abort.Store(true) }

type relation struct {
	ours bool
	// column positions of the fields we need, -1 when absent
	id, user, amount, card, merchant, created int
}

// CreateSlot creates the logical replication slot (pgoutput). The caller
// owns the slot's lifetime: DropSlot on every exit path, since a leaked slot
// retains WAL until the disk fills.
func CreateSlot(ctx context.Context, replicationDSN, slot string) error {
	// Creating a slot is not interrupted half-way: a cancelled request can
	// still complete on the server after the client gave up, leaving a slot
	// nobody knows to drop. It runs to the end (bounded), and the caller's
	// cleanup, which runs after, finds it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(cctx, replicationDSN)
	if err != nil {
		return fmt.Errorf("relay: connect for slot: %w", err)
	}
	defer conn.Close(cctx)
	_, err = pglogrepl.CreateReplicationSlot(cctx, conn, slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
	if err != nil {
		return fmt.Errorf("relay: create slot %s: %w", slot, err)
	}
	return ctx.Err()
}

// New connects to PostgreSQL and Kafka; Run starts streaming.
func New(ctx context.Context, cfg Config) (*Relay, error) {
	if cfg.StatusTick <= 0 {
		cfg.StatusTick = time.Second
	}
	client, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		// franz-go lingers 10 ms by default to batch; every record would
		// wait for it. Debezium's producer does not linger either.
		kgo.ProducerLinger(0),
		// Every envelope repeats its ~2.5 kB schema, so a batch compresses
		// about tenfold; uncompressed, copying those bytes into and inside
		// the broker cost more CPU than the relay itself (issue 8: 0.4 of
		// pg_recvlogical's throughput without, above it compressed). Snappy,
		// not lz4: as fast here, and its assembly is not slowed down by the
		// race detector, under which the pure-Go lz4 put 190 ms into the
		// tests' medians. The compose stack's Connect worker uses snappy too.
		kgo.ProducerBatchCompression(kgo.SnappyCompression()),
		kgo.MaxBufferedRecords(1 << 20),
	}, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("relay: kafka client: %w", err)
	}
	conn, err := pgconn.Connect(ctx, cfg.ReplicationDSN)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("relay: replication connection: %w", err)
	}
	src := changeevent.Source{
		Version: Version, Connector: "postgresql", Name: cfg.Name,
		DB: cfg.Database, Schema: cfg.Schema, Table: cfg.Table, Snapshot: "false",
	}
	return &Relay{
		cfg: cfg, conn: conn, client: client, src: src,
		relations: make(map[uint32]*relation),
		failed:    make(chan error, 1),
	}, nil
}

// Stats returns the counters.
func (r *Relay) Stats() Stats {
	return Stats{Events: r.events.Load(), Skipped: r.skipped.Load()}
}

// Run streams from the slot until ctx ends (returns nil) or something fails.
// It closes the connections on return.
func (r *Relay) Run(ctx context.Context) error {
	defer r.close(ctx)
	err := pglogrepl.StartReplication(ctx, r.conn, r.cfg.Slot, 0, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names '" + r.cfg.Publication + "'"},
	})
	if err != nil {
		return fmt.Errorf("relay: start replication on slot %s: %w", r.cfg.Slot, err)
	}
	nextStatus := time.Now().Add(r.cfg.StatusTick)
	var recvCtx tickContext
	defer recvCtx.stop()
	var cur txnState
	for {
		if ctx.Err() != nil {
			return nil
		}
		select {
		case err := <-r.failed:
			return err
		default:
		}
		if now := time.Now(); !now.Before(nextStatus) {
			// Sent on every tick, changed or not: it is also the keepalive
			// that stops wal_sender_timeout from closing an idle stream.
			c := pglogrepl.LSN(r.acks.confirmed.Load())
			if err := pglogrepl.SendStandbyStatusUpdate(ctx, r.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: c}); err != nil {
				return fmt.Errorf("relay: standby status: %w", err)
			}
			nextStatus = now.Add(r.cfg.StatusTick)
		}
		if until := time.Unix(0, r.pausedUntil.Load()); time.Now().Before(until) {
			_ = wait.Sleep(ctx, min(time.Until(until), time.Until(nextStatus), 50*time.Millisecond)) // ctx's end is seen at the loop's top
			continue
		}
		// One deadline context per status tick, not per message: creating
		// one for every WAL message was an eighth of the relay's CPU.
		raw, err := r.conn.ReceiveMessage(recvCtx.until(ctx, nextStatus))
		if err != nil {
			if pgconn.Timeout(err) || ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("relay: receive: %w", err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("relay: server error: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if err := r.handleCopyData(ctx, msg.Data, &cur, &nextStatus); err != nil {
				return err
			}
		}
	}
}

// tickContext is a deadline context reused until its deadline changes.
type tickContext struct {
	ctx    context.Context
	cancel context.CancelFunc
	at     time.Time
}

func (t *tickContext) until(parent context.Context, at time.Time) context.Context {
	if t.ctx == nil || !t.at.Equal(at) {
		t.stop()
		t.ctx, t.cancel = context.WithDeadline(parent, at)
		t.at = at
	}
	return t.ctx
}

func (t *tickContext) stop() {
	if t.cancel != nil {
		t.cancel()
	}
}

// txnState is the transaction being decoded.
type txnState struct {
	commitUs int64
	xid      uint32
	pending  *pendingTxn
}

func (r *Relay) handleCopyData(ctx context.Context, data []byte, cur *txnState, nextStatus *time.Time) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("relay: keepalive: %w", err)
		}
		if ka.ReplyRequested {
			*nextStatus = time.Time{}
		}
		// With nothing in flight, everything up to the server's WAL end is
		// ours to confirm: that keeps an idle slot from retaining WAL.
		r.acks.idle(int64(ka.ServerWALEnd))
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("relay: xlogdata: %w", err)
		}
		return r.handleWAL(ctx, xld, cur)
	}
	return nil
}

func (r *Relay) handleWAL(ctx context.Context, xld pglogrepl.XLogData, cur *txnState) error {
	if len(xld.WALData) > 0 && xld.WALData[0] == byte(pglogrepl.MessageTypeInsert) {
		// Inserts are nearly every message: split them in place instead of
		// through pglogrepl.Parse, which allocates per column.
		return r.insert(ctx, xld, cur)
	}
	msg, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return fmt.Errorf("relay: decode pgoutput at %s: %w", xld.WALStart, err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r.relations[m.RelationID] = r.describe(m)
	case *pglogrepl.BeginMessage:
		cur.commitUs = m.CommitTime.UnixMicro()
		cur.xid = m.Xid
		cur.pending = r.acks.begin()
	case *pglogrepl.UpdateMessage, *pglogrepl.DeleteMessage, *pglogrepl.TruncateMessage:
		r.skipped.Add(1)
	case *pglogrepl.CommitMessage:
		if cur.pending != nil {
			r.acks.commit(cur.pending, int64(m.TransactionEndLSN))
			cur.pending = nil
		}
	}
	return nil
}

func (r *Relay) key(dst []byte, tx *txn.Row, src *changeevent.Source) []byte {
	if r.cfg.KeyByUser {
		return changeevent.AppendUserKey(dst, tx.UserID, src)
	}
	return changeevent.AppendKey(dst, tx.ID, src)
}

func (r *Relay) describe(m *pglogrepl.RelationMessage) *relation {
	rel := &relation{id: -1, user: -1, amount: -1, card: -1, merchant: -1, created: -1}
	rel.ours = m.Namespace == r.cfg.Schema && m.RelationName == r.cfg.Table
	for i, c := range m.Columns {
		switch c.Name {
		case "id":
			rel.id = i
		case "user_id":
			rel.user = i
		case "amount":
			rel.amount = i
		case "card_type":
			rel.card = i
		case "merchant_id":
			rel.merchant = i
		case "created_at":
			rel.created = i
		}
	}
	return rel
}

var (
	errColumn = errors.New("column missing or null")
	errInsert = errors.New("malformed insert message")
)

// recordPool recycles records and their buffers once Kafka acknowledged
// them: a schema-wrapped event is 3 KB, and allocating one per row made the
// garbage collector the relay's largest cost.
var recordPool = sync.Pool{New: func() any { return new(kgo.Record) }}

// insert turns one pgoutput Insert into a change event and produces it.
func (r *Relay) insert(ctx context.Context, xld pglogrepl.XLogData, cur *txnState) error {
	relID, cols, err := splitInsert(xld.WALData, r.cols[:0])
	r.cols = cols[:0]
	if err != nil {
		return fmt.Errorf("relay: insert at %s: %w", xld.WALStart, err)
	}
	rel := r.relations[relID]
	if rel == nil || !rel.ours {
		r.skipped.Add(1)
		return nil
	}
	var tx txn.Row
	if err := rel.decode(cols, &tx); err != nil {
		return fmt.Errorf("relay: insert at %s: %w", xld.WALStart, err)
	}
	src := r.src
	src.TsUs = cur.commitUs
	src.TxID = int64(cur.xid)
	src.LSN = int64(xld.WALStart)
	rec := recordPool.Get().(*kgo.Record)
	rec.Key = r.key(rec.Key[:0], &tx, &src)
	rec.Value = changeevent.AppendValue(rec.Value[:0], &tx, &src, 'c', time.Now().UnixMicro())
	p := cur.pending
	r.acks.add(p)
	r.client.Produce(ctx, rec, func(rec *kgo.Record, err error) {
		if err != nil {
			select {
			case r.failed <- fmt.Errorf("relay: produce: %w", err):
			default:
			}
			return
		}
		r.events.Add(1)
		r.acks.done(p)
		*rec = kgo.Record{Key: rec.Key[:0], Value: rec.Value[:0]}
		recordPool.Put(rec)
	})
	return nil
}

// splitInsert splits an Insert message ('I', relation id, 'N', column
// count, then per column a kind byte and, for text, a length and the bytes)
// into column values that alias data; a NULL or unchanged TOAST column is nil.
func splitInsert(data []byte, cols [][]byte) (uint32, [][]byte, error) {
	if len(data) < 8 || data[5] != 'N' {
		return 0, cols, errInsert
	}
	relID := binary.BigEndian.Uint32(data[1:5])
	n := int(binary.BigEndian.Uint16(data[6:8]))
	at := 8
	for i := 0; i < n; i++ {
		if at >= len(data) {
			return relID, cols, errInsert
		}
		kind := data[at]
		at++
		switch kind {
		case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
			if at+4 > len(data) {
				return relID, cols, errInsert
			}
			l := int(binary.BigEndian.Uint32(data[at:]))
			at += 4
			if l < 0 || at+l > len(data) {
				return relID, cols, errInsert
			}
			cols = append(cols, data[at:at+l:at+l])
			at += l
		default: // 'n' NULL, 'u' unchanged TOAST
			cols = append(cols, nil)
		}
	}
	return relID, cols, nil
}

// decode reads the row's columns (pgoutput text format).
func (rel *relation) decode(cols [][]byte, tx *txn.Row) error {
	col := func(i int) []byte {
		if i < 0 || i >= len(cols) {
			return nil
		}
		return cols[i]
	}
	var ok [6]bool
	var err error
	tx.ID, ok[0] = parseInt(col(rel.id), 64)
	var v int64
	v, ok[1] = parseInt(col(rel.user), 32)
	tx.UserID = int32(v)
	v, ok[2] = parseInt(col(rel.merchant), 32)
	tx.MerchantID = int32(v)
	if b := col(rel.amount); b != nil {
		tx.AmountCents, err = txn.ParseAmount(b)
		ok[3] = err == nil
	}
	if b := col(rel.card); b != nil {
		tx.Card, ok[4] = txn.ParseCard(b), true
	}
	if b := col(rel.created); b != nil {
		tx.CreatedAt, err = txn.ParseTimestamp(b)
		ok[5] = err == nil
	}
	for i, name := range [...]string{"id", "user_id", "merchant_id", "amount", "card_type", "created_at"} {
		if !ok[i] {
			return fmt.Errorf("%s: %w", name, errColumn)
		}
	}
	return nil
}

// parseInt parses a decimal integer that must fit bits, without the string
// conversion strconv needs.
func parseInt(b []byte, bits uint) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' || n > (1<<63)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<(bits-1) {
			return 0, false
		}
	}
	if !neg && n == 1<<(bits-1) {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

func (r *Relay) close(ctx context.Context) {
	if r.abort.Load() {
		r.client.Close()
		_ = r.conn.Close(context.WithoutCancel(ctx))
		return
	}
	// Let records in flight finish so their LSNs are confirmed.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = r.client.Flush(fctx)
	cancel()
	r.client.Close()
	if c := r.acks.confirmed.Load(); c > 0 {
		_ = pglogrepl.SendStandbyStatusUpdate(ctx, r.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(c)})
	}
	_ = r.conn.Close(context.WithoutCancel(ctx))
}

// DropSlot drops the slot, waiting briefly for a relay still holding it to
// let go. A slot that does not exist is not an error: cleanup calls it
// whenever creating the slot was attempted.
func DropSlot(ctx context.Context, replicationDSN, slot string) error {
	conn, err := pgconn.Connect(ctx, replicationDSN)
	if err != nil {
		return fmt.Errorf("relay: connect to drop slot %s: %w", slot, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var lastErr error
	for i := 0; ; i++ {
		// Without WAIT, so that a slot held by a consumer that will not let
		// go does not block cleanup: after a few tries its WAL sender is
		// terminated. A leaked slot costs more than a killed consumer.
		lastErr = pglogrepl.DropReplicationSlot(ctx, conn, slot, pglogrepl.DropReplicationSlotOptions{})
		var pgErr *pgconn.PgError
		if lastErr == nil || errors.As(lastErr, &pgErr) && pgErr.Code == "42704" { // undefined_object: already gone
			return nil
		}
		if i == 20 {
			terminateHolder(ctx, replicationDSN, slot)
		}
		if wait.Sleep(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("relay: drop slot %s: %w", slot, lastErr)
		}
	}
}

// terminateHolder ends the WAL sender that holds slot, best effort.
func terminateHolder(ctx context.Context, replicationDSN, slot string) {
	cfg, err := pgconn.ParseConfig(replicationDSN)
	if err != nil {
		return
	}
	delete(cfg.RuntimeParams, "replication")
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_ = conn.ExecParams(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL",
		[][]byte{[]byte(slot)}, nil, nil, nil).Read().Err
}

// ackQueue tracks transactions whose records are in flight, in commit order,
// and the highest LSN whose every earlier record Kafka acknowledged.
type ackQueue struct {
	mu        sync.Mutex
	queue     []*pendingTxn
	confirmed atomic.Int64
}

type pendingTxn struct {
	outstanding int
	committed   bool
	endLSN      int64
}

func (q *ackQueue) begin() *pendingTxn {
	p := &pendingTxn{}
	q.mu.Lock()
	q.queue = append(q.queue, p)
	q.mu.Unlock()
	return p
}

func (q *ackQueue) add(p *pendingTxn) {
	q.mu.Lock()
	p.outstanding++
	q.mu.Unlock()
}

func (q *ackQueue) done(p *pendingTxn) {
	q.mu.Lock()
	p.outstanding--
	q.advance()
	q.mu.Unlock()
}

func (q *ackQueue) commit(p *pendingTxn, end int64) {
	q.mu.Lock()
	p.committed, p.endLSN = true, end
	q.advance()
	q.mu.Unlock()
}

// idle confirms lsn when no transaction is in flight.
func (q *ackQueue) idle(lsn int64) {
	q.mu.Lock()
	if len(q.queue) == 0 && lsn > q.confirmed.Load() {
		q.confirmed.Store(lsn)
	}
	q.mu.Unlock()
}

func (q *ackQueue) advance() {
	n := 0
	for n < len(q.queue) && q.queue[n].committed && q.queue[n].outstanding == 0 {
		q.confirmed.Store(q.queue[n].endLSN)
		n++
	}
	if n > 0 {
		q.queue = append(q.queue[:0], q.queue[n:]...)
	}
}
