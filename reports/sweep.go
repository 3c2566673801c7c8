package reports

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/cdcbench/cdcbench/internal/result"
)

// sweep is a sweep directory, loaded: its index and the runs of the cells
// that have a result.
type sweep struct {
	dir    string
	idx    *result.Sweep
	cells  []*run // by the index's cells; nil for a cell without a result
	charts []chart
}

// loadSweep reads dir's sweep.json and every cell's result directory it
// names. A cell it names whose result cannot be read fails the report, as
// any result directory does; a cell that never finished names none.
func loadSweep(dir string) (*sweep, error) {
	idx, err := result.ReadSweep(dir)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w: %w", dir, ErrNotResult, err)
	}
	sw := &sweep{dir: dir, idx: idx, cells: make([]*run, len(idx.Cells))}
	for i, c := range idx.Cells {
		if c.Dir == "" {
			continue
		}
		r, err := load(filepath.Join(dir, filepath.FromSlash(c.Dir)))
		if err != nil {
			return nil, err
		}
		r.cell = cell(fmt.Sprintf("cell %d/%d: %s", c.Index, len(idx.Cells), c.Label)) // named in table cells
		sw.cells[i] = r
	}
	return sw, nil
}

// runs are the cells that have a result, in order.
func (sw *sweep) runs() []*run {
	var out []*run
	for _, r := range sw.cells {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// WriteSweepSummary writes the table a sweep prints at its end: per cell
// its values, how it ended and each path's headline (the slower agent's
// e2e p50 and p99), from the index alone.
func WriteSweepSummary(w io.Writer, idx *result.Sweep) error {
	fmt.Fprintf(w, "\ncdcbench sweep %s: %d cells over %s (e2e ms of each path's slower agent)\n",
		idx.ScenarioName, len(idx.Cells), strings.Join(idx.Fields, ", "))
	paths := sweepPaths(idx)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "cell\t"+strings.Join(idx.Fields, "\t")+"\tstatus\t")
	for _, p := range paths {
		fmt.Fprintf(tw, "%s p50\tp99\t", p)
	}
	fmt.Fprintln(tw)
	for _, c := range idx.Cells {
		fmt.Fprintf(tw, "%d\t%s\t%s\t", c.Index, strings.Join(c.Values, "\t"), c.Status)
		for _, p := range paths {
			i := slices.IndexFunc(c.Paths, func(h result.Headline) bool { return h.Path == p })
			if i < 0 {
				fmt.Fprint(tw, "–\t–\t")
				continue
			}
			fmt.Fprintf(tw, "%.2f\t%.2f\t", c.Paths[i].P50Ms, c.Paths[i].P99Ms)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// sweepPaths are the paths of the index's cells, in order of appearance.
func sweepPaths(idx *result.Sweep) []string {
	var out []string
	for _, c := range idx.Cells {
		for _, h := range c.Paths {
			if !slices.Contains(out, h.Path) {
				out = append(out, h.Path)
			}
		}
	}
	return out
}

// writeSweep renders a sweep: what ran, one table row per cell x path x
// agent, and the charts of latency against the first swept field.
func writeSweep(b *bytes.Buffer, sw *sweep) {
	idx := sw.idx
	fmt.Fprintf(b, "## Sweep %s over %s\n\n", idx.ScenarioName, strings.Join(idx.Fields, " × "))
	counts := map[string]int{}
	for _, c := range idx.Cells {
		counts[c.Status]++
	}
	var ended []string
	for _, st := range []string{result.CellValid, result.CellInvalid, result.CellInterrupted, result.CellFailed, result.CellRunning, result.CellNotRun} {
		if counts[st] > 0 {
			ended = append(ended, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(b, "| directory | `%s` |\n", sw.dir)
	fmt.Fprintf(b, "| started | %s (index last written %s) |\n", idx.StartedAt.UTC().Format("2006-01-02 15:04:05 MST"), idx.UpdatedAt.UTC().Format("15:04:05"))
	fmt.Fprintf(b, "| cells | %d: %s |\n", len(idx.Cells), strings.Join(ended, ", "))
	fmt.Fprintf(b, "| estimated | %s s before it started (took %s s) |\n", plain(math.Round(idx.EstimateS)), plain(math.Round(idx.UpdatedAt.Sub(idx.StartedAt).Seconds())))
	b.WriteString("\n| cell |")
	for _, f := range idx.Fields {
		fmt.Fprintf(b, " %s |", cell(f))
	}
	b.WriteString(" path | agent | target rows/s | achieved rows/s | rows | e2e p50 ms | p90 | p99 | max | verdict |\n|---:|" +
		strings.Repeat("---:|", len(idx.Fields)) + "---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for i, c := range idx.Cells {
		head := fmt.Sprintf("| %d | %s |", c.Index, strings.Join(mapStrings(c.Values, cell), " | "))
		r := sw.cells[i]
		if r == nil || len(r.res.Paths) == 0 {
			fmt.Fprintf(b, "%s – | – | | | | | | | | %s |\n", head, cellVerdict(c))
			continue
		}
		for _, p := range r.res.Paths {
			for _, a := range p.Agents {
				e := a.E2E
				fmt.Fprintf(b, "%s %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", head, p.Name, a.Name,
					rate(p.TargetRowsPerS), rate(p.AchievedRowsPerS), p.RowsProduced,
					ms(e.P50, e.Count), ms(e.P90, e.Count), ms(e.P99, e.Count), ms(e.Max, e.Count), cellVerdict(c))
			}
		}
	}
	howToRead(b, "one row per cell x path x agent, figures from each cell's result.json (its section below has the rest); rows are the rows produced, warm-up included. Cells ran one after another on the same stack and seeded workload, so they differ only in the swept values, and in whatever else the machine was doing meanwhile. An INVALID cell's figures are no evidence.")
	for _, c := range sw.charts {
		if c.file == "" {
			fmt.Fprintf(b, "**%s**: %s\n\n", c.title, c.read)
			continue
		}
		fmt.Fprintf(b, "**%s**\n\n![%s](%s)\n", c.title, c.title, c.file)
		howToRead(b, c.read)
	}
}

// cellVerdict says how a cell ended, in the runs' words when it ran.
func cellVerdict(c result.SweepCell) string {
	switch c.Status {
	case result.CellValid, result.CellInvalid:
		return verdict(c.Valid)
	case result.CellFailed:
		return "❌ **failed**: " + cell(c.Error)
	case result.CellInterrupted:
		return "❌ **interrupted**"
	case result.CellRunning:
		return "never finished"
	}
	return cell(c.Status)
}

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// sweepGroup is the cells of one chart: those that share the values of
// every field but the first, which is the chart's x axis.
type sweepGroup struct {
	label string // "batch_size=10", "" when only one field is swept
	cells []int  // indexes into the sweep's cells
}

// groups splits the cells by the values of the fields after the first, in
// order of appearance.
func (sw *sweep) groups() []sweepGroup {
	var out []sweepGroup
	for i, c := range sw.idx.Cells {
		var parts []string
		for j, f := range sw.idx.Fields[1:] {
			parts = append(parts, f+"="+c.Values[j+1])
		}
		label := strings.Join(parts, ", ")
		k := slices.IndexFunc(out, func(g sweepGroup) bool { return g.label == label })
		if k < 0 {
			out = append(out, sweepGroup{label: label})
			k = len(out) - 1
		}
		out[k].cells = append(out[k].cells, i)
	}
	return out
}

// drawCharts writes one chart per group into dir and records them.
func (sw *sweep) drawCharts(dir string) error {
	link := strings.ReplaceAll(filepath.Base(dir), " ", "%20") + "/"
	slug := fileSafe(sw.idx.ScenarioName + "-sweep-" + sw.idx.StartedAt.UTC().Format("20060102T150405Z"))
	for k, g := range sw.groups() {
		p, left, err := sw.chart(g)
		if err != nil {
			return err
		}
		title := sw.chartTitle(g)
		read := "x is the first swept field, each point one cell; per path (its colour) the solid line is the e2e p50 and the dashed one the p99, each the slower of the path's agents, as in sweep.json."
		if len(left) > 0 {
			read += fmt.Sprintf(" Left out, having no valid result: %s.", strings.Join(left, ", "))
		}
		if p == nil {
			sw.charts = append(sw.charts, chart{title: title, read: fmt.Sprintf("no chart: none of its cells has a valid result (%s).", strings.Join(left, ", "))})
			continue
		}
		name := fmt.Sprintf("%s-%d.svg", slug, k+1)
		if err := saveSVG(p, filepath.Join(dir, name)); err != nil {
			return err
		}
		sw.charts = append(sw.charts, chart{file: link + name, title: title, read: read})
	}
	return nil
}

// chartTitle names g's chart: the x field, and the other fields' values.
func (sw *sweep) chartTitle(g sweepGroup) string {
	title := "e2e latency against " + sw.idx.Fields[0]
	if g.label != "" {
		title += ", " + g.label
	}
	return title
}

// chart draws group g: per path its headline p50 and p99 against the
// first field's value, valid cells only. The x axis is numeric when every
// value is a number (logarithmic when they spread wider than wideRatio),
// and otherwise the values in their order, evenly spaced ("default", "10").
// It returns the cells left out, and a nil plot when none is left.
func (sw *sweep) chart(g sweepGroup) (*plot.Plot, []string, error) {
	xs, ticks, logX := sw.xAxis(g)
	var keys chartKeys
	series := map[string]*[2]plotter.XYs{} // path → p50, p99
	var left []string
	for n, i := range g.cells {
		r := sw.cells[i]
		if r == nil || !r.res.Valid {
			c := sw.idx.Cells[i]
			left = append(left, fmt.Sprintf("cell %d (%s)", c.Index, c.Status))
			continue
		}
		for _, path := range r.res.Paths {
			h := result.HeadlineOf(path)
			s := series[path.Name]
			if s == nil {
				s = &[2]plotter.XYs{}
				series[path.Name] = s
				keys.paths = append(keys.paths, path.Name)
			}
			s[0] = append(s[0], plotter.XY{X: xs[n], Y: h.P50Ms})
			s[1] = append(s[1], plotter.XY{X: xs[n], Y: h.P99Ms})
		}
	}
	if len(keys.paths) == 0 {
		return nil, left, nil
	}
	p := newPlot(sw.chartTitle(g), sw.xLabel(), "latency (ms)")
	var lines []chartLine
	for _, path := range keys.paths {
		s := series[path]
		lines = append(lines,
			chartLine{name: path + " p99", xy: s[1], color: keys.path(path), dash: dash(1), glyphs: true},
			chartLine{name: path + " p50", xy: s[0], color: keys.path(path), width: vg.Points(2), glyphs: true},
		)
	}
	if err := addLines(p, lines, true, 0); err != nil {
		return nil, nil, err
	}
	if logX {
		p.X.Scale = plot.LogScale{}
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	pad := (hi - lo) * 0.05
	if logX {
		p.X.Min, p.X.Max = lo/1.1, hi*1.1
	} else {
		p.X.Min, p.X.Max = lo-max(pad, 0.5), hi+max(pad, 0.5)
	}
	p.X.Tick.Marker = ticks
	return p, left, nil
}

// xLabel is the x axis's label: the first field, and for rate the unit
// the cells' scenario states it in.
func (sw *sweep) xLabel() string {
	field := sw.idx.Fields[0]
	if field != "rate" {
		return field
	}
	for _, r := range sw.runs() {
		if m, ok := r.res.Scenario.(map[string]any); ok {
			if rt, ok := m["rate"].(map[string]any); ok {
				if unit, ok := rt["unit"].(string); ok {
					return field + " (" + unit + ")"
				}
			}
		}
	}
	return field
}

// xAxis places g's cells on the x axis: at their values when all are
// numbers, else at 1, 2, ... in the order of the values; ticks label
// them with the values as written.
func (sw *sweep) xAxis(g sweepGroup) (xs []float64, ticks plot.ConstantTicks, logX bool) {
	numeric := true
	for _, i := range g.cells {
		v, err := strconv.ParseFloat(sw.idx.Cells[i].Values[0], 64)
		numeric = numeric && err == nil && !math.IsInf(v, 0) && !math.IsNaN(v)
		xs = append(xs, v)
	}
	var seen []string
	for n, i := range g.cells {
		value := sw.idx.Cells[i].Values[0]
		if !numeric {
			k := slices.Index(seen, value)
			if k < 0 {
				seen = append(seen, value)
				k = len(seen) - 1
			}
			xs[n] = float64(k + 1)
		}
		ticks = append(ticks, plot.Tick{Value: xs[n], Label: value})
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	return xs, ticks, numeric && lo > 0 && hi/lo > wideRatio
}
