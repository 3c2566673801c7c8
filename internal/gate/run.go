package gate

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// Run is what a gate reads of one benchmark run: its validity and every
// agent's figures on every path. Baselines store runs in this form.
type Run struct {
	Label     string         `json:"label"` // the result directory's name
	RunID     string         `json:"run_id"`
	Scenario  string         `json:"scenario"`
	StartedAt time.Time      `json:"started_at"`
	Machine   result.Machine `json:"machine"`
	// Stack is what the run ran on (PostgreSQL, Kafka, the capture); nil
	// in a baseline recorded before runs kept it.
	Stack          *result.StackResult `json:"stack,omitempty"`
	Valid          bool                `json:"valid"`
	InvalidReasons []string            `json:"invalid_reasons,omitempty"`
	Paths          []RunPath           `json:"paths"`
}

// RunPath is one path's agents.
type RunPath struct {
	Name   string               `json:"name"`
	Agents []result.AgentResult `json:"agents"`
	// Commands are the user's agents the run started (agent commands),
	// with the figures cdcbench has of them: the alert counts, and the
	// alert latency as stage "alert" (they print alerts, not every row).
	Commands []result.AgentResult `json:"agent_commands,omitempty"`
}

// commandMetrics are the metrics an agent command has: cdcbench sees its
// alerts only.
var commandMetrics = []string{"alerts", "expected_alerts", "missed_alerts", "unexpected_alerts", "stages.alert"}

// FromResult takes the figures a gate reads from r; label names the run in
// reports (usually its directory's name).
func FromResult(label string, r *result.Result) Run {
	run := Run{
		Label: label, RunID: r.RunID, Scenario: r.ScenarioName, StartedAt: r.StartedAt,
		Machine: r.Machine, Stack: &r.Stack, Valid: r.Valid, InvalidReasons: r.InvalidReasons,
	}
	for _, p := range r.Paths {
		rp := RunPath{Name: p.Name, Agents: p.Agents}
		for _, e := range p.ExternalAgents {
			if e.AgentCommand != nil {
				rp.Commands = append(rp.Commands, result.AgentResult{Name: e.Name, Alerts: e.Alerts, ExpectedAlerts: e.ExpectedAlerts,
					MissedAlerts: e.MissedAlerts, UnexpectedAlerts: e.UnexpectedAlerts, Stages: map[string]recorder.Summary{recorder.Alert.String(): e.AlertMs}})
			}
		}
		run.Paths = append(run.Paths, rp)
	}
	return run
}

// Agent returns the figures of agent on path, or false.
func (r Run) Agent(path, agent string) (result.AgentResult, bool) {
	for _, p := range r.Paths {
		if p.Name != path {
			continue
		}
		for _, a := range p.Agents {
			if a.Name == agent {
				return a, true
			}
		}
	}
	return result.AgentResult{}, false
}

// figuresOf returns the figures of agent on path, a built-in agent or an
// agent command (command is then true).
func (r Run) figuresOf(path, agent string) (a result.AgentResult, command, ok bool) {
	if a, ok := r.Agent(path, agent); ok {
		return a, false, true
	}
	for _, p := range r.Paths {
		if p.Name != path {
			continue
		}
		for _, a := range p.Commands {
			if a.Name == agent {
				return a, true, true
			}
		}
	}
	return result.AgentResult{}, false, false
}

// LoadRuns reads the runs at each path, in order. A path is a result
// directory or its result.json (one run), or a baseline file (its runs), so
// a baseline can stand wherever a set of runs is expected.
func LoadRuns(paths ...string) ([]Run, error) {
	var runs []Run
	for _, p := range paths {
		if isBaseline(p) {
			b, err := ReadBaseline(p)
			if err != nil {
				return nil, err
			}
			runs = append(runs, b.Runs...)
			continue
		}
		res, err := result.Read(p)
		if err != nil {
			return nil, fmt.Errorf("gate: %w", err)
		}
		runs = append(runs, FromResult(runLabel(p), res))
	}
	return runs, nil
}

// runLabel names a run after its directory: results/smoke-20261126T082554Z
// and results/smoke-20261126T082554Z/result.json are both
// "smoke-20261126T082554Z".
func runLabel(path string) string {
	path = filepath.Clean(path)
	if filepath.Base(path) == "result.json" {
		path = filepath.Dir(path)
	}
	return filepath.Base(path)
}

// isBaseline tells a baseline file from a result by its version field,
// without trusting file names.
func isBaseline(path string) bool {
	b, err := inputfile.Read(path, MaxBaselineBytes)
	if err != nil {
		return false
	}
	var probe struct {
		Version int `json:"baseline_version"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Version > 0
}
