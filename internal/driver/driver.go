// Package driver holds the path drivers: one implementation of Driver per
// way a committed row can reach the agents (the built-in WAL relay,
// Debezium in Kafka Connect, SQL polling, Apache Spark's JDBC reads, Flink
// CDC in a MiniCluster). The runner (package bench) takes
// every path through the same phases — set up, attach agents, probe,
// produce, drain, collect — and never asks which kind of path it has, the
// way the OpenMessaging benchmark keeps its Driver apart from the workload.
//
// Each path kind registers itself from its own file (relay.go registers
// "cdc", debezium.go "debezium", poll.go "poll", spark.go "spark" and
// flinkcdc.go "flink-cdc", whose programs are the Maven projects under
// spark/ and flinkcdc/), and everything else asks
// the registry: scenarios parse path names and check settings with
// ParsePath and CheckSetting, the runner, machine cost and a sweep's
// estimate read TraitsOf, and the reports read what the runner recorded
// from the traits in result.json. A new capture is one file here, plus
// its program where it has one, and implements:
//
//   - an init function calling Register with a Kind: its name and whether
//     it takes a parameter ("name-<param>": Param checks and spells it),
//     the Syntax error messages show, a Default path if a scenario that
//     names none should run it, New, its Traits (baseline or capture, does
//     it publish to the stack's Kafka, does it need Kafka Connect, the
//     stack's processes it runs on and what cdcbench's own process does on
//     it, for the machine cost, its set-up time for estimates) and, if it
//     takes scenario settings, CheckSetting and SettingsSyntax;
//   - a Driver: Start and Stop (which removes whatever Start created, on
//     every exit path), Open (a source.Source per agent instance: a Kafka
//     consumer group through kafkaDelivery when it publishes, or its own),
//     and Report, which fills result.Path's Capture and puts the kind's own
//     fields in result.Path.Driver under names documented in
//     reports/README.md;
//   - the capabilities it has among Pauser, Crasher, Connector,
//     LossTolerant and Validator, which faults and validity ask for, and
//     ProcessOwner where it runs a process of its own, for machine cost.
//
// Its configuration is the scenario's settings for the path (Config's
// Settings, checked offline by CheckSetting) and the run's Config.
// TestNoKindOutsideDriver keeps kind names out of every other Go file.
package driver

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// Driver is one path's way from the table to the agents.
type Driver interface {
	// Start creates what the path needs on an empty table (publication,
	// slot, connector) and starts it. A driver cleans up after a failed
	// Start itself; after a successful one the runner calls Stop.
	Start(ctx context.Context, env Env) error
	// Open returns a source of decoded rows for one instance of agent.
	Open(ctx context.Context, agent string) (source.Source, error)
	// Report adds the driver's own figures to the path's result.
	Report(p *result.Path)
	// Stop ends the path and removes what Start created; it runs on every
	// exit path, because a slot left behind retains WAL until someone drops it.
	Stop(ctx context.Context) error
}

// Env is what a path gives its driver.
type Env struct {
	Stack stack.Stack
	// Admin is the path's harness connection, for DDL.
	Admin *pgx.Conn
	// Publication and Slot are the names the path's CDC objects get;
	// Groups starts the name of every consumer group the path creates.
	Publication, Slot, Groups string
	// Application is the application_name of the database connections
	// the path's agents open themselves (the pollers'), by which the
	// harness finds their backends.
	Application string
	// Since is when the path started: a topic that outlives a run (a real
	// cluster) still holds earlier runs' events, with the same ids.
	Since time.Time
	// KeyByUser keys change events by user_id instead of id.
	KeyByUser bool
	// Fail hears of a component that stops on its own mid-path.
	Fail func(error)
}

// Config selects and configures the drivers of a run.
type Config struct {
	// CDC says what the "cdc" path runs, and where Kafka Connect is for
	// every path that runs Debezium.
	CDC       CDC
	PollMode  string // source.PollSafe or source.PollNaive
	PollLimit int    // rows per poll query
	// Settings are the path's connector settings (a Debezium path's).
	Settings map[string]string
}

// Pauser is a driver whose capture can be stalled (the pause-relay fault).
type Pauser interface {
	Pause(d time.Duration) error
}

// Crasher is a driver whose capture can be crashed and started again after
// down (the kill-relay and kill-capture faults).
type Crasher interface {
	Crash(ctx context.Context, down time.Duration) error
}

// Connector is a driver that runs a connector in Kafka Connect.
type Connector interface {
	ConnectorName() string
}

// LossTolerant is a driver for which losing rows is the finding, not a
// harness failure (naive polling).
type LossTolerant interface {
	LosesRows() bool
}

// ProcessOwner is a driver that runs processes of its own rather than the
// stack's (Spark's JVM), whose machine cost its path reports beside the
// stack's processes.
type ProcessOwner interface {
	// OwnProcesses names each process it runs and how to find its pids
	// now: a process started again (kill-relay) has a new one.
	OwnProcesses() []OwnProcess
}

// OwnProcess is one process a driver runs, for its path's machine cost.
type OwnProcess struct {
	Name string
	PIDs func() []int
}

// Validator is a driver whose configuration the component it configures
// can check before a run produces anything (Kafka Connect's validate
// endpoint), so that a refused setting costs seconds, not a path.
type Validator interface {
	Validate(ctx context.Context, st stack.Stack, name string) error
}
