package driver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/stack"
)

// slotWatchEvery is how often slotWatch samples the slot: often enough
// that a start is seen ready within a fraction of a second and a
// checkpoint's step in the retained WAL is caught.
const slotWatchEvery = 250 * time.Millisecond

// slotWatch samples a replication slot for a capture that holds it in a
// process of its own: which WAL sender streams it (a start is ready when
// a new one does) and how much WAL it retains, for captures that confirm
// their position only now and then (Flink CDC, on checkpoints).
type slotWatch struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	pid  uint32 // the WAL sender streaming the slot, 0 for none
	last slotStats
}

// slotStats are a slotWatch's figures: the largest distance, in bytes,
// from the server's current WAL position to the slot's restart_lsn (the
// WAL it keeps from being removed) and to its confirmed_flush_lsn (what
// the capture has not confirmed), over samples.
type slotStats struct {
	retainedMax, unconfirmedMax int64
	samples                     int
}

// watchSlot connects to dsn and samples slot until close.
func watchSlot(ctx context.Context, dsn, slot string) (*slotWatch, error) {
	conn, err := stack.ConnectHarness(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("watch slot %s: %w", slot, err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &slotWatch{cancel: cancel, done: make(chan struct{})}
	go w.run(wctx, conn, slot)
	return w, nil
}

func (w *slotWatch) run(ctx context.Context, conn *pgx.Conn, slot string) {
	defer close(w.done)
	defer conn.Close(context.WithoutCancel(ctx))
	t := time.NewTicker(slotWatchEvery)
	defer t.Stop()
	for {
		var pid *int32
		var retained, unconfirmed *int64
		err := conn.QueryRow(ctx, `SELECT active_pid,
			pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
			pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
			FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&pid, &retained, &unconfirmed)
		if err == nil {
			w.mu.Lock()
			w.pid = 0
			if pid != nil {
				w.pid = uint32(*pid)
			}
			if retained != nil {
				w.last.retainedMax = max(w.last.retainedMax, *retained)
			}
			if unconfirmed != nil {
				w.last.unconfirmedMax = max(w.last.unconfirmedMax, *unconfirmed)
			}
			w.last.samples++
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// holder is the pid of the WAL sender streaming the slot at the last
// sample, 0 for none.
func (w *slotWatch) holder() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pid
}

// stats returns the figures so far.
func (w *slotWatch) stats() slotStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// close stops sampling and closes the connection.
func (w *slotWatch) close() {
	w.cancel()
	<-w.done
}
