package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/pgcluster"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
	"github.com/cdcbench/cdcbench/stack"
)

// stackFlags select the stack; shared by run and stack up.
func stackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "pg-dsn", Usage: "use this PostgreSQL (needs wal_level=logical and a role that may replicate) instead of a private cluster", EnvVars: []string{"CDCBENCH_PG_DSN"}},
		&cli.StringSliceFlag{Name: "brokers", Usage: "use this Kafka (host:port, repeatable) instead of the in-process kfake", EnvVars: []string{"KAFKA_BOOTSTRAP_SERVERS"}},
		&cli.IntFlag{Name: "kafka-port", Usage: "port for the in-process Kafka (0 = any free port)"},
		&cli.IntFlag{Name: "pg-port", Usage: "port for the private PostgreSQL cluster (0 = any free port)"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the private cluster's directory after the run, for debugging"},
	}
}

func startStack(c *cli.Context, partitions int) (stack.Stack, error) {
	return stack.Start(c.Context, stack.Options{
		PostgresDSN: c.String("pg-dsn"),
		Brokers:     splitBrokers(c.StringSlice("brokers")),
		Postgres:    pgcluster.Options{Port: c.Int("pg-port"), Keep: c.Bool("keep")},
		KafkaPort:   c.Int("kafka-port"),
		Partitions:  partitions,
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
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress lines on stderr"},
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
			var log *os.File
			if !c.Bool("quiet") {
				log = os.Stderr
			}
			if log != nil {
				fmt.Fprintf(log, "cdcbench %s: starting the stack\n", spec.Name)
			}
			t0 := time.Now()
			st, err := startStack(c, spec.Partitions)
			if err != nil {
				return err
			}
			// Cleanup runs after Ctrl-C too: it must not inherit the cancellation.
			defer st.Close(context.WithoutCancel(c.Context))
			if log != nil {
				fmt.Fprintf(log, "stack up in %v: PostgreSQL %s, Kafka %s\n", time.Since(t0).Round(time.Millisecond), stack.Redact(st.DSN()), strings.Join(st.Brokers(), ","))
			}
			cfg := bench.Config{Plan: plan, Stack: st, ResultsDir: c.String("results"), Version: version}
			if log != nil {
				cfg.Log = log
			}
			res, dir, runErr := bench.Run(c.Context, cfg)
			if res != nil {
				if err := reports.WriteSummary(c.App.Writer, res); err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "\nresults: %s\n", dir)
			}
			if runErr != nil {
				return runErr
			}
			if !res.Valid {
				return fmt.Errorf("the run is invalid: %s", strings.Join(res.InvalidReasons, "; "))
			}
			return nil
		},
	}
}

// applyOverrides writes the flags the user set into spec.
func applyOverrides(c *cli.Context, s *scenarios.Spec) error {
	dur := func(name string, p *scenarios.Duration) {
		if c.IsSet(name) {
			*p = scenarios.Duration(c.Duration(name))
		}
	}
	dur("duration", &s.Duration)
	dur("warmup", &s.Warmup)
	dur("drain-timeout", &s.DrainTimeout)
	dur("agent-delay", &s.AgentDelay)
	if c.IsSet("rate") {
		s.Rate = scenarios.RateSpec{Shape: scenarios.ShapeConstant, Unit: scenarios.UnitRows, Arrivals: s.Rate.Arrivals, Rate: c.Float64("rate")}
	}
	if c.IsSet("batch-size") {
		s.BatchSize = c.Int("batch-size")
	}
	if c.IsSet("connections") {
		s.Connections = c.Int("connections")
	}
	if c.IsSet("insert") {
		s.Insert = c.String("insert")
	}
	if c.IsSet("users") {
		s.Users = c.Int("users")
	}
	if c.IsSet("fraud-rate") {
		s.FraudRate = c.Float64("fraud-rate")
	}
	if c.IsSet("seed") {
		s.Seed = c.Uint64("seed")
	}
	if c.IsSet("paths") {
		s.Paths = strings.Split(c.String("paths"), ",")
	}
	if c.IsSet("poll-mode") {
		s.Poll.Mode = c.String("poll-mode")
	}
	if c.IsSet("outlier-rule") {
		s.Outlier.Rule = c.String("outlier-rule")
	}
	if errs := s.Validate(); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("scenario %s after flags:\n  %s", s.Name, strings.Join(msgs, "\n  "))
	}
	return nil
}
