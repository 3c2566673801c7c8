package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// sweptFlags maps the sweep fields a run flag also sets to that flag.
var sweptFlags = map[string]string{
	"rate": "rate", "batch_size": "batch-size", "connections": "connections",
	"partitions": "partitions", "duration": "duration",
}

// sweepFlagConflicts refuses a flag that sets a field the scenario's sweep
// varies (the sweep would silently win or lose), and --repeat, which a
// sweep does not take: each cell runs once.
func sweepFlagConflicts(c *cli.Context, spec scenarios.Spec) error {
	if spec.Sweep == nil {
		return nil
	}
	if c.IsSet("repeat") {
		return fmt.Errorf("scenario %s sweeps, and a sweep runs each cell once: drop --repeat (run the sweep again for more samples)", spec.Name)
	}
	for _, sw := range spec.Sweep {
		if flag, ok := sweptFlags[sw.Field]; ok && c.IsSet(flag) {
			return fmt.Errorf("--%s sets %s, which the sweep of scenario %s varies over [%s]: drop the flag, or the field from the sweep",
				flag, sw.Field, spec.Name, strings.Join(sw.Values, ", "))
		}
	}
	return nil
}

// checkSweepSize refuses a sweep too big to run unasked, unless --yes or
// --plan (which runs nothing) is given.
func checkSweepSize(c *cli.Context, rs runSetup) error {
	if rs.sweep == nil || c.Bool("plan") {
		return nil
	}
	return rs.sweep.CheckSize(rs.choice, c.Bool("yes"))
}

// printPlan writes what run would do: the resolved scenario as a scenario
// file, then, as YAML comments (the output still parses), its runs or
// cells with their result directories and the estimate.
func printPlan(w io.Writer, rs runSetup) error {
	b, err := rs.spec.YAML()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if rs.sweep == nil {
		_, err := fmt.Fprintf(w, "\n# one run on the %s stack, paths %s: about %v (%s)\n",
			rs.choice.Kind, strings.Join(rs.spec.Paths, ", "), bench.EstimateRuns([]bench.Plan{rs.plan}, rs.choice).Round(time.Second), bench.EstimateHow)
		return err
	}
	sw := rs.sweep
	fmt.Fprintf(w, "\n# sweep over %s on the %s stack: %d cells, about %v in all (%s)\n",
		strings.Join(sw.Fields, ", "), rs.choice.Kind, len(sw.Cells), bench.EstimateRuns(sw.Plans(), rs.choice).Round(time.Second), bench.EstimateHow)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range sw.Cells {
		fmt.Fprintf(tw, "#   cell %d/%d\t%s\tabout %v\t%s/\n", c.Index, len(sw.Cells), c.Label(), bench.EstimateRun(c.Plan, rs.choice).Round(time.Second), sw.DirName(c))
	}
	return tw.Flush()
}

// runSweep runs rs's sweep, printing each cell's summary as it finishes
// and the sweep's at the end, also when a cell failed or Ctrl-C stopped it.
func runSweep(c *cli.Context, rs runSetup, s bench.Session) error {
	dir, idx, err := rs.sweep.Run(c.Context, s)
	if idx == nil {
		return err
	}
	if werr := reports.WriteSweepSummary(c.App.Writer, idx); werr != nil {
		return errors.Join(err, werr)
	}
	fmt.Fprintf(c.App.Writer, "\nresults: %s (sweep.json and a directory per cell)\n", dir)
	writeSweepNextSteps(c.App.Writer, dir, idx)
	return err
}

// writeSweepNextSteps says what to do with a sweep's results: its report,
// and with the cells that ended, the gate on each and a comparison of the
// first with the last.
func writeSweepNextSteps(w io.Writer, dir string, idx *result.Sweep) {
	var cells []string
	for _, c := range idx.Cells {
		if c.Dir != "" {
			cells = append(cells, filepath.Join(dir, c.Dir))
		}
	}
	fmt.Fprintf(w, "\nnext:\n  cdcbench report %s -o report.md   # the sweep's table and charts, then every cell's report\n", dir)
	if len(cells) == 0 {
		return
	}
	fmt.Fprintf(w, "  cdcbench gate %s   # each cell against gates/ci.yaml (exit 1 on a failed rule)\n", strings.Join(cells, " "))
	if len(cells) > 1 {
		fmt.Fprintf(w, "  cdcbench compare %s %s   # the first cell against the last\n", cells[0], cells[len(cells)-1])
	}
}
