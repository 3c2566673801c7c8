package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// sweepCell is one cell of a sweep with the plan it runs.
type sweepCell struct {
	scenarios.Cell
	plan bench.Plan
}

// planCells expands spec's sweep and plans every cell with opts; nil when
// spec does not sweep. spec is the scenario as the flags left it, so that
// --duration or --paths apply to every cell.
func planCells(spec scenarios.Spec, opts []bench.PlanOption) ([]sweepCell, error) {
	cells, err := spec.Cells()
	if err != nil || cells == nil {
		return nil, err
	}
	out := make([]sweepCell, len(cells))
	for i, c := range cells {
		p, err := bench.PlanFrom(c.Spec, opts...)
		if err != nil {
			return nil, fmt.Errorf("sweep cell %d (%s): %w", c.Index, c.Label(), err)
		}
		out[i] = sweepCell{Cell: c, plan: p}
	}
	return out, nil
}

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

// What a run costs beyond its schedule, for the estimate a sweep prints
// before it starts: rounded up from runs on a 2-core machine. An estimate,
// not a promise: a run that loses events waits its drain_timeout.
const (
	estDrain         = 2 * time.Second  // after the producer stops, when nothing is missing
	estPathSetup     = 2 * time.Second  // a fresh table, slot or pollers, agents joining, the probe
	estDebeziumSetup = 15 * time.Second // the same plus the connector's registration, snapshot and first event
	estStackStart    = 2 * time.Second  // private PostgreSQL and in-process Kafka
	estJVMStackStart = 15 * time.Second // the local stack's Kafka and Connect
)

// estimateHow says what the estimate counts, beside it.
var estimateHow = fmt.Sprintf("an estimate: per path warm-up + duration + ~%v drain + ~%v set-up (~%v on a Debezium path), and ~%v per stack start (~%v for --stack local)",
	estDrain, estPathSetup, estDebeziumSetup, estStackStart, estJVMStackStart)

// Above these a sweep needs --yes: a typo in a values list, or one axis
// too many, should not quietly keep a machine busy until tomorrow.
const (
	maxCellsUnasked = 50
	maxSweepUnasked = 2 * time.Hour
)

// estimateRun is how long one run of p takes: its paths run one after
// another, each through the whole schedule.
func estimateRun(p bench.Plan, ch stack.Choice) time.Duration {
	var d time.Duration
	for _, ps := range p.Paths {
		setup := estPathSetup
		if ps.Kind == scenarios.PathDebezium || (ps.Kind == scenarios.PathCDC && ch.CDC == stack.CDCDebezium) {
			setup = estDebeziumSetup
		}
		d += p.Warmup + p.Duration + estDrain + setup
	}
	return d
}

// estimateRuns is how long plans take in turn, stack starts included: one,
// and another whenever the change topic's partitions change (the stack
// creates the topic; see runSweep).
func estimateRuns(plans []bench.Plan, ch stack.Choice) time.Duration {
	start := estStackStart
	if ch.Options.JVM {
		start = estJVMStackStart
	}
	var d time.Duration
	for i, p := range plans {
		if i == 0 || p.Partitions != plans[i-1].Partitions {
			d += start
		}
		d += estimateRun(p, ch)
	}
	return d
}

// cellPlans are the plans of cells, in order.
func cellPlans(cells []sweepCell) []bench.Plan {
	plans := make([]bench.Plan, len(cells))
	for i, c := range cells {
		plans[i] = c.plan
	}
	return plans
}

// sweepTooBig refuses a sweep above maxCellsUnasked cells or estimated
// above maxSweepUnasked unless yes, giving the estimate.
func sweepTooBig(cells int, estimate time.Duration, yes bool) error {
	if yes || (cells <= maxCellsUnasked && estimate <= maxSweepUnasked) {
		return nil
	}
	return fmt.Errorf("the sweep has %d cells and would take about %v (%s): more than %d cells or %v runs only with --yes (--plan lists the cells)",
		cells, estimate.Round(time.Second), estimateHow, maxCellsUnasked, scenarios.Duration(maxSweepUnasked))
}

// checkSweepSize applies sweepTooBig to rs, unless --yes or --plan (which
// runs nothing) is given.
func checkSweepSize(c *cli.Context, rs runSetup) error {
	if rs.cells == nil || c.Bool("plan") {
		return nil
	}
	return sweepTooBig(len(rs.cells), estimateRuns(cellPlans(rs.cells), rs.choice), c.Bool("yes"))
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
	if rs.cells == nil {
		_, err := fmt.Fprintf(w, "\n# one run on the %s stack, paths %s: about %v (%s)\n",
			rs.choice.Kind, strings.Join(rs.spec.Paths, ", "), estimateRuns([]bench.Plan{rs.plan}, rs.choice).Round(time.Second), estimateHow)
		return err
	}
	fmt.Fprintf(w, "\n# sweep over %s on the %s stack: %d cells, about %v in all (%s)\n",
		strings.Join(sweepFields(rs.spec), ", "), rs.choice.Kind, len(rs.cells), estimateRuns(cellPlans(rs.cells), rs.choice).Round(time.Second), estimateHow)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range rs.cells {
		fmt.Fprintf(tw, "#   cell %d/%d\t%s\tabout %v\t%s/\n", c.Index, len(rs.cells), c.Label(), estimateRun(c.plan, rs.choice).Round(time.Second), cellDirName(c.Cell, len(rs.cells)))
	}
	return tw.Flush()
}

// sweepFields are the fields spec sweeps, in order.
func sweepFields(spec scenarios.Spec) []string {
	out := make([]string, len(spec.Sweep))
	for i, sw := range spec.Sweep {
		out[i] = sw.Field
	}
	return out
}

// cellDirName names a cell's result directory in the sweep directory:
// "cell-02-rate-5000_batch_size-10", numbered to sort in order.
func cellDirName(c scenarios.Cell, cells int) string {
	width := max(2, len(strconv.Itoa(cells)))
	return fmt.Sprintf("cell-%0*d-%s", width, c.Index, c.Slug())
}

// runSweep runs every cell of rs in turn into a new sweep directory under
// --results, rewriting its index before and after every cell so that a
// sweep that stops (Ctrl-C, a failure, a kill) keeps what finished. The
// cells share one stack, except that a change of partitions starts a new
// one: the stack creates the change topic. It stops at the first cell
// that could not run, and returns invalidRun when any cell was invalid.
func runSweep(c *cli.Context, rs runSetup, log io.Writer) error {
	estimate := estimateRuns(cellPlans(rs.cells), rs.choice)
	dir, err := bench.ResultDir(c.String("results"), rs.spec.Name+"-sweep-"+time.Now().UTC().Format(bench.DirTimeFormat))
	if err != nil {
		return err
	}
	sr := &sweepRun{c: c, rs: rs, log: log, dir: dir, idx: newSweepIndex(rs, estimate)}
	if err := writeIndex(sr.idx, dir); err != nil {
		return err
	}
	if log != nil {
		fmt.Fprintf(log, "sweep %s: %d cells over %s, about %v (%s); index %s\n",
			rs.spec.Name, len(rs.cells), strings.Join(sr.idx.Fields, ", "), estimate.Round(time.Second), estimateHow, filepath.Join(dir, result.SweepFile))
	}
	defer sr.closeStack()
	var runErr error
	var invalid []string
	for i := range rs.cells {
		if runErr = c.Context.Err(); runErr != nil {
			break // between cells: the rest stay "not run"
		}
		var res *result.Result
		if res, runErr = sr.cell(i); runErr != nil {
			break
		}
		if !res.Valid {
			cell := rs.cells[i]
			invalid = append(invalid, fmt.Sprintf("cell %d (%s): %s", cell.Index, cell.Label(), strings.Join(res.InvalidReasons, "; ")))
		}
	}
	if err := reports.WriteSweepSummary(c.App.Writer, sr.idx); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(c.App.Writer, "\nsweep: %s (cdcbench report %s)\n", dir, dir)
	if runErr != nil {
		return runErr
	}
	if len(invalid) > 0 {
		return invalidRun{invalid}
	}
	return nil
}

// sweepRun is a sweep under way: its directory, its index and the stack
// its cells run on.
type sweepRun struct {
	c   *cli.Context
	rs  runSetup
	log io.Writer
	dir string
	idx *result.Sweep
	st  stack.Stack // nil until the first cell, and between two stacks
	cdc driver.CDC
}

// cell runs cell i, on the stack of the cell before unless its partitions
// differ, and prints its summary. An error means it could not run, or was
// interrupted: the sweep stops.
func (sr *sweepRun) cell(i int) (*result.Result, error) {
	cell, ic := sr.rs.cells[i], &sr.idx.Cells[i]
	if sr.st == nil || cell.plan.Partitions != sr.rs.cells[i-1].plan.Partitions {
		sr.closeStack()
		ch := sr.rs.choice
		ch.Options.Partitions = cell.plan.Partitions
		st, cdc, err := openStack(sr.c, sr.rs.spec.Name, ch, sr.log)
		if err != nil {
			failCell(ic, err)
			return nil, errors.Join(err, writeIndex(sr.idx, sr.dir))
		}
		sr.st, sr.cdc = st, cdc
	}
	if sr.log != nil {
		fmt.Fprintf(sr.log, "cell %d/%d (%s)\n", cell.Index, len(sr.rs.cells), cell.Label())
	}
	ic.Status = result.CellRunning
	if err := writeIndex(sr.idx, sr.dir); err != nil {
		return nil, err
	}
	cfg := benchConfig(sr.c, sr.log, cell.plan, sr.st, sr.cdc, sr.rs.choice)
	cfg.ResultsDir, cfg.DirName = sr.dir, cellDirName(cell.Cell, len(sr.rs.cells))
	res, dir, runErr := bench.Run(sr.c.Context, cfg)
	recordCell(ic, sr.dir, res, dir, runErr)
	if err := writeIndex(sr.idx, sr.dir); err != nil {
		return nil, errors.Join(runErr, err)
	}
	if res != nil {
		if err := reports.WriteSummary(sr.c.App.Writer, res); err != nil {
			return nil, errors.Join(runErr, err)
		}
		fmt.Fprintf(sr.c.App.Writer, "\nresults: %s (cell %d/%d: %s)\n", dir, cell.Index, len(sr.rs.cells), cell.Label())
	}
	return res, runErr
}

// closeStack stops the current stack, if any; after Ctrl-C too, within
// seconds (stack.Stop).
func (sr *sweepRun) closeStack() {
	if sr.st != nil {
		stack.Stop(sr.c.Context, sr.st)
		sr.st = nil
	}
}

// newSweepIndex is the index of rs before any cell ran.
func newSweepIndex(rs runSetup, estimate time.Duration) *result.Sweep {
	idx := &result.Sweep{
		SchemaVersion: result.SweepSchemaVersion, Version: version, ScenarioName: rs.spec.Name,
		StartedAt: time.Now().UTC(), Fields: sweepFields(rs.spec), EstimateS: estimate.Seconds(),
	}
	for _, c := range rs.cells {
		values := make([]string, len(c.Values))
		for i, fv := range c.Values {
			values[i] = fv.Value
		}
		idx.Cells = append(idx.Cells, result.SweepCell{Index: c.Index, Values: values, Label: c.Label(), Status: result.CellNotRun})
	}
	return idx
}

// writeIndex stamps idx and writes it into dir.
func writeIndex(idx *result.Sweep, dir string) error {
	idx.UpdatedAt = time.Now().UTC()
	return idx.Write(dir)
}

// recordCell puts what bench.Run returned for a cell into its entry.
func recordCell(ic *result.SweepCell, sweepDir string, res *result.Result, dir string, runErr error) {
	if res == nil {
		failCell(ic, runErr)
		return
	}
	if rel, err := filepath.Rel(sweepDir, dir); err == nil {
		ic.Dir = filepath.ToSlash(rel)
	}
	ic.Valid, ic.InvalidReasons = res.Valid, res.InvalidReasons
	ic.Paths = nil
	for _, p := range res.Paths {
		ic.Paths = append(ic.Paths, result.HeadlineOf(p))
	}
	switch {
	case errors.Is(runErr, context.Canceled):
		ic.Status = result.CellInterrupted
	case runErr != nil:
		ic.Status, ic.Error = result.CellFailed, runErr.Error()
	case res.Valid:
		ic.Status = result.CellValid
	default:
		ic.Status = result.CellInvalid
	}
}

// failCell marks a cell that produced no result: failed with err, or
// still not run when err is the sweep's cancellation.
func failCell(ic *result.SweepCell, err error) {
	if errors.Is(err, context.Canceled) {
		ic.Status = result.CellNotRun
		return
	}
	ic.Status, ic.Error = result.CellFailed, err.Error()
}
