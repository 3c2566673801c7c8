package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/stats"
	"github.com/cdcbench/cdcbench/reports"
)

// compareStats are the e2e percentiles compare shows, in order.
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

// bootstrapResamples and bootstrapSeed fix the ratio intervals compare
// prints, so the same runs always print the same table.
const (
	bootstrapResamples = 10000
	bootstrapSeed      = 1
)

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "compare the latencies of two runs, or two sets of repeated runs",
		ArgsUsage: "A B | A1 A2... vs B1 B2...",
		Description: `Prints the e2e latency percentiles of every path and agent of A and B side by side,
with the change from A to B. Each operand is a result directory, its result.json, or
a baseline file (all of its runs). To compare sets of repeated runs, separate them
with the word "vs"; shell globs work on either side.

With at least two runs a side each figure is the median across runs with its spread
(±, the largest distance of a run from the median), and each change is tested with
a two-sided Mann-Whitney U test, printed as benchstat does:

  +12.3% (p=0.008 n=5+5)    significant at --alpha
  ~ (p=0.310 n=3+3)         not significant: no change shown

The B/A column is the ratio of medians with a 95% bootstrap confidence interval.
With one run on a side the change is printed untested ("n=1+1"): a single run of a
shared machine moves p99 by several times, so treat it as a hint. Note that 3+3 runs
cannot reach p < 0.05 (the smallest possible p is 0.1); 4+4 can.

  cdcbench compare results/smoke-20261126T082554Z results/smoke-20261126T091200Z
  cdcbench compare results/base-*/ vs results/new-*/
  cdcbench compare gates/baseline-smoke.json vs results/smoke-2026112609*/ --stages`,
		Flags: []cli.Flag{
			&cli.Float64Flag{Name: "alpha", Value: gate.DefaultAlpha, Usage: "significance level of the Mann-Whitney U test"},
			&cli.BoolFlag{Name: "stages", Usage: "also compare each stage's p50 and p99"},
			&cli.BoolFlag{Name: "markdown", Usage: "print a markdown table (for pull requests) instead of aligned text"},
		},
		Before: func(c *cli.Context) error {
			if _, _, err := compareSides(c.Args().Slice()); err != nil {
				return usageError{err}
			}
			if a := c.Float64("alpha"); a <= 0 || a >= 1 {
				return usageError{fmt.Errorf("compare: --alpha %g is not in (0, 1)", a)}
			}
			return nil
		},
		Action: func(c *cli.Context) error {
			aArgs, bArgs, err := compareSides(c.Args().Slice())
			if err != nil {
				return usageError{err}
			}
			a, err := gate.LoadRuns(aArgs...)
			if err != nil {
				return usageError{fmt.Errorf("compare: A: %w", err)}
			}
			b, err := gate.LoadRuns(bArgs...)
			if err != nil {
				return usageError{fmt.Errorf("compare: B: %w", err)}
			}
			cmp, err := compareRuns(a, b, c.Float64("alpha"), c.Bool("stages"))
			if err != nil {
				return usageError{err}
			}
			if c.Bool("markdown") {
				return cmp.writeMarkdown(c.App.Writer)
			}
			return cmp.writeText(c.App.Writer)
		},
	}
}

// compareSides splits "A B" or "A1 A2... vs B1 B2..." into the two sides.
func compareSides(args []string) (a, b []string, err error) {
	if i := slices.Index(args, "vs"); i >= 0 {
		a, b = args[:i], args[i+1:]
		if len(a) == 0 || len(b) == 0 || slices.Contains(b, "vs") {
			return nil, nil, errors.New(`compare: want A1 A2... vs B1 B2... with runs on both sides of one "vs"`)
		}
		return a, b, nil
	}
	if len(args) != 2 {
		return nil, nil, fmt.Errorf("compare: want two runs A B, or two sets A1 A2... vs B1 B2...; got %d arguments", len(args))
	}
	return args[:1], args[1:], nil
}

// comparison is compare's table and what the reader must know about it.
type comparison struct {
	a, b  []gate.Run
	alpha float64
	notes []string
	rows  []compareRow
}

type compareRow struct {
	target, metric string
	a, b           stats.Summary
	change         string
	ratio          string // B/A with its bootstrap interval; "" with one run a side
}

// compareRuns builds the comparison of every path and agent present on
// both sides; what only one side has is named in a note.
func compareRuns(a, b []gate.Run, alpha float64, withStages bool) (*comparison, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, gate.ErrNoRuns
	}
	cmp := &comparison{a: a, b: b, alpha: alpha}
	for _, side := range [][]gate.Run{a, b} {
		for _, r := range side {
			if !r.Valid {
				cmp.notes = append(cmp.notes, fmt.Sprintf("run %s is INVALID: %s", r.Label, strings.Join(r.InvalidReasons, "; ")))
			}
		}
	}
	if a[0].Scenario != b[0].Scenario {
		cmp.notes = append(cmp.notes, fmt.Sprintf("A is scenario %s, B is %s", a[0].Scenario, b[0].Scenario))
	}
	if !gate.SameMachine(a[0].Machine, b[0].Machine) {
		cmp.notes = append(cmp.notes, fmt.Sprintf("A ran on %s (%d cores), B on %s (%d cores): the change includes the machine", a[0].Machine.CPU, a[0].Machine.Cores, b[0].Machine.CPU, b[0].Machine.Cores))
	}
	if len(a) == 1 || len(b) == 1 {
		cmp.notes = append(cmp.notes, "one run on a side: changes are shown untested; repeat the runs (4+4 or more) to test them")
	}
	if len(a) > 1 && len(b) > 1 && stats.MinP(len(a), len(b)) >= alpha {
		cmp.notes = append(cmp.notes, fmt.Sprintf("%d+%d runs cannot reach p < %g: no change can show as significant", len(a), len(b), alpha))
	}
	for _, t := range comparePairs(a[0]) {
		if _, ok := b[0].Agent(t[0], t[1]); !ok {
			cmp.notes = append(cmp.notes, fmt.Sprintf("only A has %s/%s", t[0], t[1]))
			continue
		}
		metrics := []string{"e2e"}
		if withStages {
			metrics = append(metrics, compareStages(a[0], t[0], t[1])...)
		}
		for _, m := range metrics {
			if err := cmp.addRows(t[0], t[1], m); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range comparePairs(b[0]) {
		if _, ok := a[0].Agent(t[0], t[1]); !ok {
			cmp.notes = append(cmp.notes, fmt.Sprintf("only B has %s/%s", t[0], t[1]))
		}
	}
	return cmp, nil
}

// addRows adds the rows of one stage ("e2e" or a stage name) of path/agent:
// every e2e percentile, or p50 and p99 of a stage.
func (cmp *comparison) addRows(path, agent, stage string) error {
	for _, st := range compareStats {
		if stage != "e2e" && st.name != "p50" && st.name != "p99" {
			continue
		}
		av, err := compareFigures(cmp.a, path, agent, stage, st.get)
		if err != nil {
			return fmt.Errorf("compare: A: %w", err)
		}
		bv, err := compareFigures(cmp.b, path, agent, stage, st.get)
		if err != nil {
			return fmt.Errorf("compare: B: %w", err)
		}
		if av == nil || bv == nil {
			continue // a stage one side's runs do not have
		}
		row := compareRow{target: path + "/" + agent, metric: stage + " " + st.name, a: stats.Summarize(av), b: stats.Summarize(bv)}
		if row.change, err = compareChange(av, bv, cmp.alpha); err != nil {
			return err
		}
		if len(av) > 1 && len(bv) > 1 && row.a.Median > 0 {
			ci, err := stats.BootstrapMedianRatio(av, bv, 0.95, bootstrapResamples, bootstrapSeed)
			if err != nil {
				return fmt.Errorf("compare: %w", err)
			}
			row.ratio = fmt.Sprintf("%s [%s, %s]", stats.FormatSig(ci.Point), stats.FormatSig(ci.Lo), stats.FormatSig(ci.Hi))
		}
		cmp.rows = append(cmp.rows, row)
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
func compareFigures(runs []gate.Run, path, agent, stage string, get func(recorder.Summary) float64) ([]float64, error) {
	var out []float64
	for i, r := range runs {
		a, ok := r.Agent(path, agent)
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

// comparePairs lists the [path, agent] pairs of r in order.
func comparePairs(r gate.Run) [][2]string {
	var out [][2]string
	for _, p := range r.Paths {
		for _, a := range p.Agents {
			out = append(out, [2]string{p.Name, a.Name})
		}
	}
	return out
}

// compareStages lists the stages of path/agent in r but e2e (shown already),
// sorted.
func compareStages(r gate.Run, path, agent string) []string {
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

func (cmp *comparison) header() []string {
	side := func(name string, runs []gate.Run) string {
		labels := make([]string, len(runs))
		for i, r := range runs {
			labels[i] = r.Label
		}
		return fmt.Sprintf("%s: %d %s of %s: %s", name, len(runs), reports.Plural(len(runs), "run"), runs[0].Scenario, strings.Join(labels, " "))
	}
	return []string{side("A", cmp.a), side("B", cmp.b)}
}

func (cmp *comparison) columns() []string {
	cols := []string{"path/agent", "metric (ms)", "A", "B", "change"}
	if cmp.hasRatios() {
		cols = append(cols, "B/A [95% CI]")
	}
	return cols
}

func (cmp *comparison) hasRatios() bool {
	return len(cmp.a) > 1 && len(cmp.b) > 1
}

func (cmp *comparison) cells(r compareRow) []string {
	c := []string{r.target, r.metric, r.a.String(), r.b.String(), r.change}
	if cmp.hasRatios() {
		c = append(c, r.ratio)
	}
	return c
}

// writeText writes the comparison as aligned columns.
func (cmp *comparison) writeText(w io.Writer) error {
	for _, h := range cmp.header() {
		fmt.Fprintln(w, h)
	}
	for _, n := range cmp.notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cmp.columns(), "\t"))
	for _, r := range cmp.rows {
		fmt.Fprintln(tw, strings.Join(cmp.cells(r), "\t"))
	}
	return tw.Flush()
}

// writeMarkdown writes the comparison as a markdown table.
func (cmp *comparison) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	for _, h := range cmp.header() {
		fmt.Fprintf(&b, "%s  \n", h)
	}
	for _, n := range cmp.notes {
		fmt.Fprintf(&b, "\n> **Note:** %s\n", n)
	}
	cols := cmp.columns()
	fmt.Fprintf(&b, "\n| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat(" --- |", len(cols)))
	for _, r := range cmp.rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cmp.cells(r), " | "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
