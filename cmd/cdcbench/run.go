package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// Stack kinds for --stack.
const (
	stackEmbedded = "embedded" // private PostgreSQL, in-process Kafka, the relay
	stackCompose  = "compose"  // the endpoints of compose/docker-compose.yml
	stackExternal = "external" // whatever --pg-dsn, --brokers and --connect-url say
)

// The compose stack's endpoints as seen from the host, and the database as
// the Connect container sees it.
const (
	composeDSN        = "postgres://cdcbench:cdcbench@localhost:5433/cdcbench?sslmode=disable"
	composeBrokers    = "localhost:9094"
	composeConnectURL = "http://localhost:8083"
	composeDBHost     = "postgres"
	composeDBPort     = 5432
)

// stackFlags select the stack; shared by run and stack up.
func stackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "stack", Value: stackEmbedded, Usage: "embedded (private PostgreSQL + in-process Kafka), compose (make compose-up's endpoints) or external (--pg-dsn, --brokers)"},
		&cli.StringFlag{Name: "cdc", Usage: "relay (built-in, the default off compose) or debezium (Kafka Connect at --connect-url; the default on compose)"},
		&cli.StringFlag{Name: "pg-dsn", Usage: "PostgreSQL to use (needs wal_level=logical and a role that may replicate); with --stack external, PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE work too", EnvVars: []string{"CDCBENCH_PG_DSN"}},
		&cli.StringSliceFlag{Name: "brokers", Usage: "Kafka to use (host:port, repeatable or comma-separated)", EnvVars: []string{"KAFKA_BOOTSTRAP_SERVERS"}},
		&cli.StringFlag{Name: "connect-url", Usage: "Kafka Connect REST URL for --cdc debezium", EnvVars: []string{"CONNECT_URL"}},
		&cli.StringFlag{Name: "connect-db-host", Usage: "host:port of PostgreSQL as the Connect worker reaches it, when that differs from --pg-dsn"},
		&cli.IntFlag{Name: "kafka-port", Usage: "port for the in-process Kafka (0 = any free port)"},
		&cli.IntFlag{Name: "pg-port", Usage: "port for the private PostgreSQL cluster (0 = any free port)"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the private cluster's directory after the run, for debugging"},
		&cli.BoolFlag{Name: "reset-table", Usage: "allow dropping an existing public.transactions on a database cdcbench did not start (each path starts from a new table)"},
	}
}

// stackChoice resolves --stack, --cdc and the endpoint flags.
type stackChoice struct {
	opts stack.Options
	cdc  driver.CDC
	// dropExisting: the database is cdcbench's own (private cluster, the
	// compose stack) or the user said --reset-table.
	dropExisting bool
}

func chooseStack(c *cli.Context, partitions int) (stackChoice, error) {
	ch := stackChoice{opts: stack.Options{
		PostgresDSN: c.String("pg-dsn"),
		Brokers:     splitBrokers(c.StringSlice("brokers")),
		Postgres:    pgcluster.Options{Port: c.Int("pg-port"), Keep: c.Bool("keep")},
		KafkaPort:   c.Int("kafka-port"),
		Partitions:  partitions,
	}}
	connectURL := c.String("connect-url")
	ch.cdc.Kind = c.String("cdc")
	ch.dropExisting = c.Bool("reset-table")
	switch c.String("stack") {
	case stackEmbedded:
		ch.dropExisting = ch.dropExisting || ch.opts.PostgresDSN == ""
	case stackCompose:
		ch.dropExisting = true // the compose database is the benchmark's own
		if ch.opts.PostgresDSN == "" {
			ch.opts.PostgresDSN = composeDSN
		}
		if len(ch.opts.Brokers) == 0 {
			ch.opts.Brokers = []string{composeBrokers}
		}
		if connectURL == "" {
			connectURL = composeConnectURL
		}
		if ch.cdc.Kind == "" {
			ch.cdc.Kind = driver.CDCDebezium
		}
		if ch.cdc.Kind == driver.CDCDebezium && !c.IsSet("connect-db-host") {
			ch.cdc.DBHost, ch.cdc.DBPort = composeDBHost, composeDBPort
		}
	case stackExternal:
		if ch.opts.PostgresDSN == "" {
			if os.Getenv("PGHOST") == "" {
				return ch, errors.New("--stack external needs --pg-dsn (or CDCBENCH_PG_DSN, or PGHOST and friends)")
			}
			// pgx fills every unset field from PGHOST, PGPORT, PGUSER,
			// PGPASSWORD and PGDATABASE, as libpq does.
			ch.opts.PostgresDSN = "application_name=cdcbench"
		}
		if len(ch.opts.Brokers) == 0 {
			return ch, errors.New("--stack external needs --brokers (or KAFKA_BOOTSTRAP_SERVERS)")
		}
	default:
		return ch, fmt.Errorf("--stack must be %s, %s or %s, got %q", stackEmbedded, stackCompose, stackExternal, c.String("stack"))
	}
	if ch.cdc.Kind == "" {
		ch.cdc.Kind = driver.CDCRelay
	}
	switch ch.cdc.Kind {
	case driver.CDCRelay:
	case driver.CDCDebezium:
		if connectURL == "" {
			return ch, errors.New("--cdc debezium needs --connect-url (Kafka Connect's REST URL)")
		}
		if len(ch.opts.Brokers) == 0 {
			return ch, errors.New("--cdc debezium needs the Kafka that Connect writes to: --brokers")
		}
		cl, err := connect.New(connectURL)
		if err != nil {
			return ch, err
		}
		ch.cdc.Connect = cl
		if hp := c.String("connect-db-host"); hp != "" {
			host, port, err := net.SplitHostPort(hp)
			if err != nil {
				return ch, fmt.Errorf("--connect-db-host: %w", err)
			}
			ch.cdc.DBHost = host
			if ch.cdc.DBPort, err = strconv.Atoi(port); err != nil {
				return ch, fmt.Errorf("--connect-db-host: port: %w", err)
			}
		}
	default:
		return ch, fmt.Errorf("--cdc must be %s or %s, got %q", driver.CDCRelay, driver.CDCDebezium, ch.cdc.Kind)
	}
	return ch, nil
}

// startStack brings up the chosen stack and, for Debezium, checks that the
// Connect URL is Kafka Connect with the Debezium plugin before anything runs.
func startStack(c *cli.Context, ch stackChoice) (stack.Stack, error) {
	if ch.cdc.Connect != nil {
		if _, err := ch.cdc.Connect.Check(c.Context); err != nil {
			return nil, err
		}
		if _, err := ch.cdc.Connect.DebeziumVersion(c.Context); err != nil {
			return nil, err
		}
	}
	return stack.Start(c.Context, ch.opts)
}

// splitBrokers accepts repeated flags and comma lists alike, as
// KAFKA_BOOTSTRAP_SERVERS is usually written.
func splitBrokers(in []string) []string {
	var out []string
	for _, s := range in {
		for _, b := range strings.Split(s, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

func runCommand() *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "scenario", Aliases: []string{"s"}, Value: "smoke", Usage: "built-in scenario name or path to a scenario file"},
		&cli.StringFlag{Name: "results", Value: "results", Usage: "parent directory of the run's result directory"},
		&cli.IntFlag{Name: "repeat", Value: 1, Usage: "run the scenario this many times on the same stack (one result directory each), for gate and compare statistics"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines on stderr"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the whole run to this file (go tool pprof)"},
		&cli.StringFlag{Name: "memprofile", Usage: "write an allocation profile at the end of the run to this file"},
		// Overrides: each replaces one scenario field.
		&cli.DurationFlag{Name: "duration", Usage: "override: measured window"},
		&cli.DurationFlag{Name: "warmup", Usage: "override: warm-up before the measured window"},
		&cli.DurationFlag{Name: "drain-timeout", Usage: "override: how long to wait for missing events"},
		&cli.Float64Flag{Name: "rate", Usage: "override: replace the rate shape with a constant rate in rows/s"},
		&cli.IntFlag{Name: "batch-size", Usage: "override: rows per batch"},
		&cli.IntFlag{Name: "connections", Usage: "override: producer connections"},
		&cli.StringFlag{Name: "insert", Usage: "override: copy or values"},
		&cli.IntFlag{Name: "users", Usage: "override: distinct user ids"},
		&cli.Float64Flag{Name: "fraud-rate", Usage: "override: fraction of rows that start an injected fraud"},
		&cli.Uint64Flag{Name: "seed", Usage: "override: workload seed"},
		&cli.StringFlag{Name: "paths", Usage: "override: comma list of paths, e.g. cdc,poll-100ms,poll-1s"},
		&cli.StringFlag{Name: "poll-mode", Usage: "override: safe or naive polling cursor"},
		&cli.DurationFlag{Name: "agent-delay", Usage: "calibration: add this delay to every agent verdict; e2e must grow by it"},
		&cli.StringFlag{Name: "outlier-rule", Usage: "override: mean3x (the seed's rule) or sigma3"},
		&cli.IntFlag{Name: "partitions", Usage: "override: partitions of the change topic"},
		&cli.IntFlag{Name: "agent-instances", Usage: "override: consumers per agent in its group"},
		&cli.StringFlag{Name: "key", Usage: "override: Kafka key of change events, id or user_id"},
		&cli.StringFlag{Name: "external-agents", Usage: "comma list of agents running as their own processes (cdcbench agent) whose alerts the cdc path collects from fraud.alerts and times on this host's clock"},
	}, stackFlags()...)
	return &cli.Command{
		Name:  "run",
		Usage: "run a scenario on every path and write results/<scenario>-<time>/",
		Description: `Runs the scenario's paths one after another on the same seeded workload, each on a
fresh table: "cdc" (WAL → relay → Kafka → agents) and "poll-<interval>" (agents query
the table). Every row's latency is measured from its intended send time, so a stall
anywhere shows up (coordinated omission corrected). Writes result.json and one .hgrm
per histogram, prints a summary, and exits 1 if the run is invalid.`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			spec, err := scenarios.Resolve(c.String("scenario"))
			if err != nil {
				return usageError{err}
			}
			if err := applyOverrides(c, &spec); err != nil {
				return usageError{err}
			}
			plan, err := bench.PlanFrom(spec)
			if err != nil {
				return usageError{err}
			}
			if ext := c.String("external-agents"); ext != "" {
				plan.ExternalAgents = strings.Split(ext, ",")
				if err := plan.Validate(); err != nil {
					return usageError{err}
				}
			}
			if c.Int("repeat") < 1 {
				return usageError{fmt.Errorf("--repeat must be at least 1, got %d", c.Int("repeat"))}
			}
			var log io.Writer
			if !c.Bool("quiet") {
				log = c.App.ErrWriter
			}
			if log != nil {
				fmt.Fprintf(log, "cdcbench %s: starting the stack\n", spec.Name)
			}
			choice, err := chooseStack(c, spec.Partitions)
			if err != nil {
				return usageError{err}
			}
			choice.opts.PersistKafka = spec.HasFault(scenarios.FaultRestartKafka)
			stopProfiles, err := startProfiles(c.String("cpuprofile"), c.String("memprofile"))
			if err != nil {
				return usageError{err}
			}
			defer stopProfiles()
			t0 := time.Now()
			st, err := startStack(c, choice)
			if err != nil {
				return err
			}
			// Cleanup runs after Ctrl-C too: it must not inherit the cancellation.
			defer st.Close(context.WithoutCancel(c.Context))
			if log != nil {
				fmt.Fprintf(log, "stack up in %v: PostgreSQL %s, Kafka %s\n", time.Since(t0).Round(time.Millisecond), stack.Redact(st.DSN()), strings.Join(st.Brokers(), ","))
			}
			cfg := bench.Config{Plan: plan, Stack: st, CDC: choice.cdc, DropExisting: choice.dropExisting, ResultsDir: c.String("results"), Version: version}
			if log != nil {
				cfg.Log = log
				if f, ok := log.(*os.File); ok {
					if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
						cfg.Terminal = true
					}
				}
			}
			var dirs, invalid []string
			for i := 1; i <= c.Int("repeat"); i++ {
				if c.Int("repeat") > 1 && log != nil {
					fmt.Fprintf(log, "run %d of %d\n", i, c.Int("repeat"))
				}
				res, dir, runErr := bench.Run(c.Context, cfg)
				if res != nil {
					if err := reports.WriteSummary(c.App.Writer, res); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "\nresults: %s\n", dir)
					dirs = append(dirs, dir)
				}
				if runErr != nil {
					return runErr
				}
				if !res.Valid {
					invalid = append(invalid, fmt.Sprintf("%s: %s", dir, strings.Join(res.InvalidReasons, "; ")))
				}
			}
			if len(dirs) > 1 {
				fmt.Fprintf(c.App.Writer, "\n%d runs: cdcbench gate %s\n", len(dirs), strings.Join(dirs, " "))
			}
			if len(invalid) > 0 {
				return fmt.Errorf("invalid: %s", strings.Join(invalid, "; "))
			}
			return nil
		},
	}
}

// applyOverrides writes the flags the user set into spec.
func applyOverrides(c *cli.Context, s *scenarios.Spec) error {
	dur := func(name string) scenarios.Duration { return scenarios.Duration(c.Duration(name)) }
	override(c, "duration", dur, &s.Duration)
	override(c, "warmup", dur, &s.Warmup)
	override(c, "drain-timeout", dur, &s.DrainTimeout)
	override(c, "agent-delay", dur, &s.AgentDelay)
	if c.IsSet("rate") {
		s.Rate = scenarios.RateSpec{Shape: scenarios.ShapeConstant, Unit: scenarios.UnitRows, Arrivals: s.Rate.Arrivals, Rate: c.Float64("rate")}
	}
	override(c, "batch-size", c.Int, &s.BatchSize)
	override(c, "connections", c.Int, &s.Connections)
	override(c, "insert", c.String, &s.Insert)
	override(c, "users", c.Int, &s.Users)
	override(c, "fraud-rate", c.Float64, &s.FraudRate)
	override(c, "seed", c.Uint64, &s.Seed)
	override(c, "paths", func(n string) []string { return strings.Split(c.String(n), ",") }, &s.Paths)
	override(c, "poll-mode", c.String, &s.Poll.Mode)
	override(c, "outlier-rule", c.String, &s.Outlier.Rule)
	override(c, "partitions", c.Int, &s.Partitions)
	override(c, "agent-instances", c.Int, &s.AgentInstances)
	override(c, "key", c.String, &s.Key)
	if errs := s.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("scenario %s after flags:\n  %s", s.Name, strings.Join(msgs, "\n  "))
	}
	return nil
}

// startProfiles starts a CPU profile and arranges an allocation profile;
// the returned function finishes both.
func startProfiles(cpu, mem string) (func(), error) {
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		cpuFile = f
	}
	return func() {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			cpuFile.Close()
		}
		if mem != "" {
			if f, err := os.Create(mem); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
	}, nil
}

// override sets *dst from flag name when the user gave it.
func override[T any](c *cli.Context, name string, get func(string) T, dst *T) {
	if c.IsSet(name) {
		*dst = get(name)
	}
}
