package driver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// kindDebezium is Debezium's PostgreSQL connector in Kafka Connect beside
// the cdc path, so that one run compares the relay with the real thing:
// "debezium", or "debezium-<label>" for another with settings of its own.
const kindDebezium = "debezium"

// label is what may follow "debezium-": a name for a second Debezium path
// with settings of its own, short enough for slot and connector names.
var label = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

// labelParam checks a label, for the kinds whose tuned variants are named
// by one ("debezium-tuned", "debezium-server-tuned", "flink-cdc-tuned").
func labelParam(l string) (string, error) {
	if !label.MatchString(l) {
		return "", errors.New("a label is 1-20 of [a-z0-9]")
	}
	return l, nil
}

func init() {
	Register(Kind{
		Name: kindDebezium, Bare: true, Param: labelParam,
		Syntax: `"debezium", "debezium-<label>" such as "debezium-tuned"`,
		New: func(_ Path, cfg Config) (Driver, error) {
			return newDebezium(cfg.CDC, cfg.Settings)
		},
		Traits:         func(string) Traits { return debeziumTraits },
		CheckSetting:   checkDebeziumSetting,
		SettingsSyntax: "Debezium paths (debezium, debezium-<label>)",
	})
}

// debeziumTraits are a Debezium path's, also the cdc path's with --cdc
// debezium.
var debeziumTraits = Traits{
	Publishes: true, NeedsConnect: true,
	Processes: []Process{{Name: "kafka broker", Role: result.RoleBroker}, {Name: "kafka connect", Role: result.RoleConnect}},
	Harness:   "harness only: producer and agents (Debezium runs in Kafka Connect)",
	// The connector's registration, its snapshot and first event.
	Setup: 15 * time.Second,
}

// checkDebeziumSetting takes only settings a Debezium PostgreSQL
// connector or its producer knows, none that cdcbench sets itself, each
// with a value. Whether Connect accepts the values is Connect's to say;
// Validate asks it before anything is produced.
func checkDebeziumSetting(key, value string) error {
	if err := connectorkeys.Check(key); err != nil {
		return err
	}
	if strings.TrimSpace(value) == "" {
		return errors.New("has no value (leave the key out for Debezium's default)")
	}
	return nil
}

// WithDebezium adds a debezium path right after the cdc path, where paths
// have a cdc path and no Debezium one (debezium-tuned counts): what a stack
// that runs Kafka Connect itself measures unless told otherwise.
func WithDebezium(paths []string) []string {
	if slices.ContainsFunc(paths, func(name string) bool {
		p, err := ParsePath(name)
		return err == nil && p.Kind == kindDebezium
	}) {
		return paths
	}
	i := slices.Index(paths, kindCDC)
	if i < 0 {
		return paths
	}
	return slices.Insert(slices.Clone(paths), i+1, kindDebezium)
}

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
	// unwatch ends the watch on the connector's status (Start) and waits
	// for it; nil until then.
	unwatch func()
}

// watchEvery is how often a running connector's status is asked for: a
// task that failed is then reported within a second or two, at one cheap
// REST call a second to the worker.
const watchEvery = time.Second

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
	if err == nil {
		d.watch(ctx)
	}
	return err
}

// watch reports a connector or task that FAILED under the run to the
// path (Env.Fail) until Stop: Connect leaves a failed task failed, so the
// path would otherwise receive nothing more and end only at its timeout.
func (d *debeziumDriver) watch(ctx context.Context) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	d.unwatch = func() { cancel(); <-done }
	go func() {
		defer close(done)
		err := d.cfg.Connect.WatchFailed(wctx, d.ConnectorName(), watchEvery)
		if err != nil && d.env.Fail != nil {
			d.env.Fail(fmt.Errorf("driver: debezium: %w", err))
		}
	}()
}

// ConnectorName is the connector's: the path's group prefix without its dash.
func (d *debeziumDriver) ConnectorName() string { return strings.TrimSuffix(d.env.Groups, "-") }

// Report names Debezium's and Connect's versions and the connector's
// configuration as Connect ran it, passwords redacted (connector_config). Connect counts no events per connector and restarts its
// tasks out of sight, so there is nothing to count here.
func (d *debeziumDriver) Report(p *result.Path) {
	p.Capture = d.describe
	if d.used != nil {
		p.Driver = map[string]any{"connector_config": d.used}
	}
	p.Settings = d.settings
}

// Stop deletes the connector, then drops the slot Debezium created (it
// never drops it itself) once its task let go, then the publication and
// the path's consumer groups.
func (d *debeziumDriver) Stop(ctx context.Context) error {
	if d.unwatch != nil {
		d.unwatch()
	}
	var errs []error
	if err := d.cfg.Connect.Delete(ctx, d.ConnectorName()); err != nil {
		errs = append(errs, err)
	}
	if err := d.dropCapture(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
