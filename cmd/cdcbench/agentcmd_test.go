package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
)

// writeAgents writes an --agent-commands file.
func writeAgents(t *testing.T, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "agents.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestRunAgentCommandFromAlerts benchmarks an agent command observed on
// fraud.alerts: `cdcbench agent` itself, started by the run as a user's
// agent would be, in the group the run hands it.
func TestRunAgentCommandFromAlerts(t *testing.T) {
	f := writeAgents(t, fmt.Sprintf(`agent_commands:
  - name: cmd-velocity
    rule: velocity
    alerts: fraud.alerts
    command: exec %s agent --agent velocity --name cmd-velocity --group "$KAFKA_GROUP_ID" --brokers "$KAFKA_BOOTSTRAP_SERVERS"
`, binary(t)))
	results := filepath.Join(t.TempDir(), "results")
	p := startCdcbench(t, []string{"TMPDIR=" + serverTempDir(t)}, "run", "--scenario", "smoke", "--duration", "3s", "--warmup", "1s",
		"--paths", "cdc", "--agent-commands", f, "--results", results)
	p.waitExit(t, 3*time.Minute)
	runs, _ := filepath.Glob(filepath.Join(results, "smoke-*"))
	if len(runs) != 1 {
		t.Fatalf("result dirs %v (exit %v)\nstderr:\n%s", runs, p.waitErr, lastLines(p.stderr.String(), 20))
	}
	res, err := result.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || p.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("valid %v %q, exit %v\nstderr:\n%s", res.Valid, res.InvalidReasons, p.waitErr, lastLines(p.stderr.String(), 20))
	}
	ext := res.Paths[0].ExternalAgents
	if len(ext) != 1 || ext[0].AgentCommand == nil || ext[0].Observed != "fraud.alerts" || ext[0].ExpectedAlerts == 0 ||
		ext[0].Alerts != ext[0].ExpectedAlerts || ext[0].MissedAlerts != 0 || ext[0].AlertMs.Count == 0 || ext[0].Reference == nil {
		t.Fatalf("external agents %+v", ext)
	}
	if out := p.stdout.String(); !strings.Contains(out, "cdc agent cmd-velocity (velocity rule, alerts from fraud.alerts)") || !strings.Contains(out, "it adds") {
		t.Errorf("summary lacks the agent and its comparison:\n%s", out)
	}
	if len(p.survivors()) != 0 {
		t.Errorf("survivors: %v", p.survivors())
	}
}

// TestRunAgentCommandsBadFile: a pattern without the groups a line is
// matched by, or a malformed file, is a usage error naming the agent
// before anything starts.
func TestRunAgentCommandsBadFile(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"no groups", `agent_commands:
  - {name: my-agent, rule: outlier, command: "python3 a.py", pattern: 'ANOMALY DETECTED: User (\d+) spent \$([0-9.]+)'}
`, `agent my-agent: pattern "ANOMALY DETECTED: User (\\d+) spent \\$([0-9.]+)" has no (?P<user_id>...) or (?P<amount>...) group`},
		{"no amount", `agent_commands:
  - {name: my-agent, rule: velocity, command: "python3 a.py", pattern: 'User (?P<user_id>\d+)'}
`, "agent my-agent: pattern"},
		{"unknown rule", `agent_commands:
  - {name: my-agent, rule: fraud, command: "python3 a.py"}
`, "agent_commands[0].rule"},
		{"no command", `agent_commands:
  - {name: my-agent, rule: outlier}
`, "agent_commands[0].command: required"},
		{"typo", `agent_commands:
  - {name: my-agent, rule: outlier, command: x, patern: y}
`, `unknown field "agent_commands[0].patern" (did you mean "agent_commands[0].pattern"?)`},
		{"built-in name", `agent_commands:
  - {name: outlier, rule: outlier, command: x}
`, "built-in agent's name"},
		{"only polling", `agent_commands:
  - {name: my-agent, rule: outlier, command: x}
`, "agent commands need a path that publishes to Kafka"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"run", "--agent-commands", writeAgents(t, tc.yaml), "--results", t.TempDir()}
			if tc.name == "only polling" {
				args = append(args, "--paths", "poll-100ms")
			}
			p := startCdcbench(t, nil, args...)
			p.waitExit(t, 30*time.Second)
			if code := p.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, p.stderr.String(), tc.want)
			}
			if strings.Contains(p.stderr.String(), "starting the stack") {
				t.Error("the stack was started for a plan that cannot run")
			}
		})
	}
}

// TestRunAgentCommandsKilled stops a run while the reference Python agents
// run: Ctrl-C (to cdcbench's process group; the agents have their own, as
// a terminal's Ctrl-C would not reach them) and SIGKILL of cdcbench, which
// cannot clean up: the kernel ends the agents (parent-death signal).
func TestRunAgentCommandsKilled(t *testing.T) {
	agents, err := filepath.Abs("../../agents/python/agents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(agents), ".venv/bin/python")); err != nil {
		t.Fatalf("the Python agents' venv is missing: run `make python-agents` (make test does): %v", err)
	}
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		group bool
	}{
		{"Ctrl-C", syscall.SIGINT, true},
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGKILL", syscall.SIGKILL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startCdcbench(t, []string{"TMPDIR=" + serverTempDir(t)}, "run", "--scenario", "smoke", "--paths", "cdc",
				"--agent-commands", agents, "--results", t.TempDir())
			if !eventually(2*time.Minute, func() bool { return p.exited() || strings.Contains(p.stderr.String(), "probe made the round trip") }) || p.exited() {
				t.Fatalf("the run never got to produce (exited %v)\nstderr:\n%s", p.exited(), p.stderr.String())
			}
			if !p.seen("python") {
				t.Fatalf("no python agent among cdcbench's children")
			}
			p.signal(t, tc.sig, tc.group)
			p.waitExit(t, time.Minute)
			if !eventually(20*time.Second, func() bool {
				for _, comm := range p.survivors() {
					if comm == "python" || comm == "sh" {
						return false
					}
				}
				return true
			}) {
				t.Errorf("agents outlived cdcbench: %v", p.survivors())
			}
		})
	}
}
