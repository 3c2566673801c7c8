package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// stackFlags select the stack; shared by run and stack up.
func stackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "stack", Value: stack.KindEmbedded, Usage: "embedded (private PostgreSQL + in-process Kafka), local (private PostgreSQL + Apache Kafka, Kafka Connect and Debezium as child JVMs), compose (make compose-up's endpoints) or external (--pg-dsn, --brokers)"},
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

// chooseStack resolves --stack, --cdc and the endpoint flags.
func chooseStack(c *cli.Context, partitions int) (stack.Choice, error) {
	return stack.Choose(stack.Request{
		Kind: c.String("stack"), CDC: c.String("cdc"), ConnectURL: c.String("connect-url"),
		ConnectDBHost: c.String("connect-db-host"), ResetTable: c.Bool("reset-table"),
		Options: stack.Options{
			PostgresDSN: c.String("pg-dsn"),
			Brokers:     splitBrokers(c.StringSlice("brokers")),
			Postgres:    pgcluster.Options{Port: c.Int("pg-port"), Keep: c.Bool("keep")},
			KafkaPort:   c.Int("kafka-port"),
			Partitions:  partitions,
			JVMOptions:  jvmstack.Options{Keep: c.Bool("keep"), Progress: c.App.ErrWriter},
		},
	})
}

// startStack brings up the chosen stack and checks, before anything runs,
// that a Kafka Connect worker it names is Connect with the Debezium plugin.
func startStack(c *cli.Context, ch stack.Choice) (stack.Stack, driver.CDC, error) {
	st, err := stack.Start(c.Context, ch.Options)
	if err != nil {
		return nil, driver.CDC{}, err
	}
	cdc, err := driver.NewCDC(ch, st)
	if err == nil {
		err = cdc.Check(c.Context)
	}
	if err != nil {
		return nil, cdc, errors.Join(err, stack.Stop(c.Context, st))
	}
	return st, cdc, nil
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
		&cli.BoolFlag{Name: "plan", Usage: "print the resolved scenario, the runs it makes (a sweep's cells) and the time they are estimated to take, and exit without starting anything"},
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: fmt.Sprintf("run a sweep of more than %d cells or estimated at more than %v, which is refused otherwise", maxCellsUnasked, scenarios.Duration(maxSweepUnasked))},
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
		&cli.BoolFlag{Name: "no-limits", Usage: "allow a peak above 2,000,000 rows/s or a run longer than 24 h (refused as typos otherwise)"},
		&cli.StringFlag{Name: "agent-commands", Usage: "YAML file of your own agents to start as commands and benchmark beside the built-in ones (agent_commands: [{name, rule, command, ...}]; agents/python/agents.yaml has the reference Python agents)"},
		&cli.StringFlag{Name: "external-agents", Usage: "comma list of agents running as their own processes (cdcbench agent) whose alerts the cdc path collects from fraud.alerts and times on this host's clock"},
	}, stackFlags()...)
	// What Before resolved, for Action: the scenario and plans are
	// validated once.
	var rs runSetup
	return &cli.Command{
		Name:  "run",
		Usage: "run a scenario on every path and write results/<scenario>-<time>/ (a sweep: results/<scenario>-sweep-<time>/)",
		Description: `Runs the scenario's paths one after another on the same seeded workload, each on a
fresh table: "cdc" (WAL → relay → Kafka → agents) and "poll-<interval>" (agents query
the table). Every row's latency is measured from its intended send time, so a stall
anywhere shows up (coordinated omission corrected). Writes result.json and one .hgrm
per histogram, prints a summary, and exits 1 if the run is invalid (cdcbench --help
lists the exit codes).

A scenario with a sweep (scenarios/README.md) runs once per cell on the same stack,
each cell's result directory under results/<scenario>-sweep-<time>/ beside the
index sweep.json, which cdcbench report renders. Before it starts it prints how
long the sweep is estimated to take, and refuses more than ` + fmt.Sprint(maxCellsUnasked) + ` cells or
` + scenarios.Duration(maxSweepUnasked).String() + ` without --yes; --plan lists the cells and stops there.`,
		Flags: flags,
		// Before checks the whole command line, so that a mistake is
		// reported before anything starts (and a parse-only check of a
		// documented command line sees it).
		Before: func(c *cli.Context) error {
			var err error
			rs, err = prepareRun(c)
			return err
		},
		Action: func(c *cli.Context) error {
			if c.Bool("plan") {
				return printPlan(c.App.Writer, rs)
			}
			var log io.Writer
			if !c.Bool("quiet") {
				log = c.App.ErrWriter
			}
			stopProfiles, err := startProfiles(c.String("cpuprofile"), c.String("memprofile"))
			if err != nil {
				return usageError{err}
			}
			defer stopProfiles()
			if rs.cells != nil {
				return runSweep(c, rs, log)
			}
			st, cdc, err := openStack(c, rs.spec.Name, rs.choice, log)
			if err != nil {
				return err
			}
			// Cleanup runs after Ctrl-C too, within seconds.
			defer stack.Stop(c.Context, st)
			cfg := benchConfig(c, log, rs.plan, st, cdc, rs.choice)
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
				return invalidRun{invalid}
			}
			return nil
		},
	}
}

// runSetup is what run's Before resolved for its Action: the scenario, its
// plan (or its sweep's cells, each with its own) and the stack.
type runSetup struct {
	spec   scenarios.Spec
	plan   bench.Plan // the scenario's; a sweep runs its cells' plans instead
	choice stack.Choice
	cells  []sweepCell // nil when the scenario does not sweep
}

// openStack starts the chosen stack, saying so on log (nil is quiet), and
// warns of slots earlier runs left on a server cdcbench did not start.
// The caller closes the stack.
func openStack(c *cli.Context, scenario string, ch stack.Choice, log io.Writer) (stack.Stack, driver.CDC, error) {
	if log != nil {
		fmt.Fprintf(log, "cdcbench %s: starting the stack\n", scenario)
	}
	t0 := time.Now()
	st, cdc, err := startStack(c, ch)
	if err != nil {
		return nil, cdc, err
	}
	if log != nil {
		fmt.Fprintf(log, "stack up in %v: PostgreSQL %s, Kafka %s\n", time.Since(t0).Round(time.Millisecond), stack.Redact(st.DSN()), strings.Join(st.Brokers(), ","))
	}
	if ch.Options.PostgresDSN != "" { // a private cluster has no leftovers
		warnInactiveSlots(c.Context, c.App.ErrWriter, st.DSN())
	}
	return st, cdc, nil
}

// benchConfig is one run of plan on st, writing under --results and
// logging progress to log (nil is quiet): one line updated in place when
// log is a terminal.
func benchConfig(c *cli.Context, log io.Writer, plan bench.Plan, st stack.Stack, cdc driver.CDC, ch stack.Choice) bench.Config {
	cfg := bench.Config{Plan: plan, Stack: st, CDC: cdc, DropExisting: ch.DropExisting, ResultsDir: c.String("results"), Version: version}
	if log != nil {
		cfg.Log = log
		if f, ok := log.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				cfg.Terminal = true
			}
		}
	}
	return cfg
}

// checkResultsDir fails when dir, or the nearest of its parents that
// exists, is not a directory: the run would create its result directory
// there only after measuring. Nothing is created here.
func checkResultsDir(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir():
			return nil
		case err == nil:
			return fmt.Errorf("--results %s: %s is not a directory; --results names the directory that holds the runs' result directories (created if missing)", dir, p)
		case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR): // ENOTDIR: a parent is a file, found next
			return fmt.Errorf("--results %s: %w", dir, err)
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}

// withDebezium adds a debezium path right after the cdc path, where a
// scenario has a cdc path and no Debezium one (debezium-tuned counts): the
// local stack exists to measure the seed's pipeline, beside the relay and
// the pollers, on the same seeded workload. --paths says otherwise.
func withDebezium(paths []string) []string {
	if hasDebeziumPath(paths) {
		return paths
	}
	i := slices.Index(paths, scenarios.PathCDC)
	if i < 0 {
		return paths
	}
	return slices.Insert(slices.Clone(paths), i+1, scenarios.PathDebezium)
}

// hasDebeziumPath reports whether paths name a Debezium path (debezium,
// debezium-tuned).
func hasDebeziumPath(paths []string) bool {
	return slices.ContainsFunc(paths, func(name string) bool {
		p, err := scenarios.ParsePath(name)
		return err == nil && p.Kind == scenarios.PathDebezium
	})
}

// prepareRun resolves run's scenario, flags and stack, and a sweep's
// cells; every error is a usageError.
func prepareRun(c *cli.Context) (runSetup, error) {
	fail := func(err error) (runSetup, error) { return runSetup{}, usageError{err} }
	spec, err := scenarios.Resolve(c.String("scenario"))
	if err != nil {
		return fail(err)
	}
	if err := sweepFlagConflicts(c, spec); err != nil {
		return fail(err)
	}
	applyOverrides(c, &spec)
	if f := c.String("agent-commands"); f != "" {
		cmds, err := scenarios.LoadAgentCommands(f)
		if err != nil {
			return fail(err)
		}
		spec.AgentCommands = append(spec.AgentCommands, cmds...)
	}
	choice, err := chooseStack(c, spec.Partitions)
	if err != nil {
		return fail(err)
	}
	if choice.Kind == stack.KindLocal && !c.IsSet("paths") {
		spec.Paths = withDebezium(spec.Paths)
	}
	if hasDebeziumPath(spec.Paths) && !choice.HasConnect() {
		// Found before a stack starts or a sweep directory is made.
		return fail(fmt.Errorf("scenario %s: %w", spec.Name, driver.ErrNoConnect))
	}
	var opts []bench.PlanOption
	if ext := c.String("external-agents"); ext != "" {
		opts = append(opts, bench.WithExternalAgents(strings.Split(ext, ",")...))
	}
	plan, err := bench.PlanFrom(spec, opts...)
	if err != nil {
		return fail(err)
	}
	if c.Int("repeat") < 1 {
		return fail(fmt.Errorf("--repeat must be at least 1, got %d", c.Int("repeat")))
	}
	cells, err := planCells(spec, opts)
	if err != nil {
		return fail(err)
	}
	choice.Options.PersistKafka = spec.HasFault(scenarios.FaultRestartKafka)
	if choice.Options.PersistKafka && !choice.KafkaRestartable() {
		return fail(fmt.Errorf("scenario %s injects restart-kafka, which only the in-process Kafka can do: cdcbench cannot stop and start a broker it did not start (%s); run it without --brokers, or remove the fault",
			spec.Name, strings.Join(choice.Options.Brokers, ",")))
	}
	if spec.HasFault(scenarios.FaultKillConnect) {
		// Otherwise skipped at run time, after the stack started.
		switch {
		case !hasDebeziumPath(spec.Paths):
			return fail(fmt.Errorf("scenario %s injects kill-connect, but none of its paths (%s) runs through Kafka Connect: add a debezium path, or remove the fault",
				spec.Name, strings.Join(spec.Paths, ", ")))
		case choice.Kind != stack.KindLocal:
			return fail(fmt.Errorf("scenario %s injects kill-connect, which only the local stack's own Kafka Connect worker can suffer: run it with --stack local, or remove the fault", spec.Name))
		}
	}
	// A results path that cannot hold a run's directory is found now, not
	// after the stack started and the run measured.
	if err := checkResultsDir(c.String("results")); err != nil {
		return fail(err)
	}
	rs := runSetup{spec: spec, plan: plan, choice: choice, cells: cells}
	if err := checkSweepSize(c, rs); err != nil {
		return fail(err)
	}
	return rs, nil
}

// applyOverrides writes the flags the user set into spec; PlanFrom
// validates the result.
func applyOverrides(c *cli.Context, s *scenarios.Spec) {
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
	override(c, "no-limits", c.Bool, &s.NoLimits)
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
