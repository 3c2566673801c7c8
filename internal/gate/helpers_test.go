package gate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

var testMachine = result.Machine{Hostname: "ci-1", CPU: "Test CPU @ 2.0GHz", Cores: 2, MemoryMB: 8000}

// smoke builds a result of the smoke scenario with two paths and two
// agents each. The CDC agents' e2e p50 is cdc ms and p99 4x that; the
// poller's p50 is poll ms and p99 2x that. Polling has no commit_event
// stage, as in real results.
func smoke(label string, cdc, poll float64) *result.Result {
	agent := func(name string, p50, p99 float64, cdcPath bool) result.AgentResult {
		a := result.AgentResult{
			Name: name, Events: 5000, ExpectedEvents: 5000, Alerts: 120, ExpectedAlerts: 120,
			E2E: recorder.Summary{Count: 5000, P50: p50, P90: 1.5 * p50, P99: p99, P999: 1.2 * p99, Max: 1.3 * p99, Mean: 1.1 * p50},
			Stages: map[string]recorder.Summary{
				"commit_receive": {Count: 5000, P50: p50 / 2, P99: p99 / 2},
				"alert":          {Count: 0},
			},
		}
		if cdcPath {
			a.Stages["commit_event"] = recorder.Summary{Count: 5000, P50: p50 / 4, P99: p99 / 4}
		}
		return a
	}
	return &result.Result{
		SchemaVersion: result.SchemaVersion, RunID: "id-" + label, ScenarioName: "smoke",
		StartedAt: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), Machine: testMachine, Valid: true,
		Paths: []result.Path{
			{Name: "cdc", Kind: "cdc", Agents: []result.AgentResult{agent("outlier", cdc, 4*cdc, true), agent("velocity", cdc, 4*cdc, true)}},
			{Name: "poll-100ms", Kind: "poll", Agents: []result.AgentResult{agent("outlier", poll, 2*poll, false), agent("velocity", poll, 2*poll, false)}},
		},
	}
}

// runs makes one run per cdc p50 in cdcs, with the poller at 50 ms.
func runs(prefix string, cdcs ...float64) []gate.Run {
	out := make([]gate.Run, len(cdcs))
	for i, c := range cdcs {
		label := fmt.Sprintf("%s-%d", prefix, i+1)
		out[i] = gate.FromResult(label, smoke(label, c, 50))
	}
	return out
}

// withCommand is one smoke run whose cdc path also ran an agent command,
// my-outlier, and a `cdcbench agent` process (an external agent that is no
// agent command, which the gate does not read).
func withCommand(label string) []gate.Run {
	r := smoke(label, 4, 50)
	r.Paths[0].ExternalAgents = []result.ExternalAgentResult{
		{Name: "my-outlier", Alerts: 120, ExpectedAlerts: 120, AlertMs: recorder.Summary{Count: 120, P50: 30, P99: 60},
			AgentCommand: &result.AgentCommand{Rule: "outlier", Observed: "lines"}},
		{Name: "velocity", Alerts: 100, ExpectedAlerts: 120, MissedAlerts: 20},
	}
	return []gate.Run{gate.FromResult(label, r)}
}

// mustParse parses a gate file made of rules.
func mustParse(t *testing.T, rules ...string) *gate.Spec {
	t.Helper()
	spec, err := gate.Parse("ci.yaml", []byte(gateFile(rules...)))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func gateFile(rules ...string) string {
	var b strings.Builder
	b.WriteString("alpha: 0.05\nrules:\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	return b.String()
}

var testTime = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
