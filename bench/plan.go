// Package bench runs a scenario: for every path in turn it resets the table,
// attaches both agents (through Kafka change events or through SQL polling),
// sends the seeded workload on its open-loop schedule, drains, and turns what
// the agents saw into a Result with HdrHistogram files beside it. Repeat
// runs a plan several times on one stack, and Sweep.Run a scenario's sweep
// cell by cell, starting the stacks they run on; the command line only
// fills in their configuration and prints what they hand back.
package bench

import (
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/scenarios"
)

// Plan is what a run needs from a scenario, in the units the code uses. The
// scenario file is the user's language; the plan is the program's.
type Plan struct {
	Name           string
	Warmup         time.Duration
	Duration       time.Duration
	DrainTimeout   time.Duration
	BatchSize      int
	Connections    int
	Users          int
	Insert         string
	FraudRate      float64
	Seed           uint64
	Schedule       schedule.Schedule // covers Warmup + Duration
	Poisson        bool
	Paths          []driver.Path
	PollMode       string
	Partitions     int  // of the change topic
	KeyByUser      bool // change events keyed by user_id instead of id
	AgentInstances int  // consumers per agent
	// ExternalAgents names agents that run as their own processes
	// (`cdcbench agent`) whose alerts the CDC path collects from
	// fraud.alerts, beside the in-process agents.
	ExternalAgents []string
	// AgentCommands are the user's own agents, started by cdcbench on
	// every path that publishes to Kafka.
	AgentCommands     []AgentCommand
	PollLimit         int
	AgentDelay        time.Duration
	Agents            agents.Config
	ScheduleTolerance time.Duration
	// Slices cut the schedule into the spans reported on their own: a step
	// shape's stages, or tenths of a ramp. Empty for other shapes.
	Slices []Slice
	// ObjectiveP99 is the CDC path's latency objective; the knee is the
	// highest offered rate of a slice that met it.
	ObjectiveP99 time.Duration
	// Faults are injected during every path, at their time from the start
	// of the schedule.
	Faults []scenarios.FaultSpec
	// Settings are connector settings by path name (scenarios.Spec.Settings).
	Settings map[string]map[string]string
	// Spec is the resolved scenario, written into result.json as it is.
	Spec any
}

// Slice is a span of the schedule, from its start.
type Slice struct{ From, To time.Duration }

// rampSlices is how many slices a ramp is cut into.
const rampSlices = 10

// slicesOf returns the report slices of a scenario's rate shape.
func slicesOf(s scenarios.Spec) []Slice {
	var out []Slice
	switch s.Rate.Shape {
	case scenarios.ShapeStep:
		var at time.Duration
		for _, st := range s.Rate.Stages {
			out = append(out, Slice{From: at, To: at + time.Duration(st.Duration)})
			at += time.Duration(st.Duration)
		}
	case scenarios.ShapeRamp:
		total := s.Total()
		for i := 0; i < rampSlices; i++ {
			out = append(out, Slice{From: total * time.Duration(i) / rampSlices, To: total * time.Duration(i+1) / rampSlices})
		}
	}
	return out
}

// sliceOf returns the index of the slice holding offset, or -1.
func (p *Plan) sliceOf(offset time.Duration) int {
	for i, sl := range p.Slices {
		if offset >= sl.From && offset < sl.To {
			return i
		}
	}
	return -1
}

// Validate reports what would make the plan fail half-way.
func (p *Plan) Validate() error {
	var errs []error
	if p.Duration <= 0 || p.Warmup < 0 {
		errs = append(errs, fmt.Errorf("plan: duration must be positive and warmup not negative, got %v and %v", p.Duration, p.Warmup))
	}
	if p.BatchSize < 1 || p.Connections < 1 || p.Users < 1 || p.AgentInstances < 1 {
		errs = append(errs, fmt.Errorf("plan: batch size, connections, users and agent instances must be positive"))
	}
	if p.Schedule == nil {
		errs = append(errs, errors.New("plan: no schedule"))
	}
	if len(p.Paths) == 0 {
		errs = append(errs, errors.New("plan: no paths"))
	}
	for _, n := range p.ExternalAgents {
		if agentIndex(n) < 0 {
			errs = append(errs, fmt.Errorf("plan: external agent %q is not one of %v", n, agents.Names))
		}
	}
	// Whether a path publishes does not depend on what the stack's CDC
	// is, which the plan does not know: the default's traits answer.
	publishes := false
	for _, ps := range p.Paths {
		publishes = publishes || driver.TraitsOf(ps, "").Publishes
	}
	if len(p.AgentCommands) > 0 && !publishes {
		// They read the change topic; a polling path publishes nothing.
		errs = append(errs, fmt.Errorf("plan: agent commands need a path that publishes to Kafka; paths are %v", p.Paths))
	}
	if err := p.Agents.Outlier.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := p.Agents.Velocity.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// PlanOption adds to a plan what a scenario file does not say.
type PlanOption func(*Plan)

// WithExternalAgents names agents that run as their own processes.
func WithExternalAgents(names ...string) PlanOption {
	return func(p *Plan) { p.ExternalAgents = names }
}

// PlanFrom turns a scenario, as parsed and overridden by flags, into a
// plan, and validates both: the plan only here, the scenario here again
// because flags may have changed it since its file was checked (with line
// numbers) when it was parsed.
func PlanFrom(s scenarios.Spec, opts ...PlanOption) (Plan, error) {
	if errs := s.Validate(); len(errs) > 0 {
		return Plan{}, fmt.Errorf("scenario %s: %w", s.Name, errors.Join(errs...))
	}
	paths, err := s.ParsedPaths()
	if err != nil {
		return Plan{}, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	resolved, err := specMap(s)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{
		Name: s.Name, Warmup: time.Duration(s.Warmup), Duration: time.Duration(s.Duration),
		DrainTimeout: time.Duration(s.DrainTimeout), BatchSize: s.BatchSize, Connections: s.Connections,
		Users: s.Users, Insert: s.Insert, FraudRate: s.FraudRate, Seed: s.Seed,
		Schedule: s.Schedule(), Poisson: s.Rate.Arrivals == scenarios.ArrivalsPoisson,
		Paths: paths, PollMode: s.Poll.Mode, Partitions: s.Partitions, KeyByUser: s.Key == scenarios.KeyUserID,
		AgentInstances: s.AgentInstances, PollLimit: s.Poll.Limit, AgentDelay: time.Duration(s.AgentDelay),
		Agents: agents.Config{
			Outlier: agents.OutlierConfig{Rule: s.Outlier.Rule, History: s.Outlier.History, MinHistory: s.Outlier.MinHistory,
				Factor: s.Outlier.Factor, MinAmount: s.Outlier.MinAmountCents()},
			Velocity: agents.VelocityConfig{Window: time.Duration(s.Velocity.Window), MaxCount: s.Velocity.MaxCount,
				HighAmount: s.Velocity.HighAmountCents(), Threshold: int64(s.Velocity.Threshold)},
		},
		ScheduleTolerance: time.Duration(s.ScheduleTolerance),
		Slices:            slicesOf(s),
		ObjectiveP99:      time.Duration(s.Objective.P99),
		Faults:            s.Faults,
		Settings:          s.Settings,
		Spec:              resolved,
	}
	if p.AgentCommands, err = NewAgentCommands(s.AgentCommands); err != nil {
		return Plan{}, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	for _, o := range opts {
		o(&p)
	}
	return p, p.Validate()
}

// specMap renders the scenario as the same fields and values its YAML file
// has (durations as "5s", not nanoseconds), for result.json.
func specMap(s scenarios.Spec) (map[string]any, error) {
	b, err := s.YAML()
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return m, nil
}
