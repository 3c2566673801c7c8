package driver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/pgretry"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// kindCDC is logical replication → Kafka → agents through the stack's CDC
// implementation (--cdc): the built-in relay unless told otherwise.
const kindCDC = "cdc"

func init() {
	Register(Kind{
		Name: kindCDC, Bare: true, Syntax: `"cdc"`, Default: kindCDC,
		New: func(_ Path, cfg Config) (Driver, error) {
			if cfg.CDC.Kind == stack.CDCDebezium {
				return newDebezium(cfg.CDC, cfg.Settings)
			}
			return &relayDriver{}, nil
		},
		Traits: func(cdc string) Traits {
			if cdc == stack.CDCDebezium {
				return debeziumTraits
			}
			return Traits{Publishes: true, Processes: []Process{{Name: "kafka broker", Role: result.RoleBroker}},
				Harness: "producer, agents and the relay", Setup: 2 * time.Second}
		},
	})
}

// CDCPath is the path that runs the stack's CDC implementation, as
// `cdcbench stack up` serves it.
var CDCPath = Path{Kind: kindCDC}

// relayDriver is the built-in CDC path: a publication for the table, a
// logical slot and cdcbench's relay streaming it to the change topic as
// Debezium-shaped events.
type relayDriver struct {
	kafkaDelivery

	mu       sync.Mutex
	relay    *relay.Relay
	cancel   context.CancelFunc
	exited   chan struct{}
	events   int64 // acknowledged by relays that were replaced
	restarts int64 // relays started again after a lost connection
	stopped  bool
}

// Start creates the publication and slot and starts the relay. Whatever
// Start created is removed again if it fails.
func (c *relayDriver) Start(ctx context.Context, env Env) (err error) {
	c.env = env
	// Set up the cleanup before creating anything: a statement cancelled by
	// Ctrl-C may still have committed, and dropping what does not exist is
	// harmless.
	slotTried := false
	defer func() {
		if err != nil {
			err = errors.Join(err, c.drop(context.WithoutCancel(ctx), slotTried))
		}
	}()
	if err := createPublication(ctx, env); err != nil {
		return err
	}
	slotTried = true
	if err := relay.CreateSlot(ctx, env.Stack.ReplicationDSN(), env.Slot); err != nil {
		return err
	}
	return c.startRelay(ctx)
}

// startRelay starts a relay on the slot; it resumes from the slot's
// confirmed position.
func (c *relayDriver) startRelay(ctx context.Context) error {
	// Held across the start so that stop cannot slip between the check
	// and the new relay becoming the one it stops.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errStopped
	}
	r, err := relay.New(ctx, relay.Config{
		ReplicationDSN: c.env.Stack.ReplicationDSN(), Slot: c.env.Slot, Publication: c.env.Publication, Brokers: c.env.Stack.Brokers(),
		Topic: stack.ChangeTopic, Name: "dbserver1", Database: c.env.Admin.Config().Database, Schema: "public", Table: "transactions",
		KeyByUser: c.env.KeyByUser,
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
		if pgretry.Lost(err) && c.resume(ctx, r) == nil {
			return
		}
		if c.env.Fail != nil {
			c.env.Fail(err)
		}
	}()
	return nil
}

var errStopped = errors.New("the CDC path is stopping")

// resume replaces relay r, whose connection was lost, with a new one, under
// pgretry's policy: 55006, a slot still held by the dropped WAL sender, is
// retried like the server's refusals while it restarts.
func (c *relayDriver) resume(ctx context.Context, r *relay.Relay) error {
	c.mu.Lock()
	if c.relay == r {
		c.relay = nil
		c.events += r.Stats().Events
	}
	c.mu.Unlock()
	if _, err := pgretry.Default.Do(ctx, c.startRelay); err != nil {
		return err
	}
	c.mu.Lock()
	c.restarts++
	c.mu.Unlock()
	return nil
}

// stopRelay ends the running relay, abruptly when crash is set.
func (c *relayDriver) stopRelay(crash bool) {
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

// Pause stalls the relay for d.
func (c *relayDriver) Pause(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.relay != nil {
		c.relay.Pause(d)
	}
	return nil
}

// Crash crashes the relay and starts a new one after down.
func (c *relayDriver) Crash(ctx context.Context, down time.Duration) error {
	c.stopRelay(true)
	if err := wait.Sleep(ctx, down); err != nil {
		return err
	}
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		return nil
	}
	return c.startRelay(ctx)
}

// Report counts the events every relay of the path had acknowledged
// (relay_events) and the relays resumed after a lost connection
// (relay_restarts, when there were any).
func (c *relayDriver) Report(p *result.Path) {
	c.mu.Lock()
	defer c.mu.Unlock()
	events := c.events
	if c.relay != nil {
		events += c.relay.Stats().Events
	}
	p.Driver = map[string]any{"relay_events": events}
	if c.restarts > 0 {
		p.Driver["relay_restarts"] = c.restarts
	}
	p.Capture = "relay " + relay.Version
}

// Stop ends the relay and drops the slot, the publication and the path's
// consumer groups.
func (c *relayDriver) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.stopRelay(false)
	return errors.Join(c.drop(ctx, true), c.deleteGroups(ctx))
}

func (c *relayDriver) drop(ctx context.Context, slot bool) error {
	var errs []error
	if slot {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		if err := relay.DropSlot(dctx, c.env.Stack.ReplicationDSN(), c.env.Slot); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := dropPublication(pctx, c.env.Stack, c.env.Publication); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
