package scenarios_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/scenarios"
)

// TestAgentCommandsInScenario checks a scenario's agent commands get their
// defaults and that each wrong field is named, with its line.
func TestAgentCommandsInScenario(t *testing.T) {
	const cmds = `
agent_commands:
  - name: py-outlier
    rule: outlier
    command: python3 outlier_agent.py
`
	s, err := scenarios.Parse("t.yaml", []byte(valid+cmds))
	if err != nil {
		t.Fatal(err)
	}
	a := s.AgentCommands[0]
	if a.Alerts != scenarios.AlertsLines || time.Duration(a.StartTimeout) != scenarios.DefaultAgentStartTimeout ||
		time.Duration(a.StopTimeout) != scenarios.DefaultAgentStopTimeout || a.OutputLimitMB != scenarios.DefaultAgentOutputMB {
		t.Errorf("defaults not applied: %+v", a)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"rule: outlier", "rule: fraud", `agent_commands[0].rule: must be one of`},
		{"name: py-outlier", "name: outlier", `agent_commands[0].name: "outlier" is a built-in agent's name`},
		{"name: py-outlier", "name: py outlier", `agent_commands[0].name: may hold only`},
		{"command: python3 outlier_agent.py", "command: ''", `agent_commands[0].command: required`},
		{"rule: outlier", "rule: outlier\n    alerts: stdout", `agent_commands[0].alerts: must be one of`},
		{"rule: outlier", "rule: outlier\n    alerts: fraud.alerts\n    pattern: x", `agent_commands[0].pattern: only agents observed by their output lines`},
		{"rule: outlier", "rule: outlier\n    output_limit_mb: -1", `agent_commands[0].output_limit_mb: must be at least 1`},
		{"rule: outlier", "rule: outlier\n    comand: x", `unknown field "agent_commands[0].comand"`},
	} {
		_, err := scenarios.Parse("t.yaml", []byte(valid+strings.Replace(cmds, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
}
