package gate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stats"
)

// compareStats are the e2e percentiles a comparison shows, in order.
var compareStats = []struct {
	name string
	get  func(recorder.Summary) float64
}{
	{"p50", func(s recorder.Summary) float64 { return s.P50 }},
	{"p90", func(s recorder.Summary) float64 { return s.P90 }},
	{"p99", func(s recorder.Summary) float64 { return s.P99 }},
	{"p999", func(s recorder.Summary) float64 { return s.P999 }},
	{"max", func(s recorder.Summary) float64 { return s.Max }},
}

// bootstrapResamples and bootstrapSeed fix the ratio intervals of a
// comparison, so the same runs always print the same table.
const (
	bootstrapResamples = 10000
	bootstrapSeed      = 1
)

// Comparison is `cdcbench compare`'s table, two sides of runs with the
// change from A to B, and what its reader must know about it.
type Comparison struct {
	A, B  []Run
	Alpha float64
	// Notes say what makes the figures less comparable than they look:
	// invalid runs, another scenario or machine, too few runs to test.
	Notes []string
	Rows  []CompareRow
}

// CompareRow is one figure of one path/agent on both sides.
type CompareRow struct {
	Target, Metric string // "cdc/outlier", "e2e p99"
	A, B           stats.Summary
	// Change is the change from A to B as benchstat prints it: "+12.3%
	// (p=0.008 n=5+5)", "~ (p=0.310 n=3+3)" or, untested, "+4.0% (n=1+1)".
	Change string
	// Ratio is B/A with its 95% bootstrap interval; "" with one run a side.
	Ratio string
}

// Compare builds the comparison of every path and agent present on both
// sides: each e2e percentile, and with withStages each stage's p50 and p99.
// What only one side has is named in a note. alpha is the significance
// level of the Mann-Whitney U test.
func Compare(a, b []Run, alpha float64, withStages bool) (*Comparison, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, ErrNoRuns
	}
	cmp := &Comparison{A: a, B: b, Alpha: alpha}
	for _, side := range [][]Run{a, b} {
		for _, r := range side {
			if !r.Valid {
				cmp.Notes = append(cmp.Notes, fmt.Sprintf("run %s is INVALID: %s", r.Label, strings.Join(r.InvalidReasons, "; ")))
			}
		}
	}
	if a[0].Scenario != b[0].Scenario {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf("A is scenario %s, B is %s", a[0].Scenario, b[0].Scenario))
	}
	if d := stackDifference(a[0].Stack, b[0].Stack); d != "" {
		cmp.Notes = append(cmp.Notes, "the stacks differ in "+d+": the change includes the stack")
	}
	if !SameMachine(a[0].Machine, b[0].Machine) {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf("A ran on %s (%d cores), B on %s (%d cores): the change includes the machine", a[0].Machine.CPU, a[0].Machine.Cores, b[0].Machine.CPU, b[0].Machine.Cores))
	}
	if len(a) == 1 || len(b) == 1 {
		cmp.Notes = append(cmp.Notes, "one run on a side: changes are shown untested; repeat the runs (4+4 or more) to test them")
	}
	if len(a) > 1 && len(b) > 1 && stats.MinP(len(a), len(b)) >= alpha {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf("%d+%d runs cannot reach p < %g: no change can show as significant", len(a), len(b), alpha))
	}
	for _, t := range compareTargets(a[0]) {
		if _, _, ok := b[0].figuresOf(t.path, t.agent); !ok {
			cmp.Notes = append(cmp.Notes, fmt.Sprintf("only A has %s/%s", t.path, t.agent))
			continue
		}
		metrics := []string{t.headline}
		if withStages && !t.command {
			metrics = append(metrics, compareStages(a[0], t.path, t.agent)...)
		}
		for _, m := range metrics {
			if err := cmp.addRows(t.path, t.agent, m, m == t.headline); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range compareTargets(b[0]) {
		if _, _, ok := a[0].figuresOf(t.path, t.agent); !ok {
			cmp.Notes = append(cmp.Notes, fmt.Sprintf("only B has %s/%s", t.path, t.agent))
		}
	}
	return cmp, nil
}

// addRows adds the rows of one stage ("e2e" or a stage name) of path/agent:
// every percentile of its headline figure, p50 and p99 of another stage.
func (cmp *Comparison) addRows(path, agent, stage string, headline bool) error {
	for _, st := range compareStats {
		if !headline && st.name != "p50" && st.name != "p99" {
			continue
		}
		av, err := compareFigures(cmp.A, path, agent, stage, st.get)
		if err != nil {
			return fmt.Errorf("compare: A: %w", err)
		}
		bv, err := compareFigures(cmp.B, path, agent, stage, st.get)
		if err != nil {
			return fmt.Errorf("compare: B: %w", err)
		}
		if av == nil || bv == nil {
			continue // a stage one side's runs do not have
		}
		row := CompareRow{Target: path + "/" + agent, Metric: stage + " " + st.name, A: stats.Summarize(av), B: stats.Summarize(bv)}
		if row.Change, err = compareChange(av, bv, cmp.Alpha); err != nil {
			return err
		}
		if len(av) > 1 && len(bv) > 1 && row.A.Median > 0 {
			ci, err := stats.BootstrapMedianRatio(av, bv, 0.95, bootstrapResamples, bootstrapSeed)
			if err != nil {
				return fmt.Errorf("compare: %w", err)
			}
			row.Ratio = fmt.Sprintf("%s [%s, %s]", stats.FormatSig(ci.Point), stats.FormatSig(ci.Lo), stats.FormatSig(ci.Hi))
		}
		cmp.Rows = append(cmp.Rows, row)
	}
	return nil
}

// compareChange is the change from a to b as benchstat prints it.
func compareChange(a, b []float64, alpha float64) (string, error) {
	ma, mb := stats.Median(a), stats.Median(b)
	delta := "n/a"
	if ma != 0 {
		delta = fmt.Sprintf("%+.1f%%", 100*(mb-ma)/ma)
	}
	if len(a) == 1 || len(b) == 1 {
		return fmt.Sprintf("%s (n=%d+%d)", delta, len(a), len(b)), nil
	}
	mw, err := stats.MannWhitneyU(a, b)
	if err != nil {
		return "", fmt.Errorf("compare: %w", err)
	}
	if mw.P >= alpha {
		delta = "~"
	}
	return fmt.Sprintf("%s (p=%.3f n=%d+%d)", delta, mw.P, len(a), len(b)), nil
}

// compareFigures returns one figure of path/agent's stage per run; nil when the
// first run has no such stage (polling has no commit_event), an error when
// a later run lacks what the first has.
func compareFigures(runs []Run, path, agent, stage string, get func(recorder.Summary) float64) ([]float64, error) {
	var out []float64
	for i, r := range runs {
		a, _, ok := r.figuresOf(path, agent)
		if !ok {
			return nil, fmt.Errorf("run %s has no %s/%s", r.Label, path, agent)
		}
		s := a.E2E
		if stage != "e2e" {
			if s, ok = a.Stages[stage]; !ok {
				if i == 0 {
					return nil, nil
				}
				return nil, fmt.Errorf("run %s has no stage %s on %s/%s", r.Label, stage, path, agent)
			}
		}
		out = append(out, get(s))
	}
	return out, nil
}

// compareTarget is a path/agent a comparison lists, with the figure that
// heads its rows: a built-in agent's e2e latency; an agent command's alert
// latency, since its alerts are all cdcbench sees of the user's agent.
type compareTarget struct {
	path, agent, headline string
	command               bool
}

// compareTargets lists the agents of r in order, each path's built-in
// agents before its agent commands.
func compareTargets(r Run) []compareTarget {
	var out []compareTarget
	for _, p := range r.Paths {
		for _, a := range p.Agents {
			out = append(out, compareTarget{path: p.Name, agent: a.Name, headline: "e2e"})
		}
		for _, a := range p.Commands {
			out = append(out, compareTarget{path: p.Name, agent: a.Name, headline: recorder.Alert.String(), command: true})
		}
	}
	return out
}

// compareStages lists the stages of path/agent in r but e2e (shown already),
// sorted.
func compareStages(r Run, path, agent string) []string {
	a, _ := r.Agent(path, agent)
	var out []string
	for name := range a.Stages {
		if name != "e2e" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// stackParts names what a run ran on, part by part, without what changes
// from run to run on one stack (ports, URLs); nil when the run does not say.
func stackParts(s *result.StackResult) [][2]string {
	if s == nil || s.Postgres == "" {
		return nil
	}
	connect := "none"
	if s.ConnectVersion != "" || s.DebeziumVersion != "" {
		connect = fmt.Sprintf("%s with Debezium %s", s.ConnectVersion, s.DebeziumVersion)
	}
	return [][2]string{
		{"PostgreSQL", strings.TrimSpace(s.Postgres + " " + s.PostgresVersion)},
		{"Kafka", strings.TrimSpace(s.Kafka + " " + s.KafkaVersion)},
		{"Kafka Connect", connect},
		{"the cdc path", s.CDC},
	}
}

// stackDifference lists the parts in which the stacks of a and b differ,
// with both sides' values; "" when they do not, or a run does not say.
func stackDifference(a, b *result.StackResult) string {
	pa, pb := stackParts(a), stackParts(b)
	if pa == nil || pb == nil {
		return ""
	}
	var diffs []string
	for i := range pa {
		if pa[i][1] != pb[i][1] {
			diffs = append(diffs, fmt.Sprintf("%s (A: %s; B: %s)", pa[i][0], pa[i][1], pb[i][1]))
		}
	}
	return strings.Join(diffs, ", ")
}
