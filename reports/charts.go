package reports

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/cdcbench/cdcbench/bench"
)

// Chart size: wide enough for a minute of one-second intervals to stay
// readable when the SVG is shown at a review page's width.
const (
	chartWidth  = 9 * vg.Inch
	chartHeight = 4.5 * vg.Inch
)

// wideRatio is the spread (largest / smallest value) above which a latency
// axis turns logarithmic: beyond it a linear axis squeezes the median of a
// fast path into the bottom pixel row.
const wideRatio = 30

// logFloor replaces zero on a logarithmic axis: 1 µs, the histograms'
// lowest discernible value, so "below 1 µs" is drawn at 1 µs.
const logFloor = 0.001

// palette gives each line family (agent or path) a colour that stays
// distinguishable in print; the first are gonum's dark colours.
var palette = []color.Color{
	color.RGBA{24, 90, 169, 255},
	color.RGBA{238, 46, 47, 255},
	color.RGBA{0, 140, 72, 255},
	color.RGBA{244, 125, 35, 255},
	color.RGBA{102, 44, 145, 255},
	color.RGBA{162, 29, 33, 255},
	color.RGBA{180, 56, 148, 255},
}

func paletteColor(i int) color.Color { return palette[i%len(palette)] }

// dashes tell the lines of one family apart: solid, dashed, dotted, dash-dot.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(7), vg.Points(3)},
	{vg.Points(1.5), vg.Points(2.5)},
	{vg.Points(7), vg.Points(3), vg.Points(1.5), vg.Points(3)},
}

func dash(i int) []vg.Length { return dashes[i%len(dashes)] }

// spectrumPoints is the percentile spectrum of h as HdrHistogram's plotter
// draws it from a .hgrm file: x = 1/(1-p) with p in [0, 1), y = the value at
// p in ms. The 100% point (x = ∞) is left out; the tables give the max.
func spectrumPoints(s *tagSeries) plotter.XYs {
	var xy plotter.XYs
	for _, b := range s.merged.CumulativeDistributionWithTicks(5) {
		if b.Quantile >= 100 {
			continue
		}
		xy = append(xy, plotter.XY{X: 1 / (1 - b.Quantile/100), Y: usToMs(b.ValueAt)})
	}
	return xy
}

// latencySeries is one path x agent's p50, p99 and max per interval; x is
// seconds from originMs to the middle of the interval.
func latencySeries(s *tagSeries, originMs int64) (p50, p99, max plotter.XYs) {
	for _, iv := range s.intervals {
		x := float64(iv.startMs-originMs)/1000 + bench.IntervalTick.Seconds()/2
		p50 = append(p50, plotter.XY{X: x, Y: iv.p50})
		p99 = append(p99, plotter.XY{X: x, Y: iv.p99})
		max = append(max, plotter.XY{X: x, Y: iv.max})
	}
	return p50, p99, max
}

// rateSeries is a path's offered and committed rows per second, drawn as
// steps: x is seconds since the measured window began (the warm-up is
// negative), and a closing point ends the last second's step.
func rateSeries(tl []bench.RatePoint, warmupS float64) (target, committed plotter.XYs) {
	for _, p := range tl {
		x := float64(p.Second) - warmupS
		target = append(target, plotter.XY{X: x, Y: float64(p.Target)})
		committed = append(committed, plotter.XY{X: x, Y: float64(p.Committed)})
	}
	if n := len(tl); n > 0 {
		x := float64(tl[n-1].Second+1) - warmupS
		target = append(target, plotter.XY{X: x, Y: target[n-1].Y})
		committed = append(committed, plotter.XY{X: x, Y: committed[n-1].Y})
	}
	return target, committed
}

// chartLine is one line of a chart with its legend entry.
type chartLine struct {
	name  string
	xy    plotter.XYs
	color color.Color
	dash  []vg.Length
	width vg.Length
	step  plotter.StepKind
}

// newPlot returns a plot with the report's title and axis labels and a
// light grid, the legend in the top left corner.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	p.Legend.YOffs = -vg.Points(4)
	p.Legend.ThumbnailWidth = vg.Points(28)
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	return p
}

// addLines draws lines on p. A latency y axis turns logarithmic when
// the values spread wider than wideRatio, and the y range gets headroom for
// the legend either way, so it does not cover the data.
func addLines(p *plot.Plot, lines []chartLine, latency bool) error {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for _, pt := range l.xy {
			if pt.Y > 0 {
				lo = math.Min(lo, pt.Y)
			}
			hi = math.Max(hi, pt.Y)
		}
	}
	logY := latency && hi/lo > wideRatio
	for _, l := range lines {
		xy := l.xy
		if logY {
			xy = make(plotter.XYs, len(l.xy))
			for i, pt := range l.xy {
				xy[i] = plotter.XY{X: pt.X, Y: math.Max(pt.Y, logFloor)}
			}
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("chart %q: %s: %w", p.Title.Text, l.name, err)
		}
		line.Color, line.Dashes, line.StepStyle = l.color, l.dash, l.step
		line.Width = vg.Points(1.2)
		if l.width > 0 {
			line.Width = l.width
		}
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	// Room above the data for the legend: one legend row is about 1/20 of
	// the plot's height.
	rows := float64(len(lines)) + 1
	switch {
	case logY:
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min = math.Max(lo, logFloor)
		p.Y.Max = hi * math.Pow(hi/p.Y.Min, rows/20)
	case hi > 0:
		p.Y.Min = 0
		p.Y.Max = hi * (1 + rows/20)
	}
	return nil
}

// latencyChart draws a path's e2e p50, p99 and max per interval, one colour
// per agent.
func latencyChart(path string, series []*tagSeries) (*plot.Plot, error) {
	origin := int64(math.MaxInt64)
	for _, s := range series {
		if len(s.intervals) > 0 {
			origin = min(origin, s.intervals[0].startMs)
		}
	}
	p := newPlot(fmt.Sprintf("%s: end-to-end latency per %v interval", path, bench.IntervalTick),
		"seconds since the first measured interval", "latency (ms)")
	var lines []chartLine
	for i, s := range series {
		p50, p99, max := latencySeries(s, origin)
		c := paletteColor(i)
		lines = append(lines,
			chartLine{name: s.agent + " max", xy: max, color: c, dash: dash(2)},
			chartLine{name: s.agent + " p99", xy: p99, color: c, dash: dash(1)},
			chartLine{name: s.agent + " p50", xy: p50, color: c, width: vg.Points(2)},
		)
	}
	return p, addLines(p, lines, true)
}

// spectrumChart draws every path x agent's percentile spectrum on one
// chart: colour per path, dash per agent.
func spectrumChart(series []*tagSeries) (*plot.Plot, error) {
	p := newPlot("end-to-end latency by percentile (all intervals merged)", "percentile", "latency (ms)")
	pathIdx, agentIdx := map[string]int{}, map[string]int{}
	maxX := 10.0
	var lines []chartLine
	for _, s := range series {
		if _, ok := pathIdx[s.path]; !ok {
			pathIdx[s.path] = len(pathIdx)
		}
		if _, ok := agentIdx[s.agent]; !ok {
			agentIdx[s.agent] = len(agentIdx)
		}
		xy := spectrumPoints(s)
		if n := len(xy); n > 0 {
			maxX = math.Max(maxX, xy[n-1].X)
		}
		lines = append(lines, chartLine{name: s.path + " " + s.agent, xy: xy,
			color: paletteColor(pathIdx[s.path]), dash: dash(agentIdx[s.agent]), width: vg.Points(1.6)})
	}
	if err := addLines(p, lines, true); err != nil {
		return nil, err
	}
	nines := int(math.Ceil(math.Log10(maxX)))
	p.X.Scale = plot.LogScale{}
	p.X.Min, p.X.Max = 1, math.Pow10(nines)
	p.X.Tick.Marker = percentileTicks(nines)
	return p, nil
}

// percentileTicks labels a 1/(1-p) axis from 0% to 100 - 10^(2-nines) %:
// 0%, 90%, 99%, 99.9%, …, with unlabelled minor ticks between.
func percentileTicks(nines int) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	for k := 0; k <= nines; k++ {
		v := math.Pow10(k)
		label := strconv.FormatFloat(100*(1-1/v), 'f', max(k-2, 0), 64) + "%"
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		if k < nines {
			for m := 2; m < 10; m++ {
				ticks = append(ticks, plot.Tick{Value: v * float64(m)})
			}
		}
	}
	return ticks
}

// rateChart draws target and committed rows per second of every path. The
// paths run one after another on the same schedule, so their targets
// normally coincide and are drawn once.
func rateChart(paths []bench.Path, warmupS float64) (*plot.Plot, error) {
	p := newPlot("offered (target) and committed rows per second", "seconds since the measured window began (warm-up is negative)", "rows/s")
	var lines []chartLine
	sameTarget := true
	for _, path := range paths[1:] {
		sameTarget = sameTarget && sameTargets(paths[0].Timeline, path.Timeline)
	}
	for i, path := range paths {
		target, committed := rateSeries(path.Timeline, warmupS)
		if i == 0 && sameTarget {
			name := "target"
			if len(paths) > 1 {
				name = "target (all paths)"
			}
			lines = append(lines, chartLine{name: name, xy: target, color: color.Black, dash: dash(1), step: plotter.PostStep})
		} else if !sameTarget {
			lines = append(lines, chartLine{name: path.Name + " target", xy: target, color: paletteColor(i), dash: dash(1), step: plotter.PostStep})
		}
		lines = append(lines, chartLine{name: path.Name + " committed", xy: committed, color: paletteColor(i), step: plotter.PostStep})
	}
	if err := addLines(p, lines, false); err != nil {
		return nil, err
	}
	if warmupS > 0 {
		start, err := plotter.NewLine(plotter.XYs{{X: 0, Y: p.Y.Min}, {X: 0, Y: p.Y.Max}})
		if err != nil {
			return nil, fmt.Errorf("chart %q: %w", p.Title.Text, err)
		}
		start.Color, start.Dashes = color.Gray{Y: 120}, dash(2)
		p.Add(start)
		p.Legend.Add("measuring starts", start)
	}
	return p, nil
}

func sameTargets(a, b []bench.RatePoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Target != b[i].Target {
			return false
		}
	}
	return true
}

// saveSVG writes p to file. Fonts are not embedded: it keeps a chart at
// tens of KB, and viewers substitute a metric-compatible sans-serif.
func saveSVG(p *plot.Plot, file string) error {
	wt, err := p.WriterTo(chartWidth, chartHeight, "svg")
	if err != nil {
		return fmt.Errorf("chart %s: %w", file, err)
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	_, err = wt.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("chart %s: %w", file, err)
	}
	return nil
}
