package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcbench/cdcbench/internal/pgretry"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/txn"
)

// Insert methods.
const (
	InsertCopy   = "copy"   // COPY ... FROM STDIN, text format: what bulk loaders do
	InsertValues = "values" // one multi-row INSERT ... VALUES per batch, prepared
)

// Config configures a Producer. Validate it with Validate; New does.
type Config struct {
	DSN      string
	Insert   string
	Workload WorkloadConfig
	Schedule schedule.Schedule
	Poisson  bool // Poisson arrivals instead of even spacing
	// Queue is how many batches may wait per connection before the
	// scheduler itself blocks. Waiting batches keep their intended times, so
	// a full queue shows as latency, never as a slower schedule.
	Queue int
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, errors.New("producer: DSN is empty"))
	}
	if c.Insert != InsertCopy && c.Insert != InsertValues {
		errs = append(errs, fmt.Errorf("producer: insert must be %q or %q, got %q", InsertCopy, InsertValues, c.Insert))
	}
	if c.Workload.BatchSize < 1 || c.Workload.Conns < 1 || c.Workload.Users < 1 {
		errs = append(errs, fmt.Errorf("producer: batch size, connections and users must be positive, got %d, %d, %d",
			c.Workload.BatchSize, c.Workload.Conns, c.Workload.Users))
	}
	if c.Schedule == nil {
		errs = append(errs, errors.New("producer: no schedule"))
	}
	return errors.Join(errs...)
}

// Producer writes the workload on its schedule.
type Producer struct {
	cfg   Config
	conns []*pgx.Conn
	log   *BatchLog
	// lastLag is the schedule lag of the latest batch sent (ns), waiting
	// the intended time of a batch the scheduler cannot hand over because
	// its connection's queue is full (ns since the epoch, 0 when none):
	// together, how far behind the producer is now.
	lastLag, waiting atomic.Int64
}

// Behind is how far the producer is behind its schedule now: the lag of
// the latest batch sent or, when the writers fell so far behind that the
// schedule waits for them, the age of the batch it waits to hand over.
// Run's figures judge a run; Behind lets it be stopped once hopeless.
func (p *Producer) Behind() time.Duration {
	lag := p.lastLag.Load()
	if w := p.waiting.Load(); w != 0 {
		lag = max(lag, time.Now().UnixNano()-w)
	}
	return time.Duration(lag)
}

// New connects cfg.Workload.Conns connections.
func New(ctx context.Context, cfg Config) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	p := &Producer{cfg: cfg, log: &BatchLog{}}
	for i := 0; i < cfg.Workload.Conns; i++ {
		c, err := pgx.Connect(ctx, cfg.DSN)
		if err != nil {
			p.Close(ctx)
			return nil, fmt.Errorf("producer: connection %d: %w", i, err)
		}
		p.conns = append(p.conns, c)
	}
	return p, nil
}

// Log returns the per-batch send and commit times, filled while Run runs.
func (p *Producer) Log() *BatchLog { return p.log }

// Close closes the connections.
func (p *Producer) Close(ctx context.Context) {
	for _, c := range p.conns {
		_ = c.Close(ctx)
	}
	p.conns = nil
}

// Stats sums up a Run.
type Stats struct {
	Batches int64 // batches scheduled (indices of the BatchLog)
	// Rows counts rows whose commit was acknowledged: every scheduled row
	// once Run has waited for its writers, fewer when it stopped early.
	Rows        int64
	Frauds      result.FraudCounts
	FirstSend   time.Time
	LastCommit  time.Time
	MaxLag      time.Duration // the largest intended-to-send lag of any batch
	Reconnects  int64         // connections replaced after the server dropped them
	Errors      int64
	Interrupted bool
}

type job struct {
	batch    int64
	intended time.Time
	rows     *[]txn.Row // pooled
}

// Run sends the schedule's batches from start on, open loop, and returns when
// every batch is committed, ctx ends, or a write fails. onBatch, if not nil,
// sees every batch's rows as generated (in batch order, before they are sent)
// and must not keep them.
func (p *Producer) Run(ctx context.Context, start time.Time, onBatch func(batch int64, rows []txn.Row)) (Stats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var st Stats
	var maxLag, reconnects, committed atomic.Int64
	pool := sync.Pool{New: func() any { rows := make([]txn.Row, p.cfg.Workload.BatchSize); return &rows }}
	queues := make([]chan job, len(p.conns))
	var wg sync.WaitGroup
	for i, c := range p.conns {
		queues[i] = make(chan job, p.cfg.Queue)
		wg.Add(1)
		go func(i int, c *pgx.Conn, q <-chan job) {
			defer wg.Done()
			w := writer{conn: c, insert: p.cfg.Insert}
			defer func() { p.conns[i] = w.conn }() // Close closes the last one
			for j := range q {
				send := time.Now()
				lag := int64(send.Sub(j.intended))
				raiseMax(&maxLag, lag)
				p.lastLag.Store(lag)
				p.log.setSend(j.batch, send.UnixNano())
				if err := p.writeRetrying(ctx, &w, *j.rows, &reconnects); err != nil {
					cancel(fmt.Errorf("producer: batch %d: %w", j.batch, err))
					return
				}
				p.log.setCommit(j.batch, time.Now().UnixNano())
				committed.Add(int64(len(*j.rows)))
				pool.Put(j.rows)
			}
		}(i, c, queues[i])
	}

	gen := NewGenerator(p.cfg.Workload)
	arr := schedule.NewArrivals(p.cfg.Schedule, p.cfg.Poisson, p.cfg.Workload.Seed)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
loop:
	for {
		off, ok := arr.Next()
		if !ok {
			break
		}
		due := start.Add(off)
		if !sleepUntil(ctx, timer, due) {
			break loop
		}
		rows := pool.Get().(*[]txn.Row)
		batch, conn := gen.Next(due.UnixMicro(), *rows)
		if onBatch != nil {
			onBatch(batch, *rows)
		}
		p.waiting.Store(due.UnixNano())
		select {
		case queues[conn] <- job{batch: batch, intended: due, rows: rows}:
			p.waiting.Store(0)
			st.Batches++
		case <-ctx.Done():
			break loop
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	st.Frauds = gen.Frauds()
	st.MaxLag = time.Duration(maxLag.Load())
	st.Reconnects = reconnects.Load()
	st.Rows = committed.Load()
	if st.Batches > 0 {
		st.FirstSend = time.Unix(0, p.log.Send(0))
		st.LastCommit = time.Unix(0, p.log.LastCommit(st.Batches))
	}
	if err := context.Cause(ctx); err != nil {
		st.Interrupted = true
		return st, err
	}
	return st, nil
}

// Go's timers ride on epoll_wait, whose timeout has millisecond
// granularity, so a plain sleep wakes up to a millisecond late: that would be
// the harness's own schedule lag, counted against the pipeline. So the
// scheduler sleeps on a timer until timerSlack before a batch is due, then
// in nanosleep (precise, but it holds an OS thread) until spinWindow before,
// and spins only that last stretch: spinning for the whole millisecond cost
// a tenth of a core at 200 batches/s.
const (
	timerSlack = 2 * time.Millisecond
	spinWindow = 100 * time.Microsecond
)

// sleepUntil waits for due and reports false if ctx ended first.
func sleepUntil(ctx context.Context, timer *time.Timer, due time.Time) bool {
	if d := time.Until(due) - timerSlack; d > 0 {
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			return false
		}
	}
	if d := time.Until(due) - spinWindow; d > 0 {
		ts := syscall.NsecToTimespec(int64(d))
		_ = syscall.Nanosleep(&ts, nil) // EINTR only shortens the sleep; the spin covers it
	}
	for time.Now().Before(due) {
		if ctx.Err() != nil {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// raiseMax makes m the larger of m and v. Every connection's writer reports
// its lags at once, and with a read-then-store a writer that read before
// another stored a larger lag would overwrite it with its smaller one; the
// maximum decides whether a run is valid, so it must never go down.
func raiseMax(m *atomic.Int64, v int64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}

// writeRetrying writes a batch and, when the server dropped the connection
// (a restart, pg_terminate_backend), reconnects and writes it again, as a
// production writer would, under pgretry's policy. A retry that fails on
// the primary key means the batch may have committed before the drop, or
// that another writer holds its ids: only rows that are this batch's, id
// for id and value for value, count as written (see verifyLanded).
func (p *Producer) writeRetrying(ctx context.Context, w *writer, rows []txn.Row, reconnects *atomic.Int64) error {
	err := w.write(ctx, rows)
	if err == nil || !pgretry.Lost(err) || ctx.Err() != nil {
		return err
	}
	_, err = pgretry.Default.Do(ctx, func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, p.cfg.DSN)
		if err != nil {
			return fmt.Errorf("reconnect: %w", err)
		}
		_ = w.conn.Close(context.WithoutCancel(ctx))
		w.conn = c
		reconnects.Add(1)
		return w.write(ctx, rows)
	})
	if isUniqueViolation(err) {
		return verifyLanded(ctx, w.conn, rows, err)
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// ConflictError says that a batch retried after a reconnect could not be
// written because rows with its ids, which are not its rows, are in the
// table: another writer committed them. The batch is not in the table, and
// counting it as produced would blame the pipeline for losing it.
type ConflictError struct {
	// Differ are the ids whose row in the table is not the batch's, with
	// both versions, in id order.
	Differ []RowConflict
	// Missing are ids of the batch not in the table at all.
	Missing []int64
	// Err is the retry's unique violation.
	Err error
}

// RowConflict is one id with the batch's row and the table's.
type RowConflict struct{ Want, Got txn.Row }

// conflictsShown bounds how many rows ConflictError.Error spells out.
const conflictsShown = 3

func (e *ConflictError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "another writer holds this batch's ids: after a reconnect its retry failed (%v), and ", e.Err)
	if len(e.Differ) > 0 {
		fmt.Fprintf(&sb, "ids %s hold other rows (", idRanges(conflictIDs(e.Differ)))
		for i, c := range e.Differ[:min(len(e.Differ), conflictsShown)] {
			if i > 0 {
				sb.WriteString("; ")
			}
			fmt.Fprintf(&sb, "id %d: the table has %s, the batch %s", c.Want.ID, rowString(c.Got), rowString(c.Want))
		}
		if len(e.Differ) > conflictsShown {
			fmt.Fprintf(&sb, "; %d more", len(e.Differ)-conflictsShown)
		}
		sb.WriteString(")")
	}
	if len(e.Missing) > 0 {
		if len(e.Differ) > 0 {
			sb.WriteString(" and ")
		}
		fmt.Fprintf(&sb, "ids %s are not in the table", idRanges(e.Missing))
	}
	sb.WriteString(": the batch was not written; stopping rather than counting it as produced")
	return sb.String()
}

func (e *ConflictError) Unwrap() error { return e.Err }

func conflictIDs(cs []RowConflict) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.Want.ID
	}
	return ids
}

// idRanges writes sorted ids as "15000-15049, 15060".
func idRanges(ids []int64) string {
	var sb strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.FormatInt(ids[i], 10))
		if j > i {
			sb.WriteByte('-')
			sb.WriteString(strconv.FormatInt(ids[j], 10))
		}
		i = j + 1
	}
	return sb.String()
}

func rowString(r txn.Row) string {
	return fmt.Sprintf("(user_id %d, amount %s, %s, merchant_id %d, created_at %s)",
		r.UserID, txn.AppendAmount(nil, r.AmountCents), r.Card, r.MerchantID, txn.AppendTimestamp(nil, r.CreatedAt))
}

// verifyLanded decides what a retried batch's unique violation (dup) means
// by reading the rows with the batch's ids: if every one is there with the
// batch's values, the batch committed before the connection was dropped
// (its commit ack was what got lost) and it counts as written; otherwise
// the ids belong to another writer and verifyLanded returns a
// *ConflictError naming them.
func verifyLanded(ctx context.Context, conn *pgx.Conn, rows []txn.Row, dup error) error {
	ids := make([]int64, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	res, err := conn.Query(ctx, "SELECT id, user_id, amount::text, card_type, merchant_id, created_at FROM transactions WHERE id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("%w; reading the batch's ids back to see whether it landed: %w", dup, err)
	}
	got := make(map[int64]txn.Row, len(rows))
	for res.Next() {
		var r txn.Row
		var amount, card string
		var created time.Time
		if err := res.Scan(&r.ID, &r.UserID, &amount, &card, &r.MerchantID, &created); err != nil {
			res.Close()
			return fmt.Errorf("%w; reading the batch's ids back: %w", dup, err)
		}
		if r.AmountCents, err = txn.ParseAmount([]byte(amount)); err != nil {
			res.Close()
			return fmt.Errorf("%w; reading the batch's ids back: id %d: %w", dup, r.ID, err)
		}
		r.Card, r.CreatedAt = txn.ParseCard([]byte(card)), created.UnixMicro()
		got[r.ID] = r
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("%w; reading the batch's ids back: %w", dup, err)
	}
	ce := &ConflictError{Err: dup}
	for _, want := range rows {
		switch g, ok := got[want.ID]; {
		case !ok:
			ce.Missing = append(ce.Missing, want.ID)
		case g != want:
			ce.Differ = append(ce.Differ, RowConflict{Want: want, Got: g})
		}
	}
	if len(ce.Differ) == 0 && len(ce.Missing) == 0 {
		return nil
	}
	return ce
}

// writer writes batches on one connection.
type writer struct {
	conn   *pgx.Conn
	insert string
	buf    *bytes.Buffer
	args   []any
	sql    string
}

func (w *writer) write(ctx context.Context, rows []txn.Row) error {
	if w.insert == InsertValues {
		return w.values(ctx, rows)
	}
	return w.copy(ctx, rows)
}

// copy sends the batch as one COPY in text format, in its own implicit
// transaction: the commit ack is COPY's completion.
func (w *writer) copy(ctx context.Context, rows []txn.Row) error {
	if w.buf == nil {
		w.buf = new(bytes.Buffer)
	}
	w.buf.Reset()
	w.buf.Write(AppendCopyRows(w.buf.AvailableBuffer(), rows))
	_, err := w.conn.PgConn().CopyFrom(ctx, w.buf, "COPY transactions ("+strings.Join(table.Columns, ", ")+") FROM STDIN")
	if err != nil {
		// A failed CopyFrom may leave its reader goroutine still holding
		// the buffer: the next batch gets a new one.
		w.buf = nil
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// values sends the batch as one prepared multi-row INSERT.
func (w *writer) values(ctx context.Context, rows []txn.Row) error {
	if w.sql == "" || cap(w.args) != len(rows)*len(table.Columns) {
		w.sql = ValuesSQL(len(rows))
		w.args = make([]any, 0, len(rows)*len(table.Columns))
	}
	w.args = w.args[:0]
	for i := range rows {
		r := &rows[i]
		w.args = append(w.args, r.ID, r.UserID, string(txn.AppendAmount(nil, r.AmountCents)), r.Card.String(), r.MerchantID, r.Created())
	}
	if _, err := w.conn.Exec(ctx, w.sql, w.args...); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// ValuesSQL returns the multi-row INSERT for n rows.
func ValuesSQL(n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO transactions (" + strings.Join(table.Columns, ", ") + ") VALUES ")
	p := 1
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for j := range table.Columns {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(p))
			p++
		}
		sb.WriteString(")")
	}
	return sb.String()
}

// AppendCopyRows appends rows as lines of COPY text format. The rows of a
// batch share created_at (the batch's intended send time), so a timestamp
// is formatted once and copied while it repeats: formatting is part of the
// producer's CPU per row, which perf holds against psql's.
func AppendCopyRows(b []byte, rows []txn.Row) []byte {
	var tsBuf [32]byte
	var ts []byte
	for i := range rows {
		tx := &rows[i]
		if i == 0 || tx.CreatedAt != rows[i-1].CreatedAt {
			ts = txn.AppendTimestamp(tsBuf[:0], tx.CreatedAt)
		}
		b = strconv.AppendInt(b, tx.ID, 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(tx.UserID), 10)
		b = append(b, '\t')
		b = txn.AppendAmount(b, tx.AmountCents)
		b = append(b, '\t')
		b = append(b, tx.Card.String()...)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(tx.MerchantID), 10)
		b = append(b, '\t')
		b = append(b, ts...)
		b = append(b, '\n')
	}
	return b
}
