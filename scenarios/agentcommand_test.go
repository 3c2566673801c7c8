package scenarios_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/scenarios"
)

// TestAgentCommandsInScenario checks a scenario's agent commands get their
// defaults and that each wrong field is named, with its line.
func TestAgentCommandsInScenario(t *testing.T) {
	t.Parallel()
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

// TestLoadAgentCommandsErrors: an --agent-commands file reports every
// problem at once at its line, as a scenario does: the decoder's and the
// validator's.
func TestLoadAgentCommandsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"a typo and a bad rule", "agent_commands:\n  - name: mine\n    rule: fraud\n    command: x\n    patern: y\n", []string{
			`agent commands: DIR/a.yaml:3: agent_commands[0].rule: must be one of "outlier", "velocity", got "fraud"`,
			`DIR/a.yaml:5: unknown field "agent_commands[0].patern" (did you mean "agent_commands[0].pattern"?)`,
		}},
		{"a duration without a unit", "agent_commands:\n  - {name: mine, rule: outlier, command: x, start_timeout: 5}\n", []string{
			`agent commands: DIR/a.yaml:2: agent_commands[0].start_timeout: want a duration with a unit such as "60s" or "1m30s", got an integer "5"`,
		}},
		{"a syntax error", "agent_commands:\n  - {name: mine\n", []string{
			`agent commands: DIR/a.yaml:2: did not find expected ',' or '}' at the end of the file, while parsing a flow mapping that starts at line 2, column 5`,
		}},
		{"empty", "# nothing yet\n", []string{`agent commands: DIR/a.yaml: empty agent commands file`}},
		{"no agents", "agent_commands: []\n", []string{`agent commands: DIR/a.yaml names no agent under agent_commands`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := scenarios.LoadAgentCommands(path)
			if err == nil {
				t.Fatal("loaded")
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), dir, "DIR"), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
