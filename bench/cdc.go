package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// cdcPath is the built-in CDC path on a stack: a publication for the table,
// a logical slot and the relay streaming it to the change topic.
type cdcPath struct {
	st        stack.Stack
	admin     *pgx.Conn
	pub       string
	slot      string
	keyByUser bool
	onFail    func(error)

	mu       sync.Mutex
	relay    *relay.Relay
	cancel   context.CancelFunc
	exited   chan struct{}
	events   int64 // acknowledged by relays that were replaced
	restarts int64 // relays started again after a lost connection
	stopped  bool
}

// startCDC creates the publication and slot and starts the relay; onFail
// hears of a relay that stops on its own. Whatever startCDC created is
// removed again if it fails; otherwise stop removes it.
func startCDC(ctx context.Context, st stack.Stack, admin *pgx.Conn, pub, slot string, keyByUser bool, onFail func(error)) (_ *cdcPath, err error) {
	c := &cdcPath{st: st, admin: admin, pub: pub, slot: slot, keyByUser: keyByUser, onFail: onFail}
	// Set up the cleanup before creating anything: a statement cancelled by
	// Ctrl-C may still have committed, and dropping what does not exist is
	// harmless.
	slotTried := false
	defer func() {
		if err != nil {
			err = errors.Join(err, c.drop(context.WithoutCancel(ctx), slotTried))
		}
	}()
	if _, err := admin.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE transactions"); err != nil {
		return nil, fmt.Errorf("create publication: %w", err)
	}
	slotTried = true
	if err := relay.CreateSlot(ctx, st.ReplicationDSN(), slot); err != nil {
		return nil, err
	}
	if err := c.startRelay(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// startRelay starts a relay on the slot; it resumes from the slot's
// confirmed position.
func (c *cdcPath) startRelay(ctx context.Context) error {
	// Held across the start so that stop cannot slip between the check
	// and the new relay becoming the one it stops.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errStopped
	}
	r, err := relay.New(ctx, relay.Config{
		ReplicationDSN: c.st.ReplicationDSN(), Slot: c.slot, Publication: c.pub, Brokers: c.st.Brokers(),
		Topic: stack.ChangeTopic, Name: "dbserver1", Database: c.admin.Config().Database, Schema: "public", Table: "transactions",
		KeyByUser: c.keyByUser,
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	exited := make(chan struct{})
	c.relay, c.cancel, c.exited = r, cancel, exited
	go func() {
		defer close(exited)
		err := r.Run(rctx)
		if err == nil || rctx.Err() != nil {
			return
		}
		// A WAL sender the server dropped (a restart, pg_terminate_backend)
		// is resumed from the slot, as Kafka Connect restarts a task.
		if lostConnection(err) && c.resume(ctx, r) == nil {
			return
		}
		if c.onFail != nil {
			c.onFail(err)
		}
	}()
	return nil
}

var errStopped = errors.New("the CDC path is stopping")

// resume replaces relay r, whose connection was lost, with a new one,
// retrying for up to 30 s.
func (c *cdcPath) resume(ctx context.Context, r *relay.Relay) error {
	c.mu.Lock()
	if c.relay == r {
		c.relay = nil
		c.events += r.Stats().Events
	}
	c.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		err := c.startRelay(ctx)
		if err == nil {
			c.mu.Lock()
			c.restarts++
			c.mu.Unlock()
			return nil
		}
		if errors.Is(err, errStopped) || time.Now().After(deadline) {
			return err
		}
	}
}

// lostConnection reports an error after which a new connection may work.
func lostConnection(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 55006: the slot is still held by the WAL sender that was just
		// terminated and has not exited yet.
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code == "55006"
	}
	var netErr net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &netErr) || strings.Contains(err.Error(), "conn closed")
}

// stopRelay ends the running relay, abruptly when crash is set.
func (c *cdcPath) stopRelay(crash bool) {
	c.mu.Lock()
	r, cancel, exited := c.relay, c.cancel, c.exited
	c.relay = nil
	c.mu.Unlock()
	if r == nil {
		return
	}
	if crash {
		r.Abort()
	}
	cancel()
	<-exited
	c.mu.Lock()
	c.events += r.Stats().Events
	c.mu.Unlock()
}

// pause stalls the relay for d.
func (c *cdcPath) pause(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.relay != nil {
		c.relay.Pause(d)
	}
	return nil
}

// kill crashes the relay and starts a new one after down.
func (c *cdcPath) kill(ctx context.Context, down time.Duration) error {
	c.stopRelay(true)
	select {
	case <-time.After(down):
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		return nil
	}
	return c.startRelay(ctx)
}

// relayEvents counts the events every relay of the path had acknowledged.
func (c *cdcPath) relayEvents() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.events
	if c.relay != nil {
		n += c.relay.Stats().Events
	}
	return n
}

// relayRestarts counts relays resumed after a lost connection.
func (c *cdcPath) relayRestarts() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts
}

// stop ends the relay and drops the slot and the publication: a leaked slot
// retains WAL until the disk fills, so this runs on every exit path.
func (c *cdcPath) stop(ctx context.Context) error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.stopRelay(false)
	return c.drop(ctx, true)
}

func (c *cdcPath) drop(ctx context.Context, slot bool) error {
	var errs []error
	if slot {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		if err := relay.DropSlot(dctx, c.st.ReplicationDSN(), c.slot); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := dropPublication(pctx, c.st, c.pub); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dropPublication drops pub on a connection of its own: the run's admin
// connection is closed by pgx when a query on it is cancelled, which is
// exactly when cleanup matters most.
func dropPublication(ctx context.Context, st stack.Stack, pub string) error {
	conn, err := connectHarness(ctx, st.DSN())
	if err != nil {
		return fmt.Errorf("drop publication %s: %w", pub, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub); err != nil {
		return fmt.Errorf("drop publication %s: %w", pub, err)
	}
	return nil
}

// ServeCDC gives st a fresh transactions table and runs the built-in CDC
// path on it until ctx ends, then removes the slot and publication. ready is
// called once rows inserted into the table flow to the change topic. It is
// what `cdcbench stack up` runs.
func ServeCDC(ctx context.Context, st stack.Stack, dropExisting bool, ready func()) error {
	admin, err := connectHarness(ctx, st.DSN())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	id := "stack_" + runID()
	pub := "cdcbench_" + id
	if err := resetTable(ctx, admin, pub, dropExisting); err != nil {
		return err
	}
	failed := make(chan error, 1)
	c, err := startCDC(ctx, st, admin, pub, "cdcbench_"+id, false, func(err error) { failed <- err })
	if err != nil {
		return err
	}
	ready()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
	}
	return errors.Join(runErr, c.stop(context.WithoutCancel(ctx)))
}
