package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// CDC kinds: which change-data-capture path a run measures.
const (
	CDCRelay    = "relay"    // the built-in relay
	CDCDebezium = "debezium" // Debezium's PostgreSQL connector in Kafka Connect
)

// CDC configures the CDC path of a run.
type CDC struct {
	Kind string // CDCRelay (default) or CDCDebezium
	// Connect is the Kafka Connect worker running Debezium.
	Connect *connect.Client
	// DBHost and DBPort are the database as the Connect worker reaches it,
	// which is not always how cdcbench reaches it (compose: postgres:5432
	// inside, localhost:5433 outside). Empty takes the stack DSN's.
	DBHost string
	DBPort int
}

// Describe returns the CDC label for results, asking Connect for versions.
func (c CDC) Describe(ctx context.Context) (string, error) {
	if c.Kind != CDCDebezium {
		return "relay " + relay.Version, nil
	}
	dv, err := c.Connect.DebeziumVersion(ctx)
	if err != nil {
		return "", err
	}
	kv, err := c.Connect.Version(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("debezium %s on Kafka Connect %s", dv, kv), nil
}

// capture is a running CDC path: the relay or a Debezium connector.
type capture interface {
	// pause and kill inject faults; a path that cannot take them says so.
	pause(d time.Duration) error
	kill(ctx context.Context, down time.Duration) error
	relayEvents() int64
	relayRestarts() int64
	stop(ctx context.Context) error
}

var _ capture = (*cdcPath)(nil)

// debeziumPath is a Debezium connector registered for one path.
type debeziumPath struct {
	client *connect.Client
	name   string
	st     stack.Stack
	pub    string
	slot   string
}

var _ capture = (*debeziumPath)(nil)

// errNoFault reports a fault the path cannot take.
var errNoFault = errors.New("only the built-in relay takes relay faults")

// startDebezium creates the publication (explicitly: autocreation is off),
// registers the connector and waits until it and its task run. On failure
// the connector, slot and publication are removed again.
func startDebezium(ctx context.Context, st stack.Stack, admin *pgx.Conn, cfg CDC, name, pub, slot string, keyByUser bool) (_ *debeziumPath, err error) {
	d := &debeziumPath{client: cfg.Connect, name: name, st: st, pub: pub, slot: slot}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.stop(context.WithoutCancel(ctx)))
		}
	}()
	if _, err := admin.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE public.transactions"); err != nil {
		return d, fmt.Errorf("create publication: %w", err)
	}
	pc := admin.Config()
	host, port := cfg.DBHost, cfg.DBPort
	if host == "" {
		host, port = pc.Host, int(pc.Port)
	}
	conf, err := connect.DebeziumConfig{
		Host: host, Port: port, User: pc.User, Password: pc.Password, DBName: pc.Database,
		Slot: slot, Publication: pub,
	}.Config()
	if err != nil {
		return d, err
	}
	if keyByUser {
		conf["message.key.columns"] = "public.transactions:user_id"
	}
	if err := cfg.Connect.Apply(ctx, name, conf); err != nil {
		return d, err
	}
	if _, err := cfg.Connect.WaitRunning(ctx, name); err != nil {
		return d, err
	}
	return d, nil
}

func (d *debeziumPath) pause(time.Duration) error                 { return errNoFault }
func (d *debeziumPath) kill(context.Context, time.Duration) error { return errNoFault }

// relayEvents is unknown for Debezium: Connect does not count per run.
func (d *debeziumPath) relayEvents() int64 { return 0 }

// relayRestarts: Connect restarts its own tasks, out of sight.
func (d *debeziumPath) relayRestarts() int64 { return 0 }

// stop deletes the connector, then drops the slot Debezium created (it
// never drops it itself) once its task let go, then the publication.
func (d *debeziumPath) stop(ctx context.Context) error {
	var errs []error
	if err := d.client.Delete(ctx, d.name); err != nil {
		errs = append(errs, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Debezium created the slot; it may not exist if the connector never ran.
	if err := relay.DropSlot(dctx, d.st.ReplicationDSN(), d.slot); err != nil {
		errs = append(errs, err)
	}
	if err := dropPublication(dctx, d.st, d.pub); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
