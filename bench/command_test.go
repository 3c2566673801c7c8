package bench_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// pythonAgents returns the reference Python agents' directory; `make test`
// has set up their virtual environment (make python-agents).
func pythonAgents(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../agents/python")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".venv/bin/python")); err != nil {
		t.Fatalf("the Python agents' venv is missing: run `make python-agents` (make test does): %v", err)
	}
	return dir
}

// assertNothingRunning checks no process of the run is left: every agent
// command and whatever it spawned carries the run id in its environment.
func assertNothingRunning(t *testing.T, runID string) {
	t.Helper()
	mark := []byte("CDCBENCH_RUN_ID=" + runID + "\x00")
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []string
		procs, _ := filepath.Glob("/proc/[0-9]*/environ")
		for _, f := range procs {
			if env, err := os.ReadFile(f); err == nil && bytes.Contains(env, mark) {
				cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "cmdline"))
				left = append(left, filepath.Base(filepath.Dir(f))+": "+strings.ReplaceAll(string(cmd), "\x00", " "))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of run %s left running: %v", runID, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func commandPlan(t *testing.T, specs ...scenarios.AgentCommandSpec) bench.Plan {
	t.Helper()
	p := plan(20, 2, 0, driver.Path{Kind: "cdc"})
	cmds, err := bench.NewAgentCommands(specs)
	if err != nil {
		t.Fatal(err)
	}
	p.AgentCommands = cmds
	// Two Python processes share the 2 cores with the producer (under
	// -race): these tests judge the agents, not the schedule.
	p.ScheduleTolerance = 5 * time.Second
	return p
}

// runValid runs p on st: the run must complete, be valid, and leave no
// process of it running.
func runValid(t *testing.T, st stack.Stack, p bench.Plan) (*result.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, dir, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { assertNothingRunning(t, res.RunID) })
	if !res.Valid {
		t.Fatalf("invalid: %v", res.InvalidReasons)
	}
	return res, dir
}

// TestAgentCommandsPython runs the reference Python agents (kafka-python)
// beside the built-in ones on the embedded stack: every alert the oracle
// expects must be matched from their output lines, each timed, and each
// compared with the built-in agent of its rule.
func TestAgentCommandsPython(t *testing.T) {
	testtier.Integration(t)
	pythonAgents(t)
	specs, err := scenarios.LoadAgentCommands("../agents/python/agents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := commandPlan(t, specs...)
	p.Duration = 3 * time.Second
	res, dir := runValid(t, startStack(t), p)
	ext := res.Paths[0].ExternalAgents
	if len(ext) != 2 {
		t.Fatalf("external agents %+v, want py-outlier and py-velocity", ext)
	}
	for _, e := range ext {
		if e.AgentCommand == nil || e.ExpectedAlerts == 0 || e.Alerts != e.ExpectedAlerts || e.MissedAlerts != 0 || e.UnexpectedAlerts != 0 || e.DuplicateAlerts != 0 {
			t.Errorf("%s: %+v", e.Name, e)
			continue
		}
		if e.AlertMs.Count == 0 || e.AlertMs.P50 <= 0 || e.AlertLines != e.Alerts || e.Exit != "stopped" || e.JoinMs <= 0 {
			t.Errorf("%s: alert latency %+v, alert lines %d, exit %q, join %.0f ms", e.Name, e.AlertMs, e.AlertLines, e.Exit, e.JoinMs)
		}
		if r := e.Reference; r == nil || r.Agent != e.Rule || r.AlertMs.Count == 0 || r.AddsP50Ms != e.AlertMs.P50-r.AlertMs.P50 {
			t.Errorf("%s: reference %+v", e.Name, r)
		}
		out, err := os.ReadFile(filepath.Join(dir, e.Output))
		if err != nil || !bytes.Contains(out, []byte(" stdout ")) {
			t.Errorf("%s: output %s: %v", e.Name, e.Output, err)
		}
		t.Logf("%s: %d of %d alerts, alert p50 %.1f ms p99 %.1f ms; built-in %s p50 %.1f ms p99 %.1f ms",
			e.Name, e.Alerts, e.ExpectedAlerts, e.AlertMs.P50, e.AlertMs.P99, e.Rule, e.Reference.AlertMs.P50, e.Reference.AlertMs.P99)
	}
	back, err := result.Read(dir)
	if err != nil || len(back.Paths[0].ExternalAgents) != 2 || back.Paths[0].ExternalAgents[0].AgentCommand == nil {
		t.Errorf("result.json does not round-trip the agent commands: %v", err)
	}
}

// TestAgentCommandsBadAgents runs agents that go wrong, each in a run of
// its own on one stack: the run must say which agent did what, quote its
// last output, be invalid (not fail: the agent's failure is a finding,
// and the run's next paths still run), and leave nothing running.
func TestAgentCommandsBadAgents(t *testing.T) {
	testtier.Integration(t)
	py := pythonAgents(t)
	const realAgent = "exec .venv/bin/python outlier_agent.py"
	plainAgent, err := filepath.Abs("testdata/plain_agent.py")
	if err != nil {
		t.Fatal(err)
	}
	spec := func(cmd string) scenarios.AgentCommandSpec {
		return scenarios.AgentCommandSpec{Name: "my-agent", Rule: "outlier", Command: cmd, Dir: py, Alerts: scenarios.AlertsLines,
			StartTimeout: scenarios.Duration(20 * time.Second), StopTimeout: scenarios.Duration(2 * time.Second), OutputLimitMB: 1}
	}
	for _, tc := range []struct {
		name   string
		spec   scenarios.AgentCommandSpec
		reason []string // the run completes, invalid for all of these
		poll   bool     // a polling path follows the cdc path, and must run
		check  func(t *testing.T, e result.ExternalAgentResult)
	}{
		{name: "crashes at start", spec: spec(`echo 'Traceback (most recent call last):' >&2; echo 'KeyError: KAFKA_BROKERS' >&2; exit 1`),
			reason: []string{"cdc: agent my-agent", "stopped on its own", "exit status 1", "KeyError: KAFKA_BROKERS"}, poll: true},
		{name: "command does not exist", spec: spec(`/nonexistent/python3 my_agent.py`),
			reason: []string{"agent my-agent", `command "/nonexistent/python3" not found`}},
		{name: "never joins", spec: func() scenarios.AgentCommandSpec {
			s := spec(`echo 'connecting to localhost:9092'; exec sleep 600`)
			s.StartTimeout = scenarios.Duration(3 * time.Second)
			return s
		}(), reason: []string{"agent my-agent did not join consumer group", "within 3s", "connecting to localhost:9092"}},
		{name: "floods stdout", spec: spec(`yes 'DEBUG polling' & ` + realAgent),
			reason: []string{"agent my-agent flooded its output", "DEBUG polling"}},
		{name: "prints garbage", spec: spec(`printf 'garbage \001\377\n'; echo 'ANOMALY DETECTED: User 1001 spent $1.2.3'; ` + realAgent),
			reason: []string{"agent my-agent: 0 alert lines denote no produced row, 0 could denote several, 1 do not parse"},
			check: func(t *testing.T, e result.ExternalAgentResult) {
				if e.MissedAlerts != 0 || e.Alerts != e.ExpectedAlerts || e.MalformedLines != 1 {
					t.Errorf("garbage: %+v", e)
				}
			}},
		{name: "alerts for a row that does not exist", spec: spec(`echo 'ANOMALY DETECTED: User 424242 spent $12.34 (Significantly higher than average)'; ` + realAgent),
			reason: []string{"agent my-agent: 1 alert lines denote no produced row"},
			check: func(t *testing.T, e result.ExternalAgentResult) {
				if e.MissedAlerts != 0 || e.Alerts != e.ExpectedAlerts || e.UnmatchedLines != 1 || e.UnexpectedAlerts != 0 {
					t.Errorf("ghost row: %+v", e)
				}
			}},
		// Five stray lines first, then every real alert 100 ms late: the
		// run must wait for the expected alerts, not for as many lines.
		{name: "stray lines and late alerts", spec: spec(`for i in 1 2 3 4 5; do echo "ANOMALY DETECTED: User 42424$i spent \$12.34"; done; ` +
			`.venv/bin/python outlier_agent.py | while IFS= read -r l; do sleep 0.1; echo "$l"; done`),
			reason: []string{"agent my-agent: 5 alert lines denote no produced row"},
			check: func(t *testing.T, e result.ExternalAgentResult) {
				if e.MissedAlerts != 0 || e.Alerts != e.ExpectedAlerts || e.UnmatchedLines != 5 {
					t.Errorf("stray lines: %+v", e)
				}
			}},
		// SIGKILL after the stop timeout: its group keeps a dead member,
		// which once ended the run (exit 3) instead of making it invalid.
		{name: "ignores SIGTERM", spec: spec(`trap '' TERM; exec .venv/bin/python ` + plainAgent),
			reason: []string{"agent my-agent did not exit within 2s of SIGTERM and was killed"}},
		{name: "hangs on exit", spec: spec(`trap '' TERM; .venv/bin/python outlier_agent.py; echo 'still cleaning up'; sleep 600`),
			reason: []string{"agent my-agent did not exit within 2s of SIGTERM and was killed", "still cleaning up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := startStack(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			p := commandPlan(t, tc.spec)
			if tc.poll {
				p.Paths = append(p.Paths, driver.Path{Kind: "poll", Param: "100ms"})
			}
			res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir()})
			if res == nil {
				t.Fatalf("no result: %v", err)
			}
			defer assertNothingRunning(t, res.RunID)
			t.Logf("run error: %v\ninvalid: %s", err, strings.Join(res.InvalidReasons, "\n  "))
			if res.Valid {
				t.Fatal("run valid")
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if tc.poll && (len(res.Paths) != 2 || len(res.Paths[1].Agents) != 2 || res.Paths[1].Agents[0].Events == 0) {
				t.Errorf("the polling path did not run after the agent's failure: %+v", res.Paths)
			}
			all := strings.Join(res.InvalidReasons, "\n")
			for _, w := range tc.reason {
				if !strings.Contains(all, w) {
					t.Errorf("invalid reasons lack %q:\n%s", w, all)
				}
			}
			if tc.check != nil {
				tc.check(t, res.Paths[0].ExternalAgents[0])
			}
		})
	}
}

// TestAgentCommandWithoutSignalHandling runs the smallest agent a user
// writes (testdata/plain_agent.py: kafka-python, no SIGTERM handler) on a
// cdc path followed by a polling path. SIGTERM ends it without leaving its
// consumer group, whose member the broker keeps until the session timeout:
// the run must still be valid, run the polling path, match every alert,
// and leave none of its consumer groups on the broker. The report charts
// the agent beside the built-in ones.
func TestAgentCommandWithoutSignalHandling(t *testing.T) {
	testtier.Integration(t)
	py := pythonAgents(t)
	script, err := filepath.Abs("testdata/plain_agent.py")
	if err != nil {
		t.Fatal(err)
	}
	st := startStack(t)
	p := commandPlan(t, scenarios.AgentCommandSpec{Name: "my-outlier", Rule: "outlier", Command: ".venv/bin/python " + script, Dir: py,
		Alerts: scenarios.AlertsLines, StartTimeout: scenarios.Duration(30 * time.Second), StopTimeout: scenarios.Duration(5 * time.Second), OutputLimitMB: 1})
	p.Paths = append(p.Paths, driver.Path{Kind: "poll", Param: "100ms"})
	p.Slices = []bench.Slice{{From: 0, To: time.Second}, {From: time.Second, To: 3 * time.Second}}
	res, dir := runValid(t, st, p)
	if sl := res.Paths[0].Slices; len(sl) != 2 || sl[1].CommandAlerts["my-outlier"].Count == 0 || sl[1].E2E["my-outlier"].Count != 0 {
		t.Errorf("the agent's alerts in the measured slice: %+v", sl)
	}
	out := filepath.Join(t.TempDir(), "report.md")
	if err := reports.Write([]string{dir}, out); err != nil {
		t.Fatal(err)
	}
	for _, chart := range []string{"percentiles", "latency-cdc"} {
		svgs, _ := filepath.Glob(filepath.Join(reports.FilesDir(out), "*-"+chart+".svg"))
		if len(svgs) != 1 {
			t.Fatalf("%s chart: %v", chart, svgs)
		}
		if svg, err := os.ReadFile(svgs[0]); err != nil || !bytes.Contains(svg, []byte("my-outlier (alerts)")) {
			t.Errorf("%s chart has no series of my-outlier (%v)", chart, err)
		}
	}
	if len(res.Paths) != 2 || len(res.Paths[1].Agents) != 2 || res.Paths[1].Agents[0].Events == 0 {
		t.Fatalf("the polling path did not run: %+v", res.Paths)
	}
	ext := res.Paths[0].ExternalAgents
	if len(ext) != 1 || ext[0].ExpectedAlerts == 0 || ext[0].Alerts != ext[0].ExpectedAlerts || ext[0].Exit != "stopped" {
		t.Fatalf("agent: %+v", ext)
	}
	adm, err := stack.NewAdmin(st.Brokers())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	groups, err := adm.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups() {
		if strings.Contains(g, res.RunID) {
			t.Errorf("group %s left on the broker", g)
		}
	}
}
