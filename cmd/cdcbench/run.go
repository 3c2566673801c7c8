package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/live"
	"github.com/cdcbench/cdcbench/internal/metrics"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// stackFlags select the stack; shared by run and stack up.
func stackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "stack", Value: stack.KindEmbedded, Usage: "embedded (private PostgreSQL + in-process Kafka), local (private PostgreSQL + Apache Kafka, Kafka Connect and Debezium as child JVMs), compose (make compose-up's endpoints) or external (--pg-dsn, --brokers)"},
		&cli.StringFlag{Name: "cdc", Usage: "relay (built-in, the default off compose) or debezium (Kafka Connect at --connect-url; the default on compose)"}, // the flag's name, not a path
		&cli.StringFlag{Name: "pg-dsn", Usage: "PostgreSQL to use (needs wal_level=logical and a role that may replicate); with --stack external, PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE work too", EnvVars: []string{"CDCBENCH_PG_DSN"}},
		&cli.StringSliceFlag{Name: "brokers", Usage: "Kafka to use (host:port, repeatable or comma-separated)", EnvVars: []string{"KAFKA_BOOTSTRAP_SERVERS"}},
		&cli.StringFlag{Name: "connect-url", Usage: "Kafka Connect REST URL for --cdc debezium", EnvVars: []string{"CONNECT_URL"}},
		&cli.StringFlag{Name: "connect-db-host", Usage: "host:port of PostgreSQL as the Connect worker reaches it, when that differs from --pg-dsn"},
		&cli.IntFlag{Name: "kafka-port", Usage: "port for the in-process Kafka (0 = any free port)"},
		&cli.IntFlag{Name: "pg-port", Usage: "port for the private PostgreSQL cluster (0 = any free port)"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the private cluster's directory after the run, for debugging"},
		&cli.BoolFlag{Name: "reset-table", Usage: "allow dropping an existing public.transactions on a database cdcbench did not start (each path starts from a new table)"},
		// Not --brokers, which names an external cluster's addresses.
		&cli.IntFlag{Name: "broker-count", Usage: fmt.Sprintf("--stack local: Kafka brokers to run (1 to %d; topics get min(3, N) replicas, min.insync.replicas=2 from 3 on); overrides the scenario's stack.brokers", jvmstack.MaxBrokers)},
		&cli.IntFlag{Name: "connect-workers", Usage: fmt.Sprintf("--stack local: Kafka Connect workers in one group (1 to %d); overrides the scenario's stack.connect_workers", jvmstack.MaxConnectWorkers)},
		&cli.DurationFlag{Name: "rebalance-delay", Usage: "--stack local with several Connect workers: their scheduled.rebalance.max.delay.ms (Connect's default is 5m); overrides the scenario's stack.rebalance_delay"},
	}
}

// stackShape is shape with the stack shape flags the user set over it.
func stackShape(c *cli.Context, shape scenarios.StackSpec) scenarios.StackSpec {
	override(c, "broker-count", c.Int, &shape.Brokers)
	override(c, "connect-workers", c.Int, &shape.ConnectWorkers)
	if c.IsSet("rebalance-delay") {
		d := scenarios.Duration(c.Duration("rebalance-delay"))
		shape.RebalanceDelay = &d
	}
	return shape
}

// jvmOptions are the local stack's options for shape.
func jvmOptions(c *cli.Context, shape scenarios.StackSpec) jvmstack.Options {
	o := jvmstack.Options{Keep: c.Bool("keep"), Progress: c.App.ErrWriter, Brokers: shape.Brokers, ConnectWorkers: shape.ConnectWorkers}
	if d := shape.RebalanceDelay; d != nil {
		o.ConnectConfig = map[string]string{"scheduled.rebalance.max.delay.ms": strconv.FormatInt(time.Duration(*d).Milliseconds(), 10)}
	}
	return o
}

// chooseStack resolves --stack, --cdc and the endpoint flags, for a local
// stack of shape.
func chooseStack(c *cli.Context, partitions int, shape scenarios.StackSpec) (stack.Choice, error) {
	return stack.Choose(stack.Request{
		Kind: c.String("stack"), CDC: c.String("cdc"), ConnectURL: c.String("connect-url"), // --cdc, not a path
		ConnectDBHost: c.String("connect-db-host"), ResetTable: c.Bool("reset-table"),
		Options: stack.Options{
			PostgresDSN: c.String("pg-dsn"),
			Brokers:     splitBrokers(c.StringSlice("brokers")),
			Postgres:    pgcluster.Options{Port: c.Int("pg-port"), Keep: c.Bool("keep")},
			KafkaPort:   c.Int("kafka-port"),
			Partitions:  partitions,
			JVMOptions:  jvmOptions(c, shape),
		},
	})
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
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: fmt.Sprintf("run a sweep of more than %d cells or estimated at more than %v, which is refused otherwise", bench.MaxCellsUnasked, scenarios.Duration(bench.MaxSweepUnasked))},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines on stderr"},
		&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the whole run to this file (go tool pprof)"},
		&cli.StringFlag{Name: "memprofile", Usage: "write an allocation profile at the end of the run to this file"},
		&cli.StringSliceFlag{Name: "metrics-url", Usage: "a Prometheus exporter of your own pipeline (http://host:port/metrics; repeatable), sampled once a second on every path beside the stack's (attach the JMX exporter with internal/jmxexporter/rules.yaml so that its names match)"},
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
	}, append(dashboardFlags(), stackFlags()...)...)
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
long the sweep is estimated to take, and refuses more than ` + fmt.Sprint(bench.MaxCellsUnasked) + ` cells or
` + scenarios.Duration(bench.MaxSweepUnasked).String() + ` without --yes; --plan lists the cells and stops there.`,
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
			urls, err := metricsURLs(c.StringSlice("metrics-url"))
			if err != nil {
				return usageError{err}
			}
			// The page listens before the stack starts: a port already
			// taken is one error, before anything else happened.
			dash, err := startDashboard(c)
			if err != nil {
				return err
			}
			s := bench.Session{
				Choice: rs.choice, ResultsDir: c.String("results"), Version: version, MetricsURLs: urls,
				Log: log, Terminal: isTerminal(log), Warn: c.App.ErrWriter,
				Done: func(res *result.Result, dir string, cell *bench.Cell) error {
					if dash != nil {
						showReport(dash, c.App.ErrWriter, dir)
					}
					return printRun(c.App.Writer, res, dir, cell, rs.sweep, rs.plan.ScheduleTolerance)
				},
			}
			if dash == nil {
				return runAll(c, rs, s)
			}
			s.Live = dash
			s.OnMetrics = metricPoints(dash)
			return closeDashboard(c.Context, dash, c.App.ErrWriter, runAll(c, rs, s))
		},
	}
}

// runAll runs rs's sweep, or its plan as many times as --repeat says.
func runAll(c *cli.Context, rs runSetup, s bench.Session) error {
	if rs.sweep != nil {
		return runSweep(c, rs, s)
	}
	dirs, err := bench.Repeat(c.Context, s, rs.plan, c.Int("repeat"))
	if err == nil || errors.As(err, new(*bench.InvalidError)) {
		writeNextSteps(c.App.Writer, dirs)
	}
	return err
}

// metricPoints shows a path's metric samples on the live page, each
// series its own chart: the page charts whatever series it is given.
func metricPoints(sink live.Sink) func(path string, t time.Time, s []metrics.Sample) {
	return func(path string, t time.Time, samples []metrics.Sample) {
		points := make([]live.Point, len(samples))
		for i, m := range samples {
			points[i] = live.Point{Series: m.Series, Path: path, Unit: metrics.Unit(m.Series), T: t, V: m.Value}
		}
		sink.Add(points...)
	}
}

// metricsURLs checks --metrics-url's values: absolute http(s) URLs.
func metricsURLs(vals []string) ([]string, error) {
	for _, v := range vals {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--metrics-url %q: want an http:// or https:// URL of a Prometheus exporter, such as http://127.0.0.1:9404/metrics", v)
		}
	}
	return vals, nil
}

// printRun prints a finished run's summary and where its results are; in a
// sweep, which cell it was; for a run whose producer fell behind by more
// than tolerance, what to change.
func printRun(w io.Writer, res *result.Result, dir string, cell *bench.Cell, sw *bench.Sweep, tolerance time.Duration) error {
	if err := reports.WriteSummary(w, res); err != nil {
		return err
	}
	where := dir
	if cell != nil {
		where = fmt.Sprintf("%s (cell %d/%d: %s)", dir, cell.Index, len(sw.Cells), cell.Label())
	}
	if _, err := fmt.Fprintf(w, "\nresults: %s\n", where); err != nil {
		return err
	}
	if behind := fellBehind(res, tolerance); !res.Valid && behind != "" {
		_, err := fmt.Fprintf(w, "\n%s\n", behind)
		return err
	}
	return nil
}

// writeNextSteps says what to do with the runs in dirs: the report, the
// gate, a comparison.
func writeNextSteps(w io.Writer, dirs []string) {
	if len(dirs) == 0 {
		return
	}
	all := strings.Join(dirs, " ")
	other := "OTHER_RUN"
	if len(dirs) > 1 {
		all, other = all+" vs", "OTHER_RUNS..."
	}
	fmt.Fprintf(w, "\nnext:\n  cdcbench report %s -o report.md   # markdown report with charts\n  cdcbench gate %s   # pass or fail against gates/ci.yaml (exit 1 on a failed rule)\n  cdcbench compare %s %s   # side by side with another run, with significance\n",
		strings.Join(dirs, " "), strings.Join(dirs, " "), all, other)
}

// fellBehind says what to change when the producer of a path of res fell
// behind its schedule by more than tolerance, the run's invalid reason on
// a busy machine; "" when none did.
func fellBehind(res *result.Result, tolerance time.Duration) string {
	var worst float64
	for _, p := range res.Paths {
		worst = max(worst, p.MaxScheduleLagMs)
	}
	if worst <= float64(tolerance.Milliseconds()) {
		return ""
	}
	return fmt.Sprintf("hint: the producer fell %.0f ms behind its schedule (tolerance %v), with this machine's load average at %s (1, 5, 15 min): "+
		"run when the machine is quieter (other jobs share its cores), raise the scenario's schedule_tolerance, or lower the rate (--rate)",
		worst, tolerance, bench.LoadAverage())
}

// runSetup is what run's Before resolved for its Action: the scenario, its
// plan (or its sweep's cells, each with its own) and the stack.
type runSetup struct {
	spec   scenarios.Spec
	plan   bench.Plan // the scenario's; a sweep runs its cells' plans instead
	choice stack.Choice
	sweep  *bench.Sweep // nil when the scenario does not sweep
}

// isTerminal reports whether log is a terminal, where progress is one
// line updated in place.
func isTerminal(log io.Writer) bool {
	f, ok := log.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
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

// needsConnect reports whether a path of paths runs in Kafka Connect on a
// run whose cdc path runs cdc.
func needsConnect(paths []string, cdc string) bool {
	return slices.ContainsFunc(paths, func(name string) bool {
		p, err := driver.ParsePath(name)
		return err == nil && driver.TraitsOf(p, cdc).NeedsConnect
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
	if err := checkDashboardAddr(c); err != nil {
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
	if err := clusterFaultsOn(spec, c.String("stack")); err != nil {
		return fail(err)
	}
	if kind := c.String("stack"); kind != stack.KindLocal && !spec.Stack.IsDefault() {
		// The scenario's shape is the local stack's; the shape flags on
		// another stack are refused by chooseStack.
		fmt.Fprintf(c.App.ErrWriter, "note: scenario %s's stack section shapes --stack local only; --stack %s starts no brokers of its own, and its topics are replicated as they are\n", spec.Name, kind)
		spec.Stack = scenarios.StackSpec{}
	}
	spec.Stack = stackShape(c, spec.Stack) // PlanFrom validates it
	choice, err := chooseStack(c, spec.Partitions, spec.Stack)
	if err != nil {
		return fail(err)
	}
	if choice.Kind == stack.KindLocal && !c.IsSet("paths") {
		// The local stack exists to measure the seed's pipeline, beside the
		// relay and the pollers, on the same seeded workload.
		spec.Paths = driver.WithDebezium(spec.Paths)
	}
	if needsConnect(spec.Paths, choice.CDC) && !choice.HasConnect() {
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
	sweep, err := bench.NewSweep(spec, opts...)
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
		case !needsConnect(spec.Paths, choice.CDC):
			return fail(fmt.Errorf("scenario %s injects kill-connect, but none of its paths (%s) runs through Kafka Connect: add a debezium path, or remove the fault",
				spec.Name, strings.Join(spec.Paths, ", ")))
		case choice.Kind != stack.KindLocal:
			return fail(fmt.Errorf("scenario %s injects kill-connect, which only the local stack's own Kafka Connect worker can suffer: run it with --stack local, or remove the fault", spec.Name))
		}
	}
	if spec.HasFault(scenarios.FaultKillConnectWorker) && !needsConnect(spec.Paths, choice.CDC) {
		return fail(fmt.Errorf("scenario %s injects %s, but none of its paths (%s) runs through Kafka Connect: add a debezium path, or remove the fault",
			spec.Name, scenarios.FaultKillConnectWorker, strings.Join(spec.Paths, ", ")))
	}
	// A results path that cannot hold a run's directory is found now, not
	// after the stack started and the run measured.
	if err := checkResultsDir(c.String("results")); err != nil {
		return fail(err)
	}
	rs := runSetup{spec: spec, plan: plan, choice: choice, sweep: sweep}
	if err := checkSweepSize(c, rs); err != nil {
		return fail(err)
	}
	return rs, nil
}

// clusterFaultsOn refuses, before anything starts, a cluster fault on a
// stack of kind whose processes are not cdcbench's.
func clusterFaultsOn(spec scenarios.Spec, kind string) error {
	for _, f := range scenarios.ClusterFaults {
		if spec.HasFault(f) && kind != stack.KindLocal {
			return fmt.Errorf("scenario %s injects %s, which kills or pauses a process of the local stack's Kafka cluster: cdcbench does not kill processes it did not start (--stack %s); run it with --stack local, or remove the fault",
				spec.Name, f, kind)
		}
	}
	return nil
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
