package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/relay"
	"github.com/cdcbench/cdcbench/stack"
)

// cdcPath is the built-in CDC path on a stack: a publication for the table,
// a logical slot and the relay streaming it to the change topic.
type cdcPath struct {
	relay  *relay.Relay
	cancel context.CancelFunc
	exited chan struct{} // closed when the relay stopped; err says why
	err    error
	st     stack.Stack
	admin  *pgx.Conn
	pub    string
	slot   string
}

// startCDC creates the publication and slot and starts the relay. Whatever
// it created is removed again if it fails; otherwise stop removes it.
func startCDC(ctx context.Context, st stack.Stack, admin *pgx.Conn, pub, slot string) (_ *cdcPath, err error) {
	c := &cdcPath{st: st, admin: admin, pub: pub, slot: slot, exited: make(chan struct{})}
	if _, err := admin.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE transactions"); err != nil {
		return nil, fmt.Errorf("create publication: %w", err)
	}
	defer func() {
		if err != nil {
			_ = c.stop(context.WithoutCancel(ctx))
		}
	}()
	if err := relay.CreateSlot(ctx, st.ReplicationDSN(), slot); err != nil {
		return c, err
	}
	dbName := admin.Config().Database
	c.relay, err = relay.New(ctx, relay.Config{
		ReplicationDSN: st.ReplicationDSN(), Slot: slot, Publication: pub, Brokers: st.Brokers(),
		Topic: stack.ChangeTopic, Name: "dbserver1", Database: dbName, Schema: "public", Table: "transactions",
	})
	if err != nil {
		return c, err
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go func() {
		c.err = c.relay.Run(rctx)
		close(c.exited)
	}()
	return c, nil
}

// stopped is closed when the relay stops; before stop is called, that
// means it failed, and Err says why.
func (c *cdcPath) stopped() <-chan struct{} { return c.exited }

// stop ends the relay and drops the slot and the publication: a leaked slot
// retains WAL until the disk fills, so this runs on every exit path.
func (c *cdcPath) stop(ctx context.Context) error {
	var errs []error
	if c.cancel != nil {
		c.cancel()
		<-c.exited
		if c.err != nil {
			errs = append(errs, c.err)
		}
		c.cancel = nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c.relay != nil || c.slot != "" {
		if err := relay.DropSlot(dctx, c.st.ReplicationDSN(), c.slot); err != nil && c.relay != nil {
			errs = append(errs, err)
		}
	}
	if _, err := c.admin.Exec(dctx, "DROP PUBLICATION IF EXISTS "+c.pub); err != nil {
		errs = append(errs, fmt.Errorf("drop publication: %w", err))
	}
	return errors.Join(errs...)
}

// ServeCDC gives st a fresh transactions table and runs the built-in CDC
// path on it until ctx ends, then removes the slot and publication. ready is
// called once rows inserted into the table flow to the change topic. It is
// what `cdcbench stack up` runs.
func ServeCDC(ctx context.Context, st stack.Stack, ready func()) error {
	admin, err := pgx.Connect(ctx, st.DSN())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	id := "stack_" + runID()
	pub := "cdcbench_" + id
	if err := resetTable(ctx, admin, pub); err != nil {
		return err
	}
	c, err := startCDC(ctx, st, admin, pub, "cdcbench_"+id)
	if err != nil {
		return err
	}
	ready()
	select {
	case <-ctx.Done():
	case <-c.stopped():
	}
	return c.stop(context.WithoutCancel(ctx))
}
