// Package gate decides whether a benchmark run may pass CI. Objectives are
// written one per line in a small YAML file, in the style of k6 thresholds,
// and evaluated against one or more runs and, optionally, a baseline of
// earlier runs:
//
//	alpha: 0.05
//	rules:
//	  - valid
//	  - missed_alerts == 0
//	  - cdc/velocity e2e p99 < 250ms
//	  - cdc e2e p50 <= 8 x cdc stages.insert_commit p50
//	  - cdc e2e p50 <= 0.15 x poll-100ms e2e p99
//	  - cdc e2e p50 <= 1.2 x baseline
//
// The rule grammar is documented on Parse.
package gate

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// Kind is what a rule compares against.
type Kind int

// The rule kinds.
const (
	// Valid: every run is valid (no lost events, no missed or unexpected
	// alerts, schedule kept, no histogram overflow).
	Valid Kind = iota
	// Absolute: a figure against a fixed limit ("e2e p99 < 250ms").
	Absolute
	// Relative: a figure against the same figure in the baseline
	// ("e2e p50 <= 1.2 x baseline").
	Relative
	// Ratio: a figure against another figure of the same run
	// ("cdc e2e p50 <= 8 x cdc stages.insert_commit p50"), which a slower or
	// busier machine moves less than either figure alone.
	Ratio
)

// Wildcard selects every path or every agent.
const Wildcard = "*"

// Selector names the path and agent a rule reads; either may be Wildcard.
type Selector struct {
	Path, Agent string
}

func (s Selector) String() string {
	if s.Agent == "" {
		return s.Path
	}
	return s.Path + "/" + s.Agent
}

func (s Selector) matches(path, agent string) bool {
	return (s.Path == Wildcard || s.Path == path) && (s.Agent == Wildcard || s.Agent == agent)
}

// Metric is one figure of an agent on a path: a latency percentile
// (Name "e2e" or "stages.<stage>", Stat "p99") or a count (Stat "").
type Metric struct {
	Name string
	Stat string
}

func (m Metric) String() string {
	if m.Stat == "" {
		return m.Name
	}
	return m.Name + " " + m.Stat
}

// Latency says the metric is in milliseconds rather than a count.
func (m Metric) Latency() bool { return m.Stat != "" }

// stage is the stage a latency metric reads ("e2e" for e2e).
func (m Metric) stage() string { return strings.TrimPrefix(m.Name, "stages.") }

// latencyStats are the latency statistics a rule may name, as result.json holds
// them; "p99.9" is accepted for p999.
var latencyStats = map[string]func(recorder.Summary) float64{
	"p50":  func(s recorder.Summary) float64 { return s.P50 },
	"p90":  func(s recorder.Summary) float64 { return s.P90 },
	"p99":  func(s recorder.Summary) float64 { return s.P99 },
	"p999": func(s recorder.Summary) float64 { return s.P999 },
	"max":  func(s recorder.Summary) float64 { return s.Max },
	"mean": func(s recorder.Summary) float64 { return s.Mean },
}

// counts are the count metrics a rule may name.
var counts = map[string]func(result.AgentResult) int64{
	"events":            func(a result.AgentResult) int64 { return a.Events },
	"expected_events":   func(a result.AgentResult) int64 { return a.ExpectedEvents },
	"events_missing":    func(a result.AgentResult) int64 { return a.ExpectedEvents - a.Events },
	"duplicate_events":  func(a result.AgentResult) int64 { return a.DuplicateEvents },
	"alerts":            func(a result.AgentResult) int64 { return a.Alerts },
	"expected_alerts":   func(a result.AgentResult) int64 { return a.ExpectedAlerts },
	"missed_alerts":     func(a result.AgentResult) int64 { return a.MissedAlerts },
	"unexpected_alerts": func(a result.AgentResult) int64 { return a.UnexpectedAlerts },
}

// Op is a comparison.
type Op string

// The comparisons a rule may use.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
	NotEqual     Op = "!="
)

// holds reports whether "v op limit" is true.
func (o Op) holds(v, limit float64) bool {
	switch o {
	case Less:
		return v < limit
	case LessEqual:
		return v <= limit
	case Greater:
		return v > limit
	case GreaterEqual:
		return v >= limit
	case Equal:
		return v == limit
	default:
		return v != limit
	}
}

// Rule is one line of a gate file.
type Rule struct {
	Text    string // as written, without the comment
	Line    int    // in the gate file; 0 for the implied valid rule
	Implied bool   // added by Parse, not written in the file
	Kind    Kind
	Target  Selector
	Metric  Metric
	Op      Op
	// Limit is the bound in the metric's unit (milliseconds or a count)
	// for Absolute rules, and the factor for Relative and Ratio rules.
	Limit float64
	// Other is the figure a Ratio rule divides by; an empty Agent means
	// the agent of the target.
	Other       Selector
	OtherMetric Metric
}

// parseRule parses one rule; the grammar is documented on Parse.
func parseRule(text string) (Rule, error) {
	r := Rule{Text: strings.Join(strings.Fields(text), " ")}
	tok := tokens(text)
	if len(tok) == 0 {
		return r, fmt.Errorf("empty rule")
	}
	if tok[0] == "valid" {
		if len(tok) > 1 {
			return r, fmt.Errorf("\"valid\" stands alone; it takes no selector, comparison or limit")
		}
		r.Kind = Valid
		return r, nil
	}
	r.Target = Selector{Path: Wildcard, Agent: Wildcard}
	if !isMetric(tok[0]) {
		sel, err := parseSelector(tok[0], Wildcard)
		if err != nil {
			return r, err
		}
		r.Target, tok = sel, tok[1:]
	}
	m, rest, err := parseMetric(tok)
	if err != nil {
		return r, err
	}
	r.Metric = m
	if len(rest) == 0 {
		return r, fmt.Errorf("%s needs a comparison (< <= > >= == !=) and a limit", m)
	}
	r.Op = Op(rest[0])
	switch r.Op {
	case Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual:
	default:
		return r, fmt.Errorf("%q is not a comparison; use one of < <= > >= == !=", rest[0])
	}
	rest = rest[1:]
	if len(rest) == 0 {
		return r, fmt.Errorf("missing a limit after %s", r.Op)
	}
	if len(rest) >= 2 && rest[1] == "x" {
		return parseFactor(r, rest)
	}
	if len(rest) > 1 {
		return r, fmt.Errorf("unexpected %q after the limit %s", strings.Join(rest[1:], " "), rest[0])
	}
	r.Kind = Absolute
	r.Limit, err = parseLimit(m, rest[0])
	return r, err
}

// parseFactor parses "<factor> x baseline" and "<factor> x <selector>
// <metric>"; rest starts at the factor.
func parseFactor(r Rule, rest []string) (Rule, error) {
	f, err := strconv.ParseFloat(rest[0], 64)
	if err != nil || f <= 0 {
		return r, fmt.Errorf("%q is not a positive factor (as in 1.2 x baseline)", rest[0])
	}
	if r.Op == Equal || r.Op == NotEqual {
		return r, fmt.Errorf("a factor needs < <= > or >=; %s of a ratio is never exact", r.Op)
	}
	r.Limit = f
	rest = rest[2:]
	switch {
	case len(rest) == 0:
		return r, fmt.Errorf("missing what %g x refers to: \"baseline\" or a path and metric such as poll-100ms e2e p50", f)
	case rest[0] == "baseline":
		if len(rest) > 1 {
			return r, fmt.Errorf("unexpected %q after baseline", strings.Join(rest[1:], " "))
		}
		r.Kind = Relative
		return r, nil
	}
	other, err := parseSelector(rest[0], "")
	if err != nil {
		return r, err
	}
	om, tail, err := parseMetric(rest[1:])
	if err != nil {
		return r, err
	}
	if len(tail) > 0 {
		return r, fmt.Errorf("unexpected %q after %s", strings.Join(tail, " "), om)
	}
	if om.Latency() != r.Metric.Latency() {
		return r, fmt.Errorf("%s and %s are not both latencies or both counts", r.Metric, om)
	}
	if other.Path == Wildcard || other.Agent == Wildcard {
		return r, fmt.Errorf("the figure after x must name one path (and optionally one agent), not %s", other)
	}
	r.Kind, r.Other, r.OtherMetric = Ratio, other, om
	return r, nil
}

// tokens splits a rule into words, separating operators and a factor's
// "x" written without spaces ("<=250ms", "1.2x").
func tokens(text string) []string {
	var out []string
	for _, f := range strings.Fields(text) {
		for f != "" {
			if i := strings.IndexAny(f, "<>=!"); i > 0 {
				out, f = append(out, f[:i]), f[i:]
				continue
			}
			if strings.IndexAny(f, "<>=!") == 0 {
				n := 1
				if len(f) > 1 && f[1] == '=' {
					n = 2
				}
				out, f = append(out, f[:n]), f[n:]
				continue
			}
			if len(f) > 1 && f[len(f)-1] == 'x' {
				if _, err := strconv.ParseFloat(f[:len(f)-1], 64); err == nil {
					out, f = append(out, f[:len(f)-1], "x"), ""
					continue
				}
			}
			out, f = append(out, f), ""
		}
	}
	return out
}

func isMetric(tok string) bool {
	_, isCount := counts[tok]
	return isCount || tok == "e2e" || strings.HasPrefix(tok, "stages.")
}

// parseSelector parses "path", "path/agent", "path/*" or "*"; a path alone
// selects agent defaultAgent.
func parseSelector(tok, defaultAgent string) (Selector, error) {
	path, agent, hasAgent := strings.Cut(tok, "/")
	if !hasAgent {
		agent = defaultAgent
	}
	if path == "" || hasAgent && agent == "" || strings.Contains(agent, "/") {
		return Selector{}, fmt.Errorf("%q is not a path, path/agent or path/* (e.g. cdc/velocity)", tok)
	}
	if !validName(path) || agent != "" && !validName(agent) {
		return Selector{}, fmt.Errorf("%q is neither a metric (e2e, stages.<stage>, %s) nor a path/agent", tok, strings.Join(countNames(), ", "))
	}
	return Selector{Path: path, Agent: agent}, nil
}

func validName(s string) bool {
	if s == Wildcard {
		return true
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}

// parseMetric parses "e2e <stat>", "stages.<name> <stat>" or a count, and
// returns the tokens after it.
func parseMetric(tok []string) (Metric, []string, error) {
	if len(tok) == 0 {
		return Metric{}, nil, fmt.Errorf("missing a metric: e2e <stat>, stages.<stage> <stat> or one of %s", strings.Join(countNames(), ", "))
	}
	name := tok[0]
	if _, ok := counts[name]; ok {
		return Metric{Name: name}, tok[1:], nil
	}
	if name != "e2e" && (!strings.HasPrefix(name, "stages.") || len(name) == len("stages.")) {
		return Metric{}, nil, fmt.Errorf("%q is not a metric: use e2e <stat>, stages.<stage> <stat> or one of %s", name, strings.Join(countNames(), ", "))
	}
	if len(tok) < 2 || strings.ContainsAny(tok[1][:1], "<>=!") {
		return Metric{}, nil, fmt.Errorf("%s needs a statistic: one of %s", name, strings.Join(statNames(), ", "))
	}
	st := tok[1]
	if st == "p99.9" {
		st = "p999"
	}
	if _, ok := latencyStats[st]; !ok {
		return Metric{}, nil, fmt.Errorf("%q is not a statistic of %s: use one of %s", tok[1], name, strings.Join(statNames(), ", "))
	}
	return Metric{Name: name, Stat: st}, tok[2:], nil
}

// parseLimit parses an absolute limit: a duration for latencies (in ms),
// a plain number for counts.
func parseLimit(m Metric, s string) (float64, error) {
	if m.Latency() {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%s needs a duration such as 250ms or 1.5s, not %q", m, s)
		}
		return float64(d) / float64(time.Millisecond), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s is a count; its limit is a number such as 0, not %q", m, s)
	}
	return v, nil
}

func countNames() []string { return slices.Sorted(maps.Keys(counts)) }

func statNames() []string { return slices.Sorted(maps.Keys(latencyStats)) }
