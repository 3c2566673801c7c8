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
	"github.com/cdcbench/cdcbench/reports"
)

func compareCommand() *cli.Command {
	return &cli.Command{
		Name:      "compare",
		Usage:     "compare the latencies of two runs, or two sets of repeated runs",
		ArgsUsage: "A B | A1 A2... vs B1 B2...",
		Description: `Prints the e2e latency percentiles of every path and agent of A and B side by side,
with the change from A to B; of your own agents (run --agent-commands) the alert
latency, since their alerts are all cdcbench sees of them. Runs on different stacks
or machines are compared with a note saying so. Each operand is a result directory,
its result.json, or a baseline file (all of its runs). To compare sets of repeated
runs, separate them with the word "vs"; shell globs work on either side.

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
			cmp, err := gate.Compare(a, b, c.Float64("alpha"), c.Bool("stages"))
			if err != nil {
				return usageError{err}
			}
			if c.Bool("markdown") {
				return writeCompareMarkdown(c.App.Writer, cmp)
			}
			return writeCompareText(c.App.Writer, cmp)
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

// compareHeader names the runs of each side.
func compareHeader(cmp *gate.Comparison) []string {
	side := func(name string, runs []gate.Run) string {
		labels := make([]string, len(runs))
		for i, r := range runs {
			labels[i] = r.Label
		}
		return fmt.Sprintf("%s: %d %s of %s: %s", name, len(runs), reports.Plural(len(runs), "run"), runs[0].Scenario, strings.Join(labels, " "))
	}
	return []string{side("A", cmp.A), side("B", cmp.B)}
}

// compareHasRatios: the B/A column needs two runs a side.
func compareHasRatios(cmp *gate.Comparison) bool {
	return len(cmp.A) > 1 && len(cmp.B) > 1
}

func compareColumns(cmp *gate.Comparison) []string {
	cols := []string{"path/agent", "metric (ms)", "A", "B", "change"}
	if compareHasRatios(cmp) {
		cols = append(cols, "B/A [95% CI]")
	}
	return cols
}

func compareCells(cmp *gate.Comparison, r gate.CompareRow) []string {
	c := []string{r.Target, r.Metric, r.A.String(), r.B.String(), r.Change}
	if compareHasRatios(cmp) {
		c = append(c, r.Ratio)
	}
	return c
}

// writeCompareText writes the comparison as aligned columns.
func writeCompareText(w io.Writer, cmp *gate.Comparison) error {
	for _, h := range compareHeader(cmp) {
		fmt.Fprintln(w, h)
	}
	for _, n := range cmp.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(compareColumns(cmp), "\t"))
	for _, r := range cmp.Rows {
		fmt.Fprintln(tw, strings.Join(compareCells(cmp, r), "\t"))
	}
	return tw.Flush()
}

// writeCompareMarkdown writes the comparison as a markdown table.
func writeCompareMarkdown(w io.Writer, cmp *gate.Comparison) error {
	var b strings.Builder
	for _, h := range compareHeader(cmp) {
		fmt.Fprintf(&b, "%s  \n", h)
	}
	for _, n := range cmp.Notes {
		fmt.Fprintf(&b, "\n> **Note:** %s\n", n)
	}
	cols := compareColumns(cmp)
	fmt.Fprintf(&b, "\n| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat(" --- |", len(cols)))
	for _, r := range cmp.Rows {
		fmt.Fprintf(&b, "| %s |\n", strings.Join(compareCells(cmp, r), " | "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
