package driver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// CDC configures the CDC path of a run.
type CDC struct {
	Kind string // stack.CDCRelay (default) or stack.CDCDebezium
	// Connect is the Kafka Connect worker running Debezium.
	Connect *connect.Client
	// DBHost and DBPort are the database as the Connect worker reaches it,
	// which is not always how cdcbench reaches it (compose: postgres:5432
	// inside, localhost:5433 outside). Empty takes the stack DSN's.
	DBHost string
	DBPort int
}

// NewCDC configures the CDC paths a stack choice names on st: the kind of
// the "cdc" path and, where there is a Kafka Connect worker (the choice's
// URL, or the one the stack runs itself), a client for it, not called yet.
func NewCDC(ch stack.Choice, st stack.Stack) (CDC, error) {
	c := CDC{Kind: ch.CDC, DBHost: ch.DBHost, DBPort: ch.DBPort}
	url := ch.ConnectURL
	if w, ok := st.(stack.ConnectWorker); ok {
		url = w.ConnectURL()
	}
	if url == "" {
		return c, nil
	}
	var err error
	c.Connect, err = connect.New(url)
	return c, err
}

// Check makes sure, before anything runs, that a Debezium path's Connect
// URL is Kafka Connect with the Debezium plugin.
func (c CDC) Check(ctx context.Context) error {
	if c.Connect == nil {
		return nil
	}
	if _, err := c.Connect.Check(ctx); err != nil {
		return err
	}
	_, err := c.Connect.DebeziumVersion(ctx)
	return err
}

// Describe returns the CDC label for results, asking Connect for versions.
func (c CDC) Describe(ctx context.Context) (string, error) {
	if c.Kind != stack.CDCDebezium {
		return "relay " + relay.Version, nil
	}
	return describeDebezium(ctx, c.Connect)
}

// describeDebezium names the Debezium and Connect versions of a worker.
func describeDebezium(ctx context.Context, cl *connect.Client) (string, error) {
	dv, err := cl.DebeziumVersion(ctx)
	if err != nil {
		return "", err
	}
	kv, err := cl.Version(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("debezium %s on Kafka Connect %s", dv, kv), nil
}

// debeziumDriver is Debezium's PostgreSQL connector in Kafka Connect,
// registered for one path.
type debeziumDriver struct {
	kafkaDelivery
	cfg CDC
	// settings are the scenario's for this path, applied over cdcbench's
	// own configuration (connectorkeys keeps them off the ones it needs).
	settings map[string]string
	describe string
	used     connect.Config // as Connect reported it back, redacted
}

// ErrNoConnect reports a Debezium path on a stack without Kafka Connect.
var ErrNoConnect = errors.New("a debezium path needs Kafka Connect: use --stack local (which runs one) or compose, or give --connect-url")

// ErrSettings reports connector settings Kafka Connect refused.
var ErrSettings = errors.New("connector configuration refused by Kafka Connect")

func newDebezium(cfg CDC, settings map[string]string) (*debeziumDriver, error) {
	if cfg.Connect == nil {
		return nil, ErrNoConnect
	}
	return &debeziumDriver{cfg: cfg, settings: settings}, nil
}

// config is the connector configuration for a database as pc reaches it:
// cdcbench's settings, then the path's.
func (d *debeziumDriver) config(pc *pgx.ConnConfig, slot, publication string, keyByUser bool) (connect.Config, error) {
	host, port := d.cfg.DBHost, d.cfg.DBPort
	if host == "" {
		host, port = pc.Host, int(pc.Port)
	}
	conf, err := connect.DebeziumConfig{
		Host: host, Port: port, User: pc.User, Password: pc.Password, DBName: pc.Database,
		Slot: slot, Publication: publication,
	}.Config()
	if err != nil {
		return nil, err
	}
	if keyByUser {
		conf["message.key.columns"] = "public.transactions:user_id"
	}
	maps.Copy(conf, d.settings)
	return conf, nil
}

// Validate asks Connect whether it takes the path's configuration, before
// the run produces anything: a refused setting then stops the run with
// Connect's own message and nothing registered.
func (d *debeziumDriver) Validate(ctx context.Context, st stack.Stack, name string) error {
	pc, err := pgx.ParseConfig(st.DSN())
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	conf, err := d.config(pc, "cdcbench_validate", "cdcbench_validate", false)
	if err != nil {
		return err
	}
	if err := d.cfg.Connect.Validate(ctx, name, conf); err != nil {
		return fmt.Errorf("%w (the scenario's settings: %v): %w", ErrSettings, connect.Config(d.settings), err)
	}
	return nil
}

// Start creates the publication (explicitly: autocreation is off),
// registers the connector, named after the path's groups, and waits until
// it and its task run. On failure the connector, slot and publication are
// removed again.
func (d *debeziumDriver) Start(ctx context.Context, env Env) (err error) {
	d.env = env
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Stop(context.WithoutCancel(ctx)))
		}
	}()
	if err := createPublication(ctx, env); err != nil {
		return err
	}
	conf, err := d.config(env.Admin.Config(), env.Slot, env.Publication, env.KeyByUser)
	if err != nil {
		return err
	}
	cl := d.cfg.Connect
	if err := cl.Apply(ctx, d.ConnectorName(), conf); err != nil {
		return err
	}
	if _, err = cl.WaitRunning(ctx, d.ConnectorName()); err != nil {
		return err
	}
	if d.describe, err = describeDebezium(ctx, cl); err != nil {
		return err
	}
	used, err := cl.ConnectorConfig(ctx, d.ConnectorName())
	d.used = used.Redacted()
	return err
}

// ConnectorName is the connector's: the path's group prefix without its dash.
func (d *debeziumDriver) ConnectorName() string { return strings.TrimSuffix(d.env.Groups, "-") }

// Report names Debezium's and Connect's versions and the connector's
// configuration. Connect counts no events per connector and restarts its
// tasks out of sight, so there is nothing to count here.
func (d *debeziumDriver) Report(p *result.Path) {
	p.Capture = d.describe
	p.Connector = d.used
	p.Settings = d.settings
}

// Stop deletes the connector, then drops the slot Debezium created (it
// never drops it itself) once its task let go, then the publication and
// the path's consumer groups.
func (d *debeziumDriver) Stop(ctx context.Context) error {
	var errs []error
	if err := d.cfg.Connect.Delete(ctx, d.ConnectorName()); err != nil {
		errs = append(errs, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Debezium created the slot; it may not exist if the connector never ran.
	if err := relay.DropSlot(dctx, d.env.Stack.ReplicationDSN(), d.env.Slot); err != nil {
		errs = append(errs, err)
	}
	if err := dropPublication(dctx, d.env.Stack, d.env.Publication); err != nil {
		errs = append(errs, err)
	}
	if err := d.deleteGroups(dctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
