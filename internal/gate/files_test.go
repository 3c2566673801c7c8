package gate_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// measured is one run's medians in ms, as a gate file's comments quote
// them: the capture path's e2e, insert_commit and commit_receive stages
// and the poller's e2e p99.
type measured struct{ e2e, insertCommit, commitReceive, pollP99 float64 }

// gateRun builds a run of the relay or a Debezium path (capture) beside
// poll-100ms from m, with the capture's e2e and commit_receive slower by
// factor; both agents alike, every event and alert delivered.
func gateRun(label, capture string, m measured, factor float64) gate.Run {
	agent := func(name string, e2e recorder.Summary, stages map[string]recorder.Summary) result.AgentResult {
		return result.AgentResult{
			Name: name, Events: 5650, ExpectedEvents: 5650, Alerts: 116, ExpectedAlerts: 116,
			E2E: e2e, Stages: stages,
		}
	}
	e2e := factor * m.e2e
	capStages := map[string]recorder.Summary{
		"insert_commit":  {Count: 5650, P50: m.insertCommit, P99: 4 * m.insertCommit},
		"commit_receive": {Count: 5650, P50: factor * m.commitReceive, P99: 4 * factor * m.commitReceive},
	}
	pollStages := map[string]recorder.Summary{
		"insert_commit":  {Count: 5650, P50: m.insertCommit, P99: 4 * m.insertCommit},
		"commit_receive": {Count: 5650, P50: m.pollP99 / 2, P99: m.pollP99},
	}
	var paths []result.Path
	for _, p := range []struct {
		name   string
		e2e    recorder.Summary
		stages map[string]recorder.Summary
	}{
		{capture, recorder.Summary{Count: 5650, P50: e2e, P90: 2 * e2e, P99: 3 * e2e, Max: 4 * e2e}, capStages},
		{"poll-100ms", recorder.Summary{Count: 5650, P50: m.pollP99 / 2, P90: 0.9 * m.pollP99, P99: m.pollP99, Max: 1.1 * m.pollP99}, pollStages},
	} {
		paths = append(paths, result.Path{Name: p.name, Agents: []result.AgentResult{agent("outlier", p.e2e, p.stages), agent("velocity", p.e2e, p.stages)}})
	}
	return gate.FromResult(label, &result.Result{SchemaVersion: result.SchemaVersion, ScenarioName: "smoke", Machine: testMachine, Valid: true, Paths: paths})
}

// TestGateFiles evaluates the gates CI runs (gates/*.yaml) on runs with
// the figures their comments quote, the worst of them included, and on
// the same runs with the capture five times slower: each gate passes the
// first and fails the second by a ratio rule on the capture, ratios within
// a run being what a busy runner moves least (an absolute cap would fail a
// slow runner as well).
func TestGateFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, capture string
		runs          []measured // three runs, as the workflow makes
	}{
		// ci.yaml: e2e / insert_commit 1.6-3.5, commit_receive /
		// insert_commit 0.5-1.9, e2e / poll p99 0.024-0.114.
		{"ci.yaml", "cdc", []measured{{6.7, 1.92, 3.6, 58.8}, {2.5, 1.56, 0.8, 104}, {4.0, 1.6, 1.6, 100}}},
		// debezium.yaml: the three runs its comments quote.
		{"debezium.yaml", "debezium-tuned", []measured{{1242, 15.3, 1104, 205}, {37.8, 3.88, 25.3, 114}, {31.6, 2.67, 21.7, 215}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			spec, err := gate.LoadSpec(filepath.Join("..", "..", "gates", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, factor := range []float64{1, 5} {
				var runs []gate.Run
				for i, m := range tc.runs {
					runs = append(runs, gateRun(fmt.Sprintf("smoke-%d", i+1), tc.capture, m, factor))
				}
				rep, err := gate.Evaluate(spec, gate.Input{Runs: runs})
				if err != nil {
					t.Fatal(err)
				}
				if factor == 1 {
					for _, c := range rep.Failed() {
						t.Errorf("the measured runs fail %q on %s: %s (limit %s)", c.Rule.Text, c.Target, c.Observed, c.Limit)
					}
					continue
				}
				var failed []string
				for _, c := range rep.Failed() {
					if c.Rule.Kind == gate.Ratio && strings.HasPrefix(c.Target, tc.capture+"/") {
						failed = append(failed, c.Rule.Text)
					}
				}
				if len(failed) == 0 {
					t.Errorf("no ratio rule fails a %gx slower %s; failed: %+v", factor, tc.capture, rep.Failed())
				}
				t.Logf("a %gx slower %s fails %q", factor, tc.capture, failed)
			}
		})
	}
}
