// Package pgretry is cdcbench's one policy for a PostgreSQL connection the
// server dropped: what counts as "the server dropped us" (Lost) and how long
// and how often a component tries to get a connection back (Policy.Do).
//
// The producer, the pollers, the relay and the database-cost sampler all
// use it, so a server restart or a pg_terminate_backend costs every
// component the same bounded wait, and a component that cannot recover
// fails with the same kind of error, naming how long it tried.
package pgretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcbench/cdcbench/internal/wait"
)

// SQLSTATEs after which a new connection may succeed.
const (
	codeAdminShutdown    = "57P01" // admin_shutdown: pg_terminate_backend, a fast or smart shutdown
	codeCrashShutdown    = "57P02" // crash_shutdown: another backend crashed, the server resets
	codeCannotConnectNow = "57P03" // cannot_connect_now: the server is starting up or shutting down
	// codeObjectInUse (object_in_use) is what START_REPLICATION says while
	// the WAL sender of a terminated replication connection still holds
	// the slot: it exits moments later and the slot is free again. Of the
	// statements that retry through this package only START_REPLICATION
	// and slot creation can raise it.
	codeObjectInUse = "55006"
)

// Lost reports whether err says the server dropped the connection, or is
// restarting, so that the same work may succeed on a new connection: SQLSTATE
// 57P01–57P03, 55006 (a slot still held by the dropped connection's WAL
// sender), an EOF or network error, or an operation on a connection pgconn
// had already closed. Anything else (a constraint violation, bad SQL, a
// wrong password, a cancelled context) is not lost: retrying would fail the
// same way or hide the error.
func Lost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow, codeObjectInUse:
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.As(err, &netErr)
}

// Policy says how to retry after a lost connection: pauses start at First
// and double up to Max, and no attempt starts once For has passed since Do
// was called. The zero Policy retries with the Default's values.
type Policy struct {
	First time.Duration
	Max   time.Duration
	For   time.Duration

	// clock is replaced by tests; nil is the real one.
	clock clock
}

// Default is the policy every component uses. 30 s covers a restart of a
// busy server (a fast shutdown, crash recovery, the start-up checkpoint) and
// the seconds a terminated WAL sender needs to release its slot; a server
// down for longer is an outage the run should report, not wait out.
var Default = Policy{First: 100 * time.Millisecond, Max: 2 * time.Second, For: 30 * time.Second}

// ErrGaveUp marks the error Do returns when the policy's time ran out while
// the server was still dropping or refusing connections.
var ErrGaveUp = errors.New("the server did not take the connection back")

// Do calls op until it returns nil, returns an error that is not Lost, the
// policy's time runs out, or ctx ends, and returns how many times it called
// op with the last error. op is called at once, then after each pause; it
// should do everything a new connection needs (connect, then redo the
// work), because the connection of a failed attempt is gone too.
//
// The error is op's own when it is not Lost; wraps ErrGaveUp and op's last
// error when time ran out; and wraps ctx's error and op's last error when
// ctx ended first.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) (attempts int, err error) {
	p = p.withDefaults()
	start := p.clock.now()
	pause := p.First
	for {
		attempts++
		err = op(ctx)
		if err == nil || !Lost(err) {
			return attempts, err
		}
		if ctx.Err() != nil {
			return attempts, fmt.Errorf("%w (after %d attempts to reconnect: %w)", context.Cause(ctx), attempts, err)
		}
		if p.clock.now().Add(pause).Sub(start) > p.For {
			return attempts, fmt.Errorf("%w within %v (%d attempts): %w", ErrGaveUp, p.For, attempts, err)
		}
		if serr := p.clock.sleep(ctx, pause); serr != nil {
			return attempts, fmt.Errorf("%w (after %d attempts to reconnect: %w)", serr, attempts, err)
		}
		pause = min(2*pause, p.Max)
	}
}

func (p Policy) withDefaults() Policy {
	if p.First <= 0 {
		p.First = Default.First
	}
	if p.Max < p.First {
		p.Max = max(Default.Max, p.First)
	}
	if p.For <= 0 {
		p.For = Default.For
	}
	if p.clock == nil {
		p.clock = realClock{}
	}
	return p
}

// clock is time as Do sees it.
type clock interface {
	now() time.Time
	// sleep waits d, or returns ctx's cause when ctx ends first.
	sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) now() time.Time { return time.Now() }

func (realClock) sleep(ctx context.Context, d time.Duration) error {
	if wait.Sleep(ctx, d) != nil {
		return context.Cause(ctx)
	}
	return nil
}
