package gate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/stats"
)

// Verdict is the outcome of one check.
type Verdict int

// The verdicts.
const (
	// Pass: the figure keeps its limit.
	Pass Verdict = iota
	// Fail: the figure breaks its limit (for a relative rule: and the
	// change is significant at alpha). Any Fail fails the gate.
	Fail
	// Unconfirmed: a relative rule's figure breaks its limit, but the
	// change is not significant or there are too few runs to test it. It
	// does not fail the gate; the report says why.
	Unconfirmed
	// Skipped: a relative rule without a baseline.
	Skipped
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Fail:
		return "FAIL"
	case Unconfirmed:
		return "unconfirmed"
	default:
		return "skipped"
	}
}

// Input is what a gate is evaluated on.
type Input struct {
	// Runs are repeated runs of one scenario (at least one).
	Runs []Run
	// Baseline is the reference of relative rules; nil skips them.
	Baseline *Baseline
	// BaselineName names the baseline in the report (its file).
	BaselineName string
	// AllowForeignBaseline evaluates against a baseline from another
	// machine, with a warning, instead of failing with ErrForeignBaseline.
	AllowForeignBaseline bool
}

// Check is one rule applied to one path and agent.
type Check struct {
	Rule   Rule
	Target string // "cdc/velocity"; for valid, the runs
	// Value is the figure compared with the limit: milliseconds or a count
	// for absolute rules, a factor for relative and ratio rules; NaN for
	// valid and skipped rules.
	Value    float64
	Observed string // Value as the report shows it, with its context
	Limit    string // the rule's bound as the report shows it
	// P is the Mann-Whitney p-value of a relative rule's change and N1, N2
	// the runs on each side; P is NaN when nothing was tested.
	P       float64
	N1, N2  int
	Verdict Verdict
	Note    string // why the verdict, when it is not plain
}

// Report is the outcome of a gate: every check of every rule.
type Report struct {
	File         string
	Alpha        float64
	Scenario     string
	Runs         []string // labels of the gated runs
	Baseline     string   // BaselineName; "" without a baseline
	BaselineRuns int
	Warnings     []string
	Checks       []Check
}

// Failed returns the checks that fail the gate.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Verdict == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Passed reports whether no check failed.
func (r *Report) Passed() bool { return len(r.Failed()) == 0 }

// errNoSamples marks a latency figure whose histogram is empty: a broken
// measurement, which fails its check rather than passing "< 250ms".
var errNoSamples = errors.New("no samples")

// errNoStage marks a stage an agent does not have (polling has no
// commit_event stage), which a wildcard path skips.
var errNoStage = errors.New("no such stage")

// errNotMeasured marks a metric an agent command does not have (cdcbench
// sees its alerts, not every row it read), which a wildcard agent skips.
var errNotMeasured = errors.New("not measured")

// missingError is a path or agent a run does not have: bad input when
// every run is valid, an aborted run failing the gate when one is not.
type missingError struct{ msg string }

func (e missingError) Error() string { return e.msg }

func isMissing(err error) bool { return errors.As(err, new(missingError)) }

// Evaluate applies spec to in and reports every check.
//
// Semantics, for several runs:
//   - valid and count rules (missed_alerts == 0) must hold in every run: a
//     lost event or alert is a bug, not noise to be averaged away.
//   - absolute latency rules compare the median of the runs' figures.
//   - ratio rules compute the ratio in each run and compare the median.
//   - relative rules compare the median of the runs with the median of the
//     baseline's runs, and fail only when the limit is broken and a
//     Mann-Whitney U test of the runs against the baseline's runs is
//     significant at spec.Alpha. Otherwise a broken limit is Unconfirmed;
//     with one run on either side nothing can be tested and the verdict
//     says "unconfirmed (1 run)".
//
// A rule's wildcards expand over the paths and agents of the first run;
// every run (and the baseline) must have each of them. Evaluate returns an
// error only for input that cannot be gated: no runs, runs of different
// scenarios, a rule naming what the runs do not have, a baseline of another
// scenario, or of another machine (ErrForeignBaseline) unless allowed.
func Evaluate(spec *Spec, in Input) (*Report, error) {
	if len(in.Runs) == 0 {
		return nil, ErrNoRuns
	}
	first := in.Runs[0]
	rep := &Report{File: spec.File, Alpha: spec.Alpha, Scenario: first.Scenario}
	for _, r := range in.Runs {
		rep.Runs = append(rep.Runs, r.Label)
		if r.Scenario != first.Scenario {
			return nil, fmt.Errorf("gate: runs of scenarios %q (%s) and %q (%s); gate one scenario at a time", first.Scenario, first.Label, r.Scenario, r.Label)
		}
		if !SameMachine(r.Machine, first.Machine) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("run %s ran on %s, run %s on %s", first.Label, describeMachine(first.Machine), r.Label, describeMachine(r.Machine)))
		}
	}
	if b := in.Baseline; b != nil {
		rep.Baseline, rep.BaselineRuns = in.BaselineName, len(b.Runs)
		if b.Scenario != first.Scenario {
			return nil, fmt.Errorf("gate: baseline %s is of scenario %q, the runs of %q", in.BaselineName, b.Scenario, first.Scenario)
		}
		if !SameMachine(b.Machine, first.Machine) {
			msg := fmt.Sprintf("baseline %s was recorded on %s; the runs ran on %s", in.BaselineName, describeMachine(b.Machine), describeMachine(first.Machine))
			if !in.AllowForeignBaseline {
				return nil, fmt.Errorf("%w: %s; record a baseline on this machine or allow a foreign one", ErrForeignBaseline, msg)
			}
			rep.Warnings = append(rep.Warnings, msg+": relative rules compare different machines")
		}
	}
	for _, rule := range spec.Rules {
		checks, err := evalRule(spec, rule, in)
		if err != nil {
			return nil, fmt.Errorf("gate: %s:%d: %s: %w", spec.File, rule.Line, rule.Text, err)
		}
		rep.Checks = append(rep.Checks, checks...)
	}
	return rep, nil
}

func evalRule(spec *Spec, rule Rule, in Input) ([]Check, error) {
	if rule.Kind == Valid {
		return []Check{checkValid(rule, in.Runs)}, nil
	}
	if rule.Kind == Relative && in.Baseline == nil {
		return []Check{{
			Rule: rule, Target: rule.Target.String(), Value: math.NaN(), P: math.NaN(),
			Limit: limitText(rule), Verdict: Skipped, Note: "no baseline given",
		}}, nil
	}
	var checks []Check
	for _, p := range in.Runs[0].Paths {
		for _, a := range slices.Concat(p.Agents, p.Commands) {
			if !rule.Target.matches(p.Name, a.Name) {
				continue
			}
			c, err := evalTarget(spec, rule, in, p.Name, a.Name)
			switch {
			case errors.Is(err, errNoStage) && rule.Target.Path == Wildcard,
				errors.Is(err, errNotMeasured) && rule.Target.Agent == Wildcard:
				continue
			case errors.Is(err, errNoSamples), (errors.Is(err, errNoStage) || isMissing(err)) && anyInvalid(in.Runs):
				// An invalid run that measured nothing, or was stopped
				// before a path ran, has no stages or agents either: that
				// is the run failing the gate (exit 1), not a rule naming
				// what no run has (bad input).
				observed := "no samples"
				if isMissing(err) {
					observed = "missing"
				}
				checks = append(checks, missingCheck(rule, p.Name+"/"+a.Name, observed, err))
				continue
			case err != nil:
				return nil, err
			}
			checks = append(checks, c)
		}
	}
	if len(checks) == 0 && anyInvalid(in.Runs) {
		return []Check{missingCheck(rule, rule.Target.String(), "missing", fmt.Errorf("no path/agent with %s in run %s (it has %s)",
			rule.Metric, in.Runs[0].Label, strings.Join(targets(in.Runs[0]), ", ")))}, nil
	}
	if len(checks) == 0 {
		return nil, fmt.Errorf("%s matches no path/agent with %s in run %s (it has %s)", rule.Target, rule.Metric, in.Runs[0].Label, strings.Join(targets(in.Runs[0]), ", "))
	}
	return checks, nil
}

// missingCheck is a check failed for want of a figure in an invalid run.
func missingCheck(rule Rule, target, observed string, why error) Check {
	return Check{Rule: rule, Target: target, Value: math.NaN(), P: math.NaN(),
		Observed: observed, Limit: limitText(rule), Verdict: Fail, Note: why.Error()}
}

func anyInvalid(runs []Run) bool {
	for _, r := range runs {
		if !r.Valid {
			return true
		}
	}
	return false
}

func targets(r Run) []string {
	var out []string
	for _, p := range r.Paths {
		for _, a := range slices.Concat(p.Agents, p.Commands) {
			out = append(out, p.Name+"/"+a.Name)
		}
	}
	return out
}

func checkValid(rule Rule, runs []Run) Check {
	c := Check{Rule: rule, Target: plural(len(runs), "run"), Value: math.NaN(), P: math.NaN(), Limit: "valid", Verdict: Pass, Observed: "valid"}
	var bad []string
	for _, r := range runs {
		if !r.Valid {
			bad = append(bad, fmt.Sprintf("%s: %s", r.Label, strings.Join(r.InvalidReasons, "; ")))
		}
	}
	if len(bad) > 0 {
		c.Verdict = Fail
		c.Observed = fmt.Sprintf("%d of %d invalid", len(bad), len(runs))
		c.Note = strings.Join(bad, "; ")
	}
	return c
}

// figures returns metric m of path/agent in each run.
func figures(runs []Run, path, agent string, m Metric) ([]float64, error) {
	out := make([]float64, 0, len(runs))
	for _, r := range runs {
		a, command, ok := r.figuresOf(path, agent)
		if !ok {
			return nil, missingError{fmt.Sprintf("run %s has no agent %s on path %s", r.Label, agent, path)}
		}
		if command && !slices.Contains(commandMetrics, m.Name) {
			return nil, fmt.Errorf("%w: %s on %s is an agent command, whose alerts are all cdcbench sees of it: it has %s, not %s",
				errNotMeasured, agent, path, strings.Join(commandMetrics, ", "), m.Name)
		}
		if !m.Latency() {
			out = append(out, float64(counts[m.Name](a)))
			continue
		}
		s := a.E2E
		if m.Name != "e2e" {
			if s, ok = a.Stages[m.stage()]; !ok {
				return nil, fmt.Errorf("%w %q on %s/%s in run %s (it has %s)", errNoStage, m.stage(), path, agent, r.Label, strings.Join(stageNames(a.Stages), ", "))
			}
		}
		if s.Count == 0 {
			return nil, fmt.Errorf("%w of %s on %s/%s in run %s", errNoSamples, m, path, agent, r.Label)
		}
		out = append(out, latencyStats[m.Stat](s))
	}
	return out, nil
}

func stageNames(m map[string]recorder.Summary) []string {
	return slices.Sorted(maps.Keys(m))
}

func evalTarget(spec *Spec, rule Rule, in Input, path, agent string) (Check, error) {
	c := Check{Rule: rule, Target: path + "/" + agent, P: math.NaN(), Value: math.NaN()}
	cur, err := figures(in.Runs, path, agent, rule.Metric)
	if err != nil {
		return c, err
	}
	switch rule.Kind {
	case Absolute:
		c.Limit = limitText(rule)
		if rule.Metric.Latency() {
			c.Value = stats.Median(cur)
			c.Observed = formatFigure(rule.Metric, c.Value)
			if len(cur) > 1 {
				c.Note = "median of " + plural(len(cur), "run")
			}
			c.Verdict = verdictOf(rule.Op.holds(c.Value, rule.Limit))
			return c, nil
		}
		c.Value, c.Verdict = cur[0], Pass
		for i, v := range cur {
			if !rule.Op.holds(v, rule.Limit) {
				c.Value, c.Verdict = v, Fail
				if len(cur) > 1 {
					c.Note = "run " + in.Runs[i].Label
				}
				break
			}
		}
		c.Observed = joinFigures(rule.Metric, cur)
		return c, nil
	case Relative:
		base, err := figures(in.Baseline.Runs, path, agent, rule.Metric)
		if err != nil {
			return c, fmt.Errorf("baseline: %w", err)
		}
		mc, mb := stats.Median(cur), stats.Median(base)
		c.Value = mc / mb
		c.Observed = formatFigure(rule.Metric, mc)
		if mb != 0 {
			c.Observed += fmt.Sprintf(" (%sx)", stats.FormatSig(c.Value))
		}
		c.Limit = fmt.Sprintf("%s (%s)", limitText(rule), formatFigure(rule.Metric, rule.Limit*mb))
		c.N1, c.N2 = len(cur), len(base)
		mw, err := stats.MannWhitneyU(cur, base)
		if err != nil {
			return c, err
		}
		c.P = mw.P
		c.Verdict, c.Note = relativeVerdict(rule.Op.holds(mc, rule.Limit*mb), mw.P, spec.Alpha, c.N1, c.N2)
		return c, nil
	default: // Ratio
		other := rule.Other
		if other.Agent == "" {
			other.Agent = agent
		}
		den, err := figures(in.Runs, other.Path, other.Agent, rule.OtherMetric)
		if err != nil {
			return c, err
		}
		ratios := make([]float64, len(cur))
		for i := range cur {
			ratios[i] = cur[i] / den[i]
		}
		c.Value = stats.Median(ratios)
		c.Observed = fmt.Sprintf("%sx (%s / %s)", stats.FormatSig(c.Value), formatFigure(rule.Metric, stats.Median(cur)), formatFigure(rule.OtherMetric, stats.Median(den)))
		c.Limit = fmt.Sprintf("%s %gx %s %s", rule.Op, rule.Limit, other, rule.OtherMetric)
		if len(cur) > 1 {
			c.Note = "median of " + plural(len(cur), "run")
		}
		c.Verdict = verdictOf(rule.Op.holds(c.Value, rule.Limit))
		return c, nil
	}
}

// relativeVerdict applies the rule that a relative limit fails only on a
// significant change; held says whether the medians keep the limit.
func relativeVerdict(held bool, p, alpha float64, n1, n2 int) (Verdict, string) {
	few := min(n1, n2) == 1
	switch {
	case held && few:
		return Pass, "unconfirmed (1 run)"
	case held:
		return Pass, ""
	case few:
		return Unconfirmed, "(1 run): over the limit; repeat the runs to test the change"
	case p < alpha:
		return Fail, fmt.Sprintf("over the limit, significant (p < %g)", alpha)
	case stats.MinP(n1, n2) >= alpha:
		return Unconfirmed, fmt.Sprintf("over the limit, not significant: %d+%d runs cannot reach p < %g", n1, n2, alpha)
	default:
		return Unconfirmed, fmt.Sprintf("over the limit, not significant (p >= %g)", alpha)
	}
}

func verdictOf(held bool) Verdict {
	if held {
		return Pass
	}
	return Fail
}

// limitText is a rule's bound as the report shows it.
func limitText(rule Rule) string {
	switch rule.Kind {
	case Absolute:
		if rule.Metric.Latency() {
			return fmt.Sprintf("%s %g ms", rule.Op, rule.Limit)
		}
		return fmt.Sprintf("%s %g", rule.Op, rule.Limit)
	case Relative:
		return fmt.Sprintf("%s %gx baseline", rule.Op, rule.Limit)
	default:
		return fmt.Sprintf("%s %gx %s %s", rule.Op, rule.Limit, rule.Other, rule.OtherMetric)
	}
}

// formatFigure shows a figure in its unit: latencies with three
// significant digits and " ms", counts as the integers they are.
func formatFigure(m Metric, v float64) string {
	if m.Latency() {
		return stats.FormatSig(v) + " ms"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// joinFigures shows one figure per run, or one figure when all agree.
func joinFigures(m Metric, vs []float64) string {
	if slices.Min(vs) == slices.Max(vs) {
		return formatFigure(m, vs[0])
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = formatFigure(m, v)
	}
	return strings.Join(s, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
