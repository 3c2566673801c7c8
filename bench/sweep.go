package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/scenarios"
)

// Above these a sweep runs only when asked (CheckSize's yes): a typo in a
// values list, or one axis too many, should not quietly keep a machine
// busy until tomorrow.
const (
	MaxCellsUnasked = 50
	MaxSweepUnasked = 2 * time.Hour
)

// Sweep is a scenario's sweep with every cell planned: what Run runs.
type Sweep struct {
	Name   string   // the scenario's
	Fields []string // the swept fields, in order
	Cells  []Cell
}

// Cell is one cell of a sweep with the plan it runs.
type Cell struct {
	scenarios.Cell
	Plan Plan
}

// NewSweep expands spec's sweep and plans every cell with opts; nil when
// spec does not sweep. spec is the scenario as the flags left it, so that
// --duration or --paths apply to every cell.
func NewSweep(spec scenarios.Spec, opts ...PlanOption) (*Sweep, error) {
	cells, err := spec.Cells()
	if err != nil || cells == nil {
		return nil, err
	}
	sw := &Sweep{Name: spec.Name, Cells: make([]Cell, len(cells))}
	for _, f := range spec.Sweep {
		sw.Fields = append(sw.Fields, f.Field)
	}
	for i, c := range cells {
		p, err := PlanFrom(c.Spec, opts...)
		if err != nil {
			return nil, fmt.Errorf("sweep cell %d (%s): %w", c.Index, c.Label(), err)
		}
		sw.Cells[i] = Cell{Cell: c, Plan: p}
	}
	return sw, nil
}

// Plans are the plans of the cells, in order.
func (sw *Sweep) Plans() []Plan {
	plans := make([]Plan, len(sw.Cells))
	for i, c := range sw.Cells {
		plans[i] = c.Plan
	}
	return plans
}

// CheckSize refuses a sweep above MaxCellsUnasked cells or estimated above
// MaxSweepUnasked on ch unless yes, giving the estimate.
func (sw *Sweep) CheckSize(ch stack.Choice, yes bool) error {
	return sweepTooBig(len(sw.Cells), EstimateRuns(sw.Plans(), ch), yes)
}

// sweepTooBig refuses a sweep above MaxCellsUnasked cells or estimated
// above MaxSweepUnasked unless yes, giving the estimate.
func sweepTooBig(cells int, estimate time.Duration, yes bool) error {
	if yes || (cells <= MaxCellsUnasked && estimate <= MaxSweepUnasked) {
		return nil
	}
	return fmt.Errorf("the sweep has %d cells and would take about %v (%s): more than %d cells or %v runs only with --yes (--plan lists the cells)",
		cells, estimate.Round(time.Second), EstimateHow, MaxCellsUnasked, scenarios.Duration(MaxSweepUnasked))
}

// DirName names a cell's result directory in the sweep directory:
// "cell-02-rate-5000_batch_size-10", numbered to sort in order.
func (sw *Sweep) DirName(c Cell) string {
	width := max(2, len(strconv.Itoa(len(sw.Cells))))
	return fmt.Sprintf("cell-%0*d-%s", width, c.Index, c.Slug())
}

// Run runs every cell in turn into a new sweep directory under
// s.ResultsDir, rewriting its index before and after every cell so that a
// sweep that stops (Ctrl-C, a failure, a kill) keeps what finished. The
// cells share one stack, except that a change of partitions starts a new
// one: the stack creates the change topic. It stops at the first cell
// that could not run, and returns an *InvalidError when any cell was
// invalid. The index comes back with the error whenever the sweep
// directory was made, for the caller's summary; dir is that directory.
func (sw *Sweep) Run(ctx context.Context, s Session) (string, *result.Sweep, error) {
	estimate := EstimateRuns(sw.Plans(), s.Choice)
	dir, err := ResultDir(s.ResultsDir, sw.Name+"-sweep-"+time.Now().UTC().Format(DirTimeFormat))
	if err != nil {
		return "", nil, err
	}
	sr := &sweepRun{sw: sw, s: s, dir: dir, idx: sw.newIndex(s.Version, estimate)}
	if err := writeIndex(sr.idx, dir); err != nil {
		return "", nil, err
	}
	if s.Log != nil {
		fmt.Fprintf(s.Log, "sweep %s: %d cells over %s, about %v (%s); index %s\n",
			sw.Name, len(sw.Cells), strings.Join(sw.Fields, ", "), estimate.Round(time.Second), EstimateHow, filepath.Join(dir, result.SweepFile))
	}
	defer sr.closeStack(ctx)
	var invalid []string
	for i := range sw.Cells {
		if err := ctx.Err(); err != nil {
			return dir, sr.idx, err // between cells: the rest stay "not run"
		}
		res, err := sr.cell(ctx, i)
		if err != nil {
			return dir, sr.idx, err
		}
		if !res.Valid {
			cell := sw.Cells[i]
			invalid = append(invalid, fmt.Sprintf("cell %d (%s): %s", cell.Index, cell.Label(), strings.Join(res.InvalidReasons, "; ")))
		}
	}
	if len(invalid) > 0 {
		return dir, sr.idx, &InvalidError{invalid}
	}
	return dir, sr.idx, nil
}

// sweepRun is a sweep under way: its directory, its index and the stack
// its cells run on.
type sweepRun struct {
	sw  *Sweep
	s   Session
	dir string
	idx *result.Sweep
	st  stack.Stack // nil until the first cell, and between two stacks
	cdc driver.CDC
}

// cell runs cell i, on the stack of the cell before unless its partitions
// differ, and hands its result to the session. An error means it could
// not run, or was interrupted: the sweep stops.
func (sr *sweepRun) cell(ctx context.Context, i int) (*result.Result, error) {
	cell, ic := sr.sw.Cells[i], &sr.idx.Cells[i]
	if sr.st == nil || cell.Plan.Partitions != sr.sw.Cells[i-1].Plan.Partitions {
		sr.closeStack(ctx)
		ch := sr.s.Choice
		ch.Options.Partitions = cell.Plan.Partitions
		st, cdc, err := sr.s.openStack(ctx, sr.sw.Name, ch)
		if err != nil {
			failCell(ic, err)
			return nil, errors.Join(err, writeIndex(sr.idx, sr.dir))
		}
		sr.st, sr.cdc = st, cdc
	}
	if sr.s.Log != nil {
		fmt.Fprintf(sr.s.Log, "cell %d/%d (%s)\n", cell.Index, len(sr.sw.Cells), cell.Label())
	}
	ic.Status = result.CellRunning
	if err := writeIndex(sr.idx, sr.dir); err != nil {
		return nil, err
	}
	cfg := sr.s.config(cell.Plan, sr.st, sr.cdc)
	cfg.ResultsDir, cfg.DirName = sr.dir, sr.sw.DirName(cell)
	res, dir, runErr := Run(ctx, cfg)
	recordCell(ic, sr.dir, res, dir, runErr)
	if err := writeIndex(sr.idx, sr.dir); err != nil {
		return nil, errors.Join(runErr, err)
	}
	if res != nil {
		if err := sr.s.done(res, dir, &cell); err != nil {
			return nil, errors.Join(runErr, err)
		}
	}
	return res, runErr
}

// closeStack stops the current stack, if any; after Ctrl-C too, within
// seconds (stack.Stop).
func (sr *sweepRun) closeStack(ctx context.Context) {
	if sr.st != nil {
		stack.Stop(ctx, sr.st)
		sr.st = nil
	}
}

// newIndex is the index of sw before any cell ran.
func (sw *Sweep) newIndex(version string, estimate time.Duration) *result.Sweep {
	idx := &result.Sweep{
		SchemaVersion: result.SweepSchemaVersion, Version: version, ScenarioName: sw.Name,
		StartedAt: time.Now().UTC(), Fields: sw.Fields, EstimateS: estimate.Seconds(),
	}
	for _, c := range sw.Cells {
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

// recordCell puts what Run returned for a cell into its entry.
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
