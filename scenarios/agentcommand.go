package scenarios

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
)

// AgentCommandSpec is a user's own fraud agent, benchmarked unmodified:
// cdcbench starts Command on every path that publishes to Kafka, with the
// stack's endpoints in its environment, waits until it joined its consumer
// group, observes its alerts and stops it at the end. Its alerts are judged
// against the built-in agent named by Rule, with the scenario's settings of
// that rule: an agent whose rule differs from both needs a built-in rule
// first, or its differences show up as missed and unexpected alerts.
type AgentCommandSpec struct {
	Name string `yaml:"name"` // its label in results; not "outlier" or "velocity"
	Rule string `yaml:"rule"` // "outlier" or "velocity": the oracle it is judged by
	// Command is run by /bin/sh -c in Dir.
	Command string            `yaml:"command"`
	Dir     string            `yaml:"dir,omitempty"`
	Env     map[string]string `yaml:"env,omitempty"`
	// Alerts says how its alerts are observed: AlertsLines (stdout and
	// stderr lines matching Pattern, the default) or AlertsTopic (records
	// on fraud.alerts whose "agent" field is Name).
	Alerts string `yaml:"alerts,omitempty"`
	// Pattern is a regular expression with named groups user_id and amount
	// (and id, if the agent prints it); the default is the seed's line of
	// the rule.
	Pattern string `yaml:"pattern,omitempty"`
	// Group is the consumer group the agent joins, when it ignores
	// KAFKA_GROUP_ID; the default is a new group per path that cdcbench
	// passes in KAFKA_GROUP_ID.
	Group        string   `yaml:"group,omitempty"`
	StartTimeout Duration `yaml:"start_timeout,omitempty"` // to join the group
	StopTimeout  Duration `yaml:"stop_timeout,omitempty"`  // from SIGTERM to SIGKILL
	// OutputLimitMB bounds what the agent may print: past it it is flooding
	// (and the matching would cost the run's CPU), is killed and the run is
	// invalid.
	OutputLimitMB int `yaml:"output_limit_mb,omitempty"`
}

// How an agent command's alerts are observed.
const (
	AlertsLines = "lines"
	AlertsTopic = "fraud.alerts"
)

// Agent command defaults, applied by ApplyDefaults.
const (
	DefaultAgentStartTimeout = 60 * time.Second // a JVM or Python consumer's first join takes seconds
	DefaultAgentStopTimeout  = 5 * time.Second
	DefaultAgentOutputMB     = 64
)

func (a *AgentCommandSpec) applyDefaults() {
	setString(&a.Alerts, AlertsLines)
	setDuration(&a.StartTimeout, DefaultAgentStartTimeout)
	setDuration(&a.StopTimeout, DefaultAgentStopTimeout)
	setInt(&a.OutputLimitMB, DefaultAgentOutputMB)
}

func (s Spec) validateAgentCommands(v *validator) {
	seen := map[string]int{}
	for i, a := range s.AgentCommands {
		field := fmt.Sprintf("agent_commands[%d]", i)
		switch {
		case a.Name == "":
			v.add(field+".name", "required")
		case !nameRE.MatchString(a.Name):
			v.add(field+".name", "may hold only letters, digits, '.', '_' and '-' (it names output files), got %q", a.Name)
		case a.Name == "outlier" || a.Name == "velocity":
			v.add(field+".name", "%q is a built-in agent's name; call yours something else", a.Name)
		}
		if j, dup := seen[a.Name]; dup && a.Name != "" {
			v.add(field+".name", "%q repeats agent_commands[%d]", a.Name, j)
		}
		seen[a.Name] = i
		v.oneOf(field+".rule", a.Rule, "outlier", "velocity")
		if strings.TrimSpace(a.Command) == "" {
			v.add(field+".command", "required: the command line that starts the agent")
		}
		if v.oneOf(field+".alerts", a.Alerts, AlertsLines, AlertsTopic) && a.Alerts == AlertsTopic && a.Pattern != "" {
			v.add(field+".pattern", "only agents observed by their output lines have a pattern")
		}
		v.positive(field+".start_timeout", a.StartTimeout)
		v.positive(field+".stop_timeout", a.StopTimeout)
		if a.OutputLimitMB < 1 {
			v.add(field+".output_limit_mb", "must be at least 1, got %d", a.OutputLimitMB)
		}
	}
}

// LoadAgentCommands reads a file holding only agent_commands, as
// --agent-commands takes it, as strictly as a scenario: every problem at
// once, each a *FieldError at its line. A relative dir, and an empty one,
// is taken from the file's directory, so the file works from any working
// directory.
func LoadAgentCommands(path string) ([]AgentCommandSpec, error) {
	data, err := inputfile.Read(path, MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("agent commands: %w", err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("agent commands: %w", err)
	}
	var doc struct {
		AgentCommands []AgentCommandSpec `yaml:"agent_commands"`
	}
	err = decodeFile(path, "agent commands", data, &doc, func() []error {
		for i := range doc.AgentCommands {
			a := &doc.AgentCommands[i]
			if !filepath.IsAbs(a.Dir) {
				a.Dir = filepath.Join(base, a.Dir)
			}
			a.applyDefaults()
		}
		s := Spec{AgentCommands: doc.AgentCommands}
		var v validator
		s.validateAgentCommands(&v)
		return v.errs
	})
	if err != nil {
		return nil, fmt.Errorf("agent commands: %w", err)
	}
	if len(doc.AgentCommands) == 0 {
		return nil, fmt.Errorf("agent commands: %s names no agent under agent_commands", path)
	}
	return doc.AgentCommands, nil
}
