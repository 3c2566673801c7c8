package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcbench/cdcbench/internal/extagent"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/wait"
	"github.com/cdcbench/cdcbench/scenarios"
)

// LineClock names the clock alert lines are timed on.
const LineClock = "cdcbench: arrival of the alert line on the agent's stdout or stderr pipe minus the row's intended send time"

// AgentCommand is a user's agent as the plan holds it: the scenario's
// spec, its alert pattern compiled (nil when its alerts are read from
// fraud.alerts).
type AgentCommand struct {
	scenarios.AgentCommandSpec
	Pattern *extagent.Pattern
}

// NewAgentCommands compiles a scenario's agent commands; a pattern that
// cannot match a row fails the plan, before anything starts.
func NewAgentCommands(specs []scenarios.AgentCommandSpec) ([]AgentCommand, error) {
	var out []AgentCommand
	var errs []error
	for _, s := range specs {
		c := AgentCommand{AgentCommandSpec: s}
		if s.Alerts == scenarios.AlertsLines {
			expr := s.Pattern
			if expr == "" {
				expr = map[string]string{"outlier": extagent.OutlierPattern, "velocity": extagent.VelocityPattern}[s.Rule]
			}
			pat, err := extagent.CompilePattern(expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("agent %s: %w", s.Name, err))
				continue
			}
			c.Pattern = pat
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// agentFailure is a path ended by the user's agent (it crashed, never
// joined its group, flooded its output, could not be started): a finding
// about the agent, which makes the path invalid and lets the run go on
// with its next paths, not a run cdcbench could not carry out.
type agentFailure struct{ err error }

func (e agentFailure) Error() string { return e.err.Error() }
func (e agentFailure) Unwrap() error { return e.err }

// byAgent marks err as the agent's doing, unless it is a cancellation.
func byAgent(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return agentFailure{err}
}

// commands are a path's agent commands.
type commands struct {
	adm  *kadm.Client
	runs []*commandRun
}

// commandRun is one agent command on one path.
type commandRun struct {
	cmd     AgentCommand
	group   string
	output  string // file name in the result directory
	proc    *extagent.Process
	started time.Time
	joinMs  float64
	// ownGroup is set when cdcbench named the group (the spec names none),
	// which makes the group cdcbench's to delete.
	ownGroup bool

	mu        sync.Mutex
	timed     []extagent.TimedAlert // the matched alerts, once collected
	lines     []extagent.LineAlert
	malformed int64
	exit      string
	stopErr   error
}

// line parses one output line of the agent, on its pipe's reader.
func (c *commandRun) line(s string, arrivalNs int64) {
	if c.cmd.Pattern == nil {
		return
	}
	a, err := c.cmd.Pattern.Parse(s, arrivalNs)
	if errors.Is(err, extagent.ErrNotAlert) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.malformed++
		return
	}
	c.lines = append(c.lines, a)
}

func (c *commandRun) alertLines() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// expectedMatched counts the expected alerts the agent's lines so far
// denote. The producer has stopped, so truth is complete.
func (c *commandRun) expectedMatched(truth *extagent.Truth, expected *idSet, measureFromUs int64) int64 {
	c.mu.Lock()
	lines := append([]extagent.LineAlert(nil), c.lines...)
	c.mu.Unlock()
	var n int64
	for _, id := range truth.Match(lines, expected.has, measureFromUs).IDs {
		if expected.has(id) {
			n++
		}
	}
	return n
}

// startCommands starts the plan's agent commands on a path that publishes
// to Kafka and returns once each has joined its consumer group; their
// stop is registered first, so that no exit path leaves one running.
func (p *pathRun) startCommands(ctx context.Context) error {
	if len(p.plan.AgentCommands) == 0 {
		return nil
	}
	if !p.traits.Publishes {
		p.r.logf("path %s: agent commands run only on paths that publish to Kafka; not here", p.spec)
		return nil
	}
	adm, err := stack.NewAdmin(p.r.cfg.Stack.Brokers())
	if err != nil {
		return err
	}
	p.cmds = &commands{adm: adm}
	p.onCleanup(func(context.Context) error { adm.Close(); return nil })
	p.onCleanup(func(ctx context.Context) error {
		p.stopCommands()
		p.deleteCommandGroups(ctx)
		return nil
	})
	for _, c := range p.plan.AgentCommands {
		cr, err := p.startCommand(ctx, c)
		if err != nil {
			return err
		}
		p.cmds.runs = append(p.cmds.runs, cr)
	}
	for _, cr := range p.cmds.runs {
		if err := extagent.WaitJoined(ctx, adm, cr.group, stack.ChangeTopic, cr.proc, time.Duration(cr.cmd.StartTimeout)); err != nil {
			return byAgent(err)
		}
		cr.joinMs = ms(time.Since(cr.started))
		p.r.logf("path %s: agent %s joined group %s in %.0f ms", p.spec, cr.cmd.Name, cr.group, cr.joinMs)
		go func() {
			// An agent that dies mid-run ends the path: its alerts from then
			// on would be counted as missed, for a reason nobody would see.
			<-cr.proc.Exited()
			if err := cr.proc.Err(); err != nil {
				p.fail(agentFailure{err})
			}
		}()
	}
	return nil
}

// startCommand starts one agent, its group positioned at the topic's end.
func (p *pathRun) startCommand(ctx context.Context, c AgentCommand) (*commandRun, error) {
	cr := &commandRun{cmd: c, group: c.Group, output: fmt.Sprintf("%s.%s.output.log", p.spec, c.Name)}
	if cr.group == "" {
		// Not under the driver's prefix (cdcbench-<run>-<path>-), whose
		// groups must be empty when it deletes them: this one is deleted
		// by deleteCommandGroups, or left behind with a word.
		cr.group = "cdcbench-" + p.r.id + "-" + p.spec.String() + "." + c.Name
		cr.ownGroup = true
	}
	if err := extagent.StartAtEnd(ctx, p.cmds.adm, cr.group, stack.ChangeTopic); err != nil {
		return nil, fmt.Errorf("agent %s: %w", c.Name, err)
	}
	f, err := os.Create(filepath.Join(p.r.dir, cr.output))
	if err != nil {
		return nil, fmt.Errorf("agent %s: output file: %w", c.Name, err)
	}
	p.onCleanup(func(context.Context) error { return f.Close() })
	cr.started = time.Now()
	cr.proc, err = extagent.Start(extagent.ProcessConfig{
		Name: c.Name, Command: c.Command, Dir: c.Dir, Env: p.commandEnv(cr), Log: f, Line: cr.line,
		OutputLimit: int64(c.OutputLimitMB) << 20,
	})
	if err != nil {
		return nil, agentFailure{err}
	}
	p.r.logf("path %s: started agent %s (pid %d): %s", p.spec, c.Name, cr.proc.PID(), c.Command)
	return cr, nil
}

// commandEnv is the agent's environment: cdcbench's, then the stack's
// endpoints under the names the seed's agents read, then the spec's own.
// AUTO_OFFSET_RESET is earliest, but the group's start offsets are
// committed before the agent joins, so it starts at the path's first row
// either way. PYTHONUNBUFFERED makes a Python agent's print reach the pipe
// at once, as it reaches a terminal: block-buffered output would be timed
// by the buffer, not by the agent.
func (p *pathRun) commandEnv(cr *commandRun) []string {
	env := append(os.Environ(),
		"KAFKA_BOOTSTRAP_SERVERS="+strings.Join(p.r.cfg.Stack.Brokers(), ","),
		"KAFKA_TOPIC="+stack.ChangeTopic,
		"KAFKA_GROUP_ID="+cr.group,
		"AUTO_OFFSET_RESET=earliest",
		"ALERT_TOPIC="+stack.AlertTopic,
		"PYTHONUNBUFFERED=1",
		"CDCBENCH_AGENT="+cr.cmd.Name,
		"CDCBENCH_RULE="+cr.cmd.Rule,
		"CDCBENCH_RUN_ID="+p.r.id,
	)
	for k, v := range cr.cmd.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// waitCommands waits until every agent command printed every alert the
// oracle expects of its rule (or published as many), or the deadline. A
// line that denotes no expected row does not count: a stray or wrong line
// ended the wait before the last expected alert arrived, which was then
// reported missed.
func (p *pathRun) waitCommands(ctx context.Context, deadline time.Time) error {
	if p.cmds == nil {
		return nil
	}
	err := wait.Until(ctx, deadline, 50*time.Millisecond, func() (bool, error) {
		for _, cr := range p.cmds.runs {
			expected := p.expected(agentIndex(cr.cmd.Rule))
			got := int64(cr.alertLines())
			if cr.cmd.Pattern == nil && p.coll != nil {
				got = int64(p.coll.received(cr.cmd.Name))
			} else if got >= expected.len() {
				got = cr.expectedMatched(p.orc.truth, expected, p.measureFrom.UnixMicro())
			}
			if got < expected.len() {
				return false, p.failed()
			}
		}
		return true, nil
	})
	if errors.Is(err, wait.ErrDeadline) {
		return nil // what is missing is reported as missed alerts
	}
	return err
}

// stopCommands stops every agent command (SIGTERM, then SIGKILL) and
// records how each ended. Calling it again does nothing.
func (p *pathRun) stopCommands() {
	if p.cmds == nil {
		return
	}
	var wg sync.WaitGroup
	for _, cr := range p.cmds.runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ownErr := error(nil)
			select {
			case <-cr.proc.Exited():
				ownErr = cr.proc.Err()
			default:
			}
			err := cr.proc.Stop(time.Duration(cr.cmd.StopTimeout))
			cr.mu.Lock()
			defer cr.mu.Unlock()
			if cr.exit != "" {
				return
			}
			switch {
			case ownErr != nil:
				cr.exit, cr.stopErr = ownErr.Error(), ownErr
			case err != nil:
				cr.exit, cr.stopErr = err.Error(), err
			default:
				cr.exit = "stopped"
			}
			if lerr := cr.proc.LogErr(); lerr != nil && cr.stopErr == nil {
				cr.stopErr = fmt.Errorf("agent %s: writing its output to %s: %w", cr.cmd.Name, cr.output, lerr)
			}
		}()
	}
	wg.Wait()
}

// deleteCommandGroups deletes the groups cdcbench named for its agent
// commands, once they were stopped. An agent that SIGTERM ended without
// leaving its group (Python's default) left a member the broker keeps for
// its session timeout: it is removed, since its process is gone. A group
// that still cannot be deleted is left on the broker, which the log says:
// it costs nothing but its name, and the figures are the agent's all the
// same, so the run stays valid and its next paths run.
func (p *pathRun) deleteCommandGroups(ctx context.Context) {
	for _, cr := range p.cmds.runs {
		if !cr.ownGroup {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := stack.DeleteAbandonedGroup(dctx, p.r.cfg.Stack.Brokers(), cr.group)
		cancel()
		if err != nil {
			p.r.logf("path %s: agent %s: its consumer group %s is left on the broker, which expires it: %v", p.spec, cr.cmd.Name, cr.group, err)
		}
	}
}

// collectCommands judges the agent commands' alerts against the oracle of
// their rules and compares every external agent with the built-in agent of
// its rule.
func (p *pathRun) collectCommands() {
	if p.cmds != nil {
		for _, cr := range p.cmds.runs {
			p.res.ExternalAgents = append(p.res.ExternalAgents, p.commandResult(cr))
		}
		for _, e := range p.res.ExternalAgents {
			if e.AgentCommand != nil {
				p.res.InvalidReasons = append(p.res.InvalidReasons, commandProblems(e)...)
			}
		}
	}
	for i := range p.res.ExternalAgents {
		e := &p.res.ExternalAgents[i]
		rule := e.Name
		if e.AgentCommand != nil {
			rule = e.Rule
		}
		for _, a := range p.res.Agents {
			if a.Name == rule {
				ref := a.Stages[recorder.Alert.String()]
				e.Reference = &result.Reference{Agent: rule, AlertMs: ref}
				if ref.Count > 0 && e.AlertMs.Count > 0 {
					e.Reference.AddsP50Ms, e.Reference.AddsP99Ms = e.AlertMs.P50-ref.P50, e.AlertMs.P99-ref.P99
				}
			}
		}
	}
}

// commandResult is one agent command's figures. An agent observed on
// fraud.alerts was collected with the `cdcbench agent` processes; its
// result is taken from there and given its command's details.
func (p *pathRun) commandResult(cr *commandRun) result.ExternalAgentResult {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	info := &result.AgentCommand{Command: cr.cmd.Command, Rule: cr.cmd.Rule, Observed: cr.cmd.Alerts, Group: cr.group,
		Output: cr.output, OutputLines: cr.proc.Lines(), JoinMs: cr.joinMs, CPUSeconds: cr.proc.CPU().Seconds(), Exit: cr.exit}
	expected := p.expected(agentIndex(cr.cmd.Rule))
	if cr.cmd.Pattern == nil {
		if p.coll != nil {
			for _, e := range p.coll.results(map[string]*idSet{cr.cmd.Name: expected}) {
				if e.Name == cr.cmd.Name {
					e.AgentCommand = info
					return e
				}
			}
		}
		return result.ExternalAgentResult{Name: cr.cmd.Name, AgentCommand: info, Clock: CollectorClock}
	}
	info.Pattern = cr.cmd.Pattern.String()
	m := p.orc.truth.Match(cr.lines, expected.has, p.measureFrom.UnixMicro())
	cr.timed = m.Timed
	var got idSet
	for _, id := range m.IDs {
		got.add(id)
	}
	d := diffAlerts(expected, &got)
	info.AlertLines, info.UnmatchedLines, info.AmbiguousLines, info.MalformedLines = int64(len(cr.lines)), m.Unmatched, m.Ambiguous, cr.malformed
	return result.ExternalAgentResult{Name: cr.cmd.Name, Instances: []string{fmt.Sprintf("pid %d", cr.proc.PID())},
		Alerts: d.Received, ExpectedAlerts: d.Expected, MissedAlerts: d.Missed, UnexpectedAlerts: d.Unexpected,
		DuplicateAlerts: m.Duplicates, AlertMs: m.Latency.Summary(), Clock: LineClock, AgentCommand: info}
}

// logCommandAlerts writes each agent command's alert latency into the
// interval log, tagged path/agent/alert, one histogram per interval of the
// lines' arrival: the series the report charts beside the built-in agents
// (cdcbench sees an agent command's alerts, not every row it read). Call it
// once the path's interval log stopped.
func (p *pathRun) logCommandAlerts() error {
	if p.cmds == nil {
		return nil
	}
	tick := result.IntervalTick
	for _, cr := range p.cmds.runs {
		cr.mu.Lock()
		timed := cr.timed
		cr.mu.Unlock()
		byTick := map[int64]*recorder.Single{}
		var ticks []int64
		for _, a := range timed {
			k := max(a.ArrivalNs-p.measureFrom.UnixNano(), 0) / int64(tick)
			if byTick[k] == nil {
				byTick[k] = recorder.NewSingle()
				ticks = append(ticks, k)
			}
			byTick[k].Record(a.LatencyUs)
		}
		sort.Slice(ticks, func(i, j int) bool { return ticks[i] < ticks[j] })
		tag := p.spec.String() + "/" + cr.cmd.Name + "/" + recorder.Alert.String()
		for _, k := range ticks {
			from := p.measureFrom.Add(time.Duration(k) * tick)
			if err := p.r.intervals.Write(tag, from, from.Add(tick), byTick[k].Histogram()); err != nil {
				return fmt.Errorf("bench: %w", err)
			}
		}
	}
	return nil
}

// commandSlices adds each agent command's alert latency to the slices of
// the schedule its alerted rows were intended in, after the knee was
// found: a slow agent of yours shows where it falls behind, without
// moving the pipeline's knee.
func (p *pathRun) commandSlices() {
	if p.cmds == nil || len(p.res.Slices) == 0 {
		return
	}
	for _, cr := range p.cmds.runs {
		cr.mu.Lock()
		timed := cr.timed
		cr.mu.Unlock()
		if len(timed) == 0 {
			continue
		}
		per := make([]*recorder.Single, len(p.res.Slices))
		for _, a := range timed {
			intendedNs := a.ArrivalNs - a.LatencyUs*1000
			if i := p.plan.sliceOf(time.Duration(intendedNs - p.start.UnixNano())); i >= 0 && i < len(per) {
				if per[i] == nil {
					per[i] = recorder.NewSingle()
				}
				per[i].Record(a.LatencyUs)
			}
		}
		for i, s := range per {
			if s == nil {
				continue
			}
			sl := &p.res.Slices[i]
			if sl.CommandAlerts == nil {
				sl.CommandAlerts = map[string]recorder.Summary{}
			}
			sl.CommandAlerts[cr.cmd.Name] = s.Summary()
		}
	}
}

// commandProblems lists what makes an agent command's figures untrustworthy.
func commandProblems(e result.ExternalAgentResult) []string {
	var why []string
	if e.Exit != "stopped" {
		why = append(why, e.Exit)
	}
	if e.MissedAlerts > 0 || e.UnexpectedAlerts > 0 {
		why = append(why, fmt.Sprintf("agent %s: %d of %d expected alerts missing, %d unexpected (judged by the %s rule)",
			e.Name, e.MissedAlerts, e.ExpectedAlerts, e.UnexpectedAlerts, e.Rule))
	}
	if n := e.UnmatchedLines + e.AmbiguousLines + e.MalformedLines; n > 0 {
		why = append(why, fmt.Sprintf("agent %s: %d alert lines denote no produced row, %d could denote several, %d do not parse (see %s)",
			e.Name, e.UnmatchedLines, e.AmbiguousLines, e.MalformedLines, e.Output))
	}
	return why
}

// collected names the agents whose alerts the path reads from fraud.alerts:
// `cdcbench agent` processes and agent commands that publish there.
func (p *pathRun) collected() []string {
	if !p.traits.Publishes {
		return nil
	}
	names := append([]string(nil), p.plan.ExternalAgents...)
	for _, c := range p.plan.AgentCommands {
		if c.Pattern == nil {
			names = append(names, c.Name)
		}
	}
	return names
}
