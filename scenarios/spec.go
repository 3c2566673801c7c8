// Package scenarios holds the benchmark's scenario files and the Spec they
// decode into: what load to offer, for how long, over which paths, and with
// which detector rules. A Spec is plain data with Validate, so a typo in a
// file fails before a run starts instead of producing a plausible but wrong
// result. The built-in scenarios are the YAML files beside this package.
package scenarios

import (
	"fmt"
	"math"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/internal/spell"
	"github.com/cdcbench/cdcbench/internal/yamlfile"
)

// Spec is one scenario. Durations are written as Go durations ("150ms",
// "1m30s"); rates state their unit explicitly. The README beside this file
// is the user-facing reference for every field.
type Spec struct {
	Name              string        `yaml:"name"`
	Description       string        `yaml:"description"`   // one line: the question the scenario answers
	Duration          Duration      `yaml:"duration"`      // measured window, after Warmup
	Warmup            Duration      `yaml:"warmup"`        // excluded from statistics; the schedule starts with it
	DrainTimeout      Duration      `yaml:"drain_timeout"` // how long to wait for missing events after the producer stops
	BatchSize         int           `yaml:"batch_size"`    // rows per batch (one COPY or INSERT)
	Rate              RateSpec      `yaml:"rate"`
	Connections       int           `yaml:"connections"` // producer connections
	Insert            string        `yaml:"insert"`      // InsertCopy or InsertValues
	Users             int           `yaml:"users"`       // distinct user ids, from 1000 as in the seed
	FraudRate         float64       `yaml:"fraud_rate"`  // fraction of rows that start an injected fraud pattern
	Seed              uint64        `yaml:"seed"`
	Paths             []string      `yaml:"paths"` // see driver.ParsePath
	Poll              PollSpec      `yaml:"poll"`
	Partitions        int           `yaml:"partitions"`      // of the change topic
	Key               string        `yaml:"key"`             // KeyID or KeyUserID: the change events' Kafka key
	AgentInstances    int           `yaml:"agent_instances"` // consumers per agent in its group
	AgentDelay        Duration      `yaml:"agent_delay"`     // calibration: fixed delay added in every agent
	Outlier           OutlierSpec   `yaml:"outlier"`
	Velocity          VelocitySpec  `yaml:"velocity"`
	Objective         ObjectiveSpec `yaml:"objective"`
	ScheduleTolerance Duration      `yaml:"schedule_tolerance"` // lag behind the schedule that invalidates a run
	Faults            []FaultSpec   `yaml:"faults,omitempty"`   // injected at a time, for a duration
	// Stack shapes the local stack (--stack local): its brokers and
	// Connect workers. Other stacks refuse a shape but the default.
	Stack StackSpec `yaml:"stack,omitempty"`
	// NoLimits lifts MaxRowsPerSecond and MaxTotal, for a machine and a
	// run that really go beyond them.
	NoLimits bool `yaml:"no_limits,omitempty"`
	// AgentCommands are the user's own agents, started as commands.
	AgentCommands []AgentCommandSpec `yaml:"agent_commands,omitempty"`
	// Settings are per path name: Debezium connector properties
	// ("poll.interval.ms") and its producer's ("producer.override.linger.ms"),
	// applied over cdcbench's own connector configuration. Values are
	// strings as Connect takes them; see settings.go for what is checked.
	Settings map[string]map[string]string `yaml:"settings,omitempty"`
	// Sweep runs the scenario once per combination of these fields'
	// values; see sweep.go and Cells.
	Sweep []SweepSpec `yaml:"sweep,omitempty"`
}

// Limits on what a scenario may ask, unless it sets no_limits. Past them a
// run is a typo (--rate 1e12, --duration 100000h) more often than a plan:
// it would run until killed and measure nothing but its own backlog.
const (
	// MaxRowsPerSecond is well above what one PostgreSQL server accepts
	// through COPY on any machine cdcbench runs on (about 500,000 rows/s
	// on 2 cores with 4 connections, cmd/perf/README.md).
	MaxRowsPerSecond = 2_000_000
	// MaxTotal bounds warm-up plus duration: a day-long soak is a plan,
	// a longer one is better run as several.
	MaxTotal = 24 * time.Hour
)

// FaultSpec is one injected fault: Kind happens At (from the start of the
// schedule, warm-up included) and lasts Duration.
type FaultSpec struct {
	Kind     string   `yaml:"kind"`
	At       Duration `yaml:"at"`
	Duration Duration `yaml:"duration"`
	// Agent names the agent for kill-agent; empty means every agent.
	Agent string `yaml:"agent,omitempty"`
}

// StackSpec is the local stack's shape. The zero value is today's one
// broker (replication factor 1) and one Connect worker.
type StackSpec struct {
	// Brokers is how many KRaft nodes (1 to jvmstack.MaxBrokers; 0 = 1);
	// topics get min(3, Brokers) replicas and, from 3 on,
	// min.insync.replicas=2, written with acks=all.
	Brokers int `yaml:"brokers,omitempty"`
	// ConnectWorkers is how many Kafka Connect workers form the group (1
	// to jvmstack.MaxConnectWorkers; 0 = 1).
	ConnectWorkers int `yaml:"connect_workers,omitempty"`
	// RebalanceDelay is the workers' scheduled.rebalance.max.delay.ms: how
	// long a group of several waits for a lost worker before it hands its
	// tasks to the others. Nil keeps Connect's default (5 minutes) on a
	// group of several; a worker alone uses 0.
	RebalanceDelay *Duration `yaml:"rebalance_delay,omitempty"`
}

// IsDefault reports whether s asks for no more than one broker and one
// worker with Connect's own settings: the shape every stack has.
func (s StackSpec) IsDefault() bool {
	return s.Brokers <= 1 && s.ConnectWorkers <= 1 && s.RebalanceDelay == nil
}

// Fault kinds.
const (
	// FaultLockTable holds an ACCESS EXCLUSIVE lock on the table: inserts
	// and polls wait, the database stalls.
	FaultLockTable = "lock-table"
	// FaultPauseRelay stops the relay reading the slot; it resumes where it was.
	FaultPauseRelay = "pause-relay"
	// FaultKillRelay closes the relay's connections; a new relay resumes from
	// the slot's confirmed position, so events are replayed, never lost.
	FaultKillRelay = "kill-relay"
	// FaultKillAgent closes an agent's consumer without committing; a new one
	// rejoins the group and re-reads from the last committed offset.
	FaultKillAgent = "kill-agent"
	// FaultDropConnections terminates the database connections of the
	// producer, the pollers and the WAL sender, again and again for the
	// duration: each must reconnect and carry on without losing a row.
	FaultDropConnections = "drop-connections"
	// FaultRestartKafka stops the broker cdcbench started (kfake, or Apache
	// Kafka on the local stack) and starts it again after the duration,
	// with its data: producers and consumers reconnect.
	FaultRestartKafka = "restart-kafka"
	// FaultKillConnect kills the Kafka Connect worker of the local stack
	// (kill -9) and starts it again after the duration: Debezium resumes
	// from its last committed offset, so events are replayed, never lost.
	FaultKillConnect = "kill-connect"
	// FaultKillCapture kills the path's capture, whatever runs it, and
	// starts it again after the duration: the relay's connections, Spark's
	// or another capture's JVM (SIGKILL), Debezium's Kafka Connect worker.
	// Each resumes from what it had committed: duplicates, never losses.
	// It is the one fault a scenario comparing captures applies to all.
	FaultKillCapture = "kill-capture"
	// FaultKillBroker kills (kill -9) the broker leading the change
	// topic's partition 0 on a local stack of three or more brokers and
	// starts it again after the duration: a follower takes over once the
	// controller misses the dead broker's heartbeats.
	FaultKillBroker = "kill-broker"
	// FaultPauseBroker stops that broker (SIGSTOP) for the duration and
	// resumes it (SIGCONT): a broker that is slow, not dead.
	FaultPauseBroker = "pause-broker"
	// FaultKillConnectWorker kills (kill -9) the Connect worker running
	// the Debezium task on a local stack of two or more workers, and
	// starts it again after the duration; the fault's result says when the
	// task ran again and on which worker (stack.rebalance_delay decides).
	FaultKillConnectWorker = "kill-connect-worker"
)

// ClusterFaults are the faults that kill or pause a process of the local
// stack's cluster: cdcbench refuses them on a stack it did not start.
var ClusterFaults = []string{FaultKillBroker, FaultPauseBroker, FaultKillConnectWorker}

// HasFault reports whether the scenario injects a fault of kind.
func (s Spec) HasFault(kind string) bool {
	for _, f := range s.Faults {
		if f.Kind == kind {
			return true
		}
	}
	return false
}

// RateSpec is the offered load's shape. Only the fields of the chosen Shape
// may be set; the rest must stay zero, so a field meant for another shape
// is reported instead of silently ignored.
type RateSpec struct {
	Shape    string `yaml:"shape"`    // ShapeConstant, ShapeBurst, ShapeRamp, ShapeStep or ShapeSine
	Unit     string `yaml:"unit"`     // UnitBatches or UnitRows; required so that nobody guesses
	Arrivals string `yaml:"arrivals"` // ArrivalsEven or ArrivalsPoisson

	Rate      float64     `yaml:"rate,omitempty"`      // constant
	Base      float64     `yaml:"base,omitempty"`      // burst
	Peak      float64     `yaml:"peak,omitempty"`      // burst
	Period    Duration    `yaml:"period,omitempty"`    // burst, sine
	Length    Duration    `yaml:"length,omitempty"`    // burst: of each peak
	From      float64     `yaml:"from,omitempty"`      // ramp
	To        float64     `yaml:"to,omitempty"`        // ramp
	Stages    []StageSpec `yaml:"stages,omitempty"`    // step
	Mean      float64     `yaml:"mean,omitempty"`      // sine
	Amplitude float64     `yaml:"amplitude,omitempty"` // sine
}

// StageSpec is one stage of a step shape.
type StageSpec struct {
	Rate     float64  `yaml:"rate"`
	Duration Duration `yaml:"duration"`
}

// PollSpec configures the SQL polling paths.
type PollSpec struct {
	Mode  string `yaml:"mode"`  // PollSafe or PollNaive
	Limit int    `yaml:"limit"` // rows per query
}

// OutlierSpec is agent 1's rule. Amounts are in currency units as users
// write them (500 means 500.00); the agents work in cents.
type OutlierSpec struct {
	Rule       string  `yaml:"rule"`        // RuleMean3x or RuleSigma3
	History    int     `yaml:"history"`     // amounts kept per user
	MinHistory int     `yaml:"min_history"` // amounts known before judging
	Factor     float64 `yaml:"factor"`      // multiple of the mean (mean3x) or of the stddev (sigma3)
	MinAmount  float64 `yaml:"min_amount"`  // amounts at or below it never alert
}

// VelocitySpec is agent 2's rule: score 40 for more than MaxCount
// transactions of a user in Window, 50 for an amount above HighAmount, 10
// for AMEX; alert when the score is above Threshold.
type VelocitySpec struct {
	Window     Duration `yaml:"window"`
	MaxCount   int      `yaml:"max_count"`
	HighAmount float64  `yaml:"high_amount"` // currency units
	Threshold  int      `yaml:"threshold"`
}

// ObjectiveSpec is the latency objective later used to find knees.
type ObjectiveSpec struct {
	P99 Duration `yaml:"p99"` // of the CDC path's end-to-end latency
}

// Allowed values of the enumerated fields.
const (
	ShapeConstant = "constant"
	ShapeBurst    = "burst"
	ShapeRamp     = "ramp"
	ShapeStep     = "step"
	ShapeSine     = "sine"

	UnitBatches = "batches/s"
	UnitRows    = "rows/s"

	ArrivalsEven    = "even"
	ArrivalsPoisson = "poisson"

	InsertCopy   = "copy"   // COPY FROM STDIN, one per batch
	InsertValues = "values" // one multi-row INSERT per batch

	PollSafe  = "safe"  // cursor that cannot skip rows committed out of id order
	PollNaive = "naive" // WHERE id > last seen, as a naive poller does

	KeyID     = "id"      // the primary key, as Debezium keys by default
	KeyUserID = "user_id" // message.key.columns=public.transactions:user_id

	RuleMean3x = "mean3x"
	RuleSigma3 = "sigma3"
)

// Defaults applied to zero fields; see ApplyDefaults.
const (
	DefaultDrainTimeout      = 30 * time.Second
	DefaultConnections       = 1
	DefaultUsers             = 9000
	DefaultFraudRate         = 0.002
	DefaultPollLimit         = 10000
	DefaultPartitions        = 1
	DefaultObjectiveP99      = 250 * time.Millisecond
	DefaultScheduleTolerance = time.Second
)

// ApplyDefaults fills the zero fields of s that have a default. In Go a
// zero means "not set"; Parse instead applies the defaults before decoding,
// so in a file an explicit 0 is kept (fraud_rate: 0 runs without frauds).
// Paths are defaulted only when nil: an explicit empty list is an error.
func (s *Spec) ApplyDefaults() {
	setDuration(&s.DrainTimeout, DefaultDrainTimeout)
	setInt(&s.Connections, DefaultConnections)
	setString(&s.Insert, InsertCopy)
	setInt(&s.Users, DefaultUsers)
	setFloat(&s.FraudRate, DefaultFraudRate)
	if s.Paths == nil {
		s.Paths = driver.DefaultPaths()
	}
	setString(&s.Rate.Arrivals, ArrivalsEven)
	setString(&s.Poll.Mode, PollSafe)
	setInt(&s.Poll.Limit, DefaultPollLimit)
	setInt(&s.Partitions, DefaultPartitions)
	setString(&s.Key, KeyID)
	setInt(&s.AgentInstances, 1)
	setString(&s.Outlier.Rule, RuleMean3x)
	setInt(&s.Outlier.History, 50)
	setInt(&s.Outlier.MinHistory, 3)
	setFloat(&s.Outlier.Factor, 3)
	setFloat(&s.Outlier.MinAmount, 500)
	setDuration(&s.Velocity.Window, time.Minute)
	setInt(&s.Velocity.MaxCount, 5)
	setFloat(&s.Velocity.HighAmount, 4000)
	setInt(&s.Velocity.Threshold, 70)
	setDuration(&s.Objective.P99, DefaultObjectiveP99)
	setDuration(&s.ScheduleTolerance, DefaultScheduleTolerance)
	for i := range s.AgentCommands {
		s.AgentCommands[i].applyDefaults()
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setFloat(p *float64, v float64) {
	if *p == 0 {
		*p = v
	}
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDuration(p *Duration, v time.Duration) {
	if *p == 0 {
		*p = Duration(v)
	}
}

// Total is the length of the whole schedule: Warmup then Duration.
func (s Spec) Total() time.Duration { return time.Duration(s.Warmup + s.Duration) }

// Schedule returns the offered load in batches per second over Warmup and
// Duration, converting rows/s by BatchSize. Every shape starts at the start
// of the warm-up: a burst's period and a ramp's slope count from there. s
// must be valid; for an unknown shape Schedule returns nil.
func (s Spec) Schedule() schedule.Schedule {
	f := 1.0
	if s.Rate.Unit == UnitRows {
		f = 1 / float64(s.BatchSize)
	}
	r, total := s.Rate, s.Total()
	switch r.Shape {
	case ShapeConstant:
		return schedule.Constant{PerSecond: r.Rate * f, Length: total}
	case ShapeBurst:
		return schedule.Burst{Base: r.Base * f, Peak: r.Peak * f, Period: time.Duration(r.Period), Length: time.Duration(r.Length), Total: total}
	case ShapeRamp:
		return schedule.Ramp{From: r.From * f, To: r.To * f, Length: total}
	case ShapeStep:
		st := make([]schedule.Stage, len(r.Stages))
		for i, g := range r.Stages {
			st[i] = schedule.Stage{Rate: g.Rate * f, Length: time.Duration(g.Duration)}
		}
		return schedule.Step{Stages: st}
	case ShapeSine:
		return schedule.Sine{Mean: r.Mean * f, Amplitude: r.Amplitude * f, Period: time.Duration(r.Period), Length: total}
	}
	return nil
}

// Arrivals returns the batches' intended offsets for a run of s, even or
// Poisson as the scenario says, seeded with Seed.
func (s Spec) Arrivals() *schedule.Arrivals {
	return schedule.NewArrivals(s.Schedule(), s.Rate.Arrivals == ArrivalsPoisson, s.Seed)
}

// TargetRowsPerSecond is the offered load in rows per second at elapsed
// (from the start of the warm-up), for reports of target versus achieved.
func (s Spec) TargetRowsPerSecond(elapsed time.Duration) float64 {
	return s.Schedule().Rate(elapsed) * float64(s.BatchSize)
}

// MinAmountCents is MinAmount in cents, as the agents take it.
func (o OutlierSpec) MinAmountCents() int64 { return int64(math.Round(o.MinAmount * 100)) }

// HighAmountCents is HighAmount in cents, as the agents take it.
func (v VelocitySpec) HighAmountCents() int64 { return int64(math.Round(v.HighAmount * 100)) }

// YAML renders s as a scenario file, every default spelt out, for
// `cdcbench scenarios show`. Parse reads it back to an equal Spec.
func (s Spec) YAML() ([]byte, error) {
	b, err := yamlfile.Dump(s)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %s: encode: %w", s.Name, err)
	}
	return b, nil
}

// Duration is a time.Duration written in files as a Go duration string
// ("150ms", "1m30s"). A bare number other than 0 is rejected: "60" could
// mean seconds or nanoseconds, and guessing is how benchmarks end up wrong.
type Duration time.Duration

// String formats d as Go does, without the zero tails ("1m", not "1m0s").
func (d Duration) String() string { return spell.Duration(time.Duration(d)) }

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string. Its error is a *FieldError
// without a field, already worded for users: the decoder marks it with
// the value's line and column, and Parse names the field there and
// reports it with the others at once.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.Value != "0") || err != nil {
		return &FieldError{Err: fmt.Errorf("want a duration with a unit such as \"60s\" or \"1m30s\", got %s", describe(n))}
	}
	*d = Duration(v)
	return nil
}
