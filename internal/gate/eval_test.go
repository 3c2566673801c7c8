package gate_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/result"
)

// rows renders checks compactly: target | observed | limit | p | verdict.
func rows(rep *gate.Report) []string {
	out := make([]string, len(rep.Checks))
	for i, c := range rep.Checks {
		p := "-"
		if !math.IsNaN(c.P) {
			p = fmt.Sprintf("%.4f", c.P)
		}
		v := c.Verdict.String()
		if c.Note != "" {
			v += " " + c.Note
		}
		out[i] = strings.Join([]string{c.Target, c.Observed, c.Limit, p, v}, " | ")
	}
	return out
}

func TestEvaluate(t *testing.T) {
	missed := runs("r", 4, 4, 4)
	missed[1].Paths[0].Agents[1].MissedAlerts = 2
	invalid := runs("r", 4, 4)
	invalid[1].Valid, invalid[1].InvalidReasons = false, []string{"velocity: 2 of 120 expected alerts missing"}
	nothing := runs("r", 4)
	nothing[0].Valid, nothing[0].InvalidReasons = false, []string{"cdc: outlier: no rows measured (0 produced)"}
	for i := range nothing[0].Paths[0].Agents {
		nothing[0].Paths[0].Agents[i].Stages = nil
	}
	// An agent's failure stopped the run after its cdc path: poll-100ms
	// never ran.
	aborted := runs("r", 4)
	aborted[0].Valid, aborted[0].InvalidReasons = false, []string{"cdc: agent my-outlier stopped on its own after 2s: exit status 1"}
	aborted[0].Paths = aborted[0].Paths[:1]
	own := withCommand("r-1")

	tests := []struct {
		name     string
		rule     string
		runs     []gate.Run
		baseline []gate.Run
		want     []string
		pass     bool
	}{
		{"absolute latency pass", "cdc/velocity e2e p99 < 250ms", runs("r", 4), nil,
			[]string{"cdc/velocity | 16.0 ms | < 250 ms | - | pass"}, true},
		{"absolute latency fail", "cdc/velocity e2e p99 < 250ms", runs("r", 70), nil,
			[]string{"cdc/velocity | 280 ms | < 250 ms | - | FAIL"}, false},
		{"absolute latency takes the median of runs", "cdc/outlier e2e p50 < 10ms", runs("r", 4, 100, 5), nil,
			[]string{"cdc/outlier | 5.00 ms | < 10 ms | - | pass median of 3 runs"}, true},
		{"a path alone means each agent", "poll-100ms e2e p50 <= 50ms", runs("r", 4), nil,
			[]string{"poll-100ms/outlier | 50.0 ms | <= 50 ms | - | pass", "poll-100ms/velocity | 50.0 ms | <= 50 ms | - | pass"}, true},
		{"counts hold in every run", "cdc/* missed_alerts == 0", missed, nil,
			[]string{"cdc/outlier | 0 | == 0 | - | pass", "cdc/velocity | 0, 2, 0 | == 0 | - | FAIL run r-2"}, false},
		{"counts without a selector cover every path", "events_missing == 0", runs("r", 4), nil,
			[]string{"cdc/outlier | 0 | == 0 | - | pass", "cdc/velocity | 0 | == 0 | - | pass",
				"poll-100ms/outlier | 0 | == 0 | - | pass", "poll-100ms/velocity | 0 | == 0 | - | pass"}, true},
		{"valid pass", "valid", runs("r", 4, 4), nil, []string{"2 runs | valid | valid | - | pass"}, true},
		{"valid fail", "valid", invalid, nil,
			[]string{"2 runs | 1 of 2 invalid | valid | - | FAIL r-2: velocity: 2 of 120 expected alerts missing"}, false},
		{"in-run ratio pass", "cdc e2e p50 <= 0.25 x poll-100ms e2e p50", runs("r", 4), nil,
			[]string{"cdc/outlier | 0.0800x (4.00 ms / 50.0 ms) | <= 0.25x poll-100ms/outlier e2e p50 | - | pass",
				"cdc/velocity | 0.0800x (4.00 ms / 50.0 ms) | <= 0.25x poll-100ms/velocity e2e p50 | - | pass"}, true},
		{"in-run ratio fail (5x slower CDC)", "cdc/outlier e2e p50 <= 0.25 x poll-100ms e2e p50", runs("r", 20), nil,
			[]string{"cdc/outlier | 0.400x (20.0 ms / 50.0 ms) | <= 0.25x poll-100ms/outlier e2e p50 | - | FAIL"}, false},
		{"in-run ratio takes the median of the runs' ratios", "cdc/outlier e2e p50 <= 0.25 x poll-100ms/velocity e2e p50", runs("r", 4, 30, 5), nil,
			[]string{"cdc/outlier | 0.100x (5.00 ms / 50.0 ms) | <= 0.25x poll-100ms/velocity e2e p50 | - | pass median of 3 runs"}, true},
		{"relative: significant regression fails", "cdc/outlier e2e p50 <= 1.2 x baseline",
			runs("r", 6.1, 5.9, 6.0, 6.2, 6.3), runs("b", 4.0, 4.1, 3.9, 4.2, 4.05),
			[]string{"cdc/outlier | 6.10 ms (1.51x) | <= 1.2x baseline (4.86 ms) | 0.0079 | FAIL over the limit, significant (p < 0.05)"}, false},
		{"relative: within the limit passes", "cdc/outlier e2e p50 <= 1.2 x baseline",
			runs("r", 4.3, 4.4, 4.2, 4.5, 4.35), runs("b", 4.0, 4.1, 3.9, 4.2, 4.05),
			[]string{"cdc/outlier | 4.35 ms (1.07x) | <= 1.2x baseline (4.86 ms) | 0.0159 | pass"}, true},
		{"relative: over the limit but noise", "cdc/outlier e2e p50 <= 1.2 x baseline",
			runs("r", 3.8, 8, 9, 9.5, 4.1), runs("b", 3.9, 4.0, 4.05, 4.1, 4.2),
			[]string{"cdc/outlier | 8.00 ms (1.98x) | <= 1.2x baseline (4.86 ms) | 0.2540 | unconfirmed over the limit, not significant (p >= 0.05)"}, true},
		{"relative: 3+3 runs cannot be significant", "cdc/outlier e2e p50 <= 1.2 x baseline",
			runs("r", 6, 6.1, 6.2), runs("b", 4, 4.1, 4.2),
			[]string{"cdc/outlier | 6.10 ms (1.49x) | <= 1.2x baseline (4.92 ms) | 0.1000 | unconfirmed over the limit, not significant: 3+3 runs cannot reach p < 0.05"}, true},
		{"relative: one run over the limit", "cdc/outlier e2e p50 <= 1.2 x baseline", runs("r", 20), runs("b", 4, 4.1, 4.2),
			[]string{"cdc/outlier | 20.0 ms (4.88x) | <= 1.2x baseline (4.92 ms) | 0.5000 | unconfirmed (1 run): over the limit; repeat the runs to test the change"}, true},
		{"relative: one run within the limit", "cdc/outlier e2e p50 <= 1.2 x baseline", runs("r", 4.1), runs("b", 4, 4.1, 4.2),
			[]string{"cdc/outlier | 4.10 ms (1.00x) | <= 1.2x baseline (4.92 ms) | 1.0000 | pass unconfirmed (1 run)"}, true},
		{"relative: skipped without a baseline", "cdc e2e p50 <= 1.2 x baseline", runs("r", 4), nil,
			[]string{"cdc/* |  | <= 1.2x baseline | - | skipped no baseline given"}, true},
		{"relative counts", "cdc/velocity alerts >= 0.9 x baseline", runs("r", 4, 4, 4, 4), runs("b", 4, 4, 4, 4),
			[]string{"cdc/velocity | 120 (1.00x) | >= 0.9x baseline (108) | 1.0000 | pass"}, true},
		{"a wildcard path skips agents without the stage", "stages.commit_event p99 < 10ms", runs("r", 4), nil,
			[]string{"cdc/outlier | 4.00 ms | < 10 ms | - | pass", "cdc/velocity | 4.00 ms | < 10 ms | - | pass"}, true},
		{"stage latency", "cdc/outlier stages.commit_receive p50 < 20ms", runs("r", 4), nil,
			[]string{"cdc/outlier | 2.00 ms | < 20 ms | - | pass"}, true},
		{"an empty histogram fails", "cdc/outlier stages.alert p99 < 1s", runs("r", 4), nil,
			[]string{"cdc/outlier | no samples | < 1000 ms | - | FAIL no samples of stages.alert p99 on cdc/outlier in run r-1"}, false},
		{"an aborted run without the ratio's path fails", "cdc e2e p50 <= 0.15 x poll-100ms e2e p99", aborted, nil,
			[]string{"cdc/outlier | missing | <= 0.15x poll-100ms e2e p99 | - | FAIL run r-1 has no agent outlier on path poll-100ms",
				"cdc/velocity | missing | <= 0.15x poll-100ms e2e p99 | - | FAIL run r-1 has no agent velocity on path poll-100ms"}, false},
		{"an aborted run without the path fails", "poll-100ms e2e p99 < 1s", aborted, nil,
			[]string{"poll-100ms/* | missing | < 1000 ms | - | FAIL no path/agent with e2e p99 in run r-1 (it has cdc/outlier, cdc/velocity)"}, false},
		{"an agent command by name", "cdc/my-outlier missed_alerts == 0", own, nil,
			[]string{"cdc/my-outlier | 0 | == 0 | - | pass"}, true},
		{"an agent command's alert latency", "cdc/my-outlier stages.alert p99 < 100ms", own, nil,
			[]string{"cdc/my-outlier | 60.0 ms | < 100 ms | - | pass"}, true},
		{"counts cover agent commands", "cdc missed_alerts == 0", own, nil,
			[]string{"cdc/outlier | 0 | == 0 | - | pass", "cdc/velocity | 0 | == 0 | - | pass", "cdc/my-outlier | 0 | == 0 | - | pass"}, true},
		{"a wildcard agent skips what agent commands do not have", "cdc e2e p50 <= 8 x cdc stages.commit_receive p50", own, nil,
			[]string{"cdc/outlier | 2.00x (4.00 ms / 2.00 ms) | <= 8x cdc/outlier stages.commit_receive p50 | - | pass",
				"cdc/velocity | 2.00x (4.00 ms / 2.00 ms) | <= 8x cdc/velocity stages.commit_receive p50 | - | pass"}, true},
		// A run that measured no row has no stages: it fails the gate
		// rather than making the rule bad input.
		{"an invalid run without the stage fails", "cdc/outlier stages.commit_receive p50 < 20ms", nothing, nil,
			[]string{`cdc/outlier | no samples | < 20 ms | - | FAIL no such stage "commit_receive" on cdc/outlier in run r-1 (it has )`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(t, tt.runs, tt.baseline)
			rules := []string{"valid", tt.rule}
			if tt.rule == "valid" {
				rules = rules[1:]
			}
			rep, err := gate.Evaluate(mustParse(t, rules...), in)
			if err != nil {
				t.Fatal(err)
			}
			got := rows(rep)[len(rules)-1:] // without the leading valid rule
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("checks\n got %q\nwant %q", got, tt.want)
			}
			if rep.Passed() != tt.pass {
				t.Errorf("Passed() = %v, want %v (failed: %v)", rep.Passed(), tt.pass, rep.Failed())
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	other := runs("o", 4)
	other[0].Scenario = "burst"
	lacking := runs("r", 4, 4)
	lacking[1].Paths = lacking[1].Paths[:1]
	foreign := runs("b", 4, 4, 4)
	for i := range foreign {
		foreign[i].Machine = result.Machine{Hostname: "laptop", CPU: "Apple M3", Cores: 8, MemoryMB: 16384}
	}
	burstBase := runs("b", 4)
	burstBase[0].Scenario = "burst"

	tests := []struct {
		name     string
		rule     string
		runs     []gate.Run
		baseline []gate.Run
		want     string
		is       error
	}{
		{"no runs", "valid", nil, nil, "gate: no runs", gate.ErrNoRuns},
		{"unknown path", "poll-1s e2e p50 < 1s", runs("r", 4), nil,
			"gate: ci.yaml:4: poll-1s e2e p50 < 1s: poll-1s/* matches no path/agent with e2e p50 in run r-1 (it has cdc/outlier, cdc/velocity, poll-100ms/outlier, poll-100ms/velocity)", nil},
		{"unknown agent", "cdc/fraud e2e p50 < 1s", runs("r", 4), nil,
			"gate: ci.yaml:4: cdc/fraud e2e p50 < 1s: cdc/fraud matches no path/agent with e2e p50 in run r-1 (it has cdc/outlier, cdc/velocity, poll-100ms/outlier, poll-100ms/velocity)", nil},
		{"a named path without the stage", "poll-100ms/outlier stages.commit_event p50 < 1s", runs("r", 4), nil,
			`gate: ci.yaml:4: poll-100ms/outlier stages.commit_event p50 < 1s: no such stage "commit_event" on poll-100ms/outlier in run r-1 (it has alert, commit_receive)`, nil},
		{"ratio to a missing path", "cdc e2e p50 < 0.5 x poll-1s e2e p50", runs("r", 4), nil,
			"gate: ci.yaml:4: cdc e2e p50 < 0.5 x poll-1s e2e p50: run r-1 has no agent outlier on path poll-1s", nil},
		{"what an agent command does not have", "cdc/my-outlier e2e p99 < 1s", withCommand("r-1"), nil,
			"gate: ci.yaml:4: cdc/my-outlier e2e p99 < 1s: not measured: my-outlier on cdc is an agent command, whose alerts are all cdcbench sees of it: it has alerts, expected_alerts, missed_alerts, unexpected_alerts, stages.alert, not e2e", nil},
		{"a later run lacks a path", "e2e p50 < 1s", lacking, nil,
			"gate: ci.yaml:4: e2e p50 < 1s: run r-2 has no agent outlier on path poll-100ms", nil},
		{"runs of two scenarios", "valid", append(runs("r", 4), other...), nil,
			`gate: runs of scenarios "smoke" (r-1) and "burst" (o-1); gate one scenario at a time`, nil},
		{"baseline of another scenario", "valid", runs("r", 4), burstBase, `gate: baseline baseline.json is of scenario "burst", the runs of "smoke"`, nil},
		{"baseline of another machine", "valid", runs("r", 4), foreign,
			"gate: the baseline was recorded on another machine: baseline baseline.json was recorded on laptop (Apple M3, 8 cores, 16384 MB); the runs ran on ci-1 (Test CPU @ 2.0GHz, 2 cores, 8000 MB); record a baseline on this machine or allow a foreign one",
			gate.ErrForeignBaseline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(t, tt.runs, tt.baseline)
			_, err := gate.Evaluate(mustParse(t, "valid", tt.rule), in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err\n got %v\nwant %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err is not %v", tt.is)
			}
		})
	}
}

func TestEvaluateForeignBaselineAllowed(t *testing.T) {
	base := runs("b", 4, 4, 4)
	for i := range base {
		base[i].Machine.CPU = "Other CPU"
	}
	b, err := gate.NewBaseline(base, testTime)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := gate.Evaluate(mustParse(t, "cdc/outlier e2e p50 <= 1.2 x baseline"), gate.Input{
		Runs: runs("r", 4), Baseline: b, BaselineName: "base.json", AllowForeignBaseline: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "baseline base.json was recorded on ci-1 (Other CPU, 2 cores, 8000 MB); the runs ran on ci-1 (Test CPU @ 2.0GHz, 2 cores, 8000 MB): relative rules compare different machines"
	if len(rep.Warnings) != 1 || rep.Warnings[0] != want {
		t.Errorf("warnings = %q, want %q", rep.Warnings, want)
	}
}

// input gates runs, against a baseline made of baseline's runs when given.
func input(t *testing.T, runs, baseline []gate.Run) gate.Input {
	t.Helper()
	in := gate.Input{Runs: runs}
	if baseline != nil {
		b, err := gate.NewBaseline(baseline, testTime)
		if err != nil {
			t.Fatal(err)
		}
		in.Baseline, in.BaselineName = b, "baseline.json"
	}
	return in
}
