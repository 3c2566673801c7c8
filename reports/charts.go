package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/result"
)

// Chart size: wide enough for a minute of one-second intervals to stay
// readable when the SVG is shown at a review page's width. The margin keeps
// tick labels at the canvas edge visible when a viewer substitutes a wider
// font than the one gonum measured.
const (
	chartWidth  = 9 * vg.Inch
	chartHeight = 4.5 * vg.Inch
	chartMargin = 14 * vg.Millimeter / 2
)

// sans is the charts' typeface. The SVG names it "Liberation Sans", which
// has Arial's and Helvetica's metrics, and saveSVG adds those as fallbacks;
// a viewer with none of them substitutes another font (DejaVu Sans, 10-15%
// wider), so text is anchored at the side gonum aligned it to (anchoredText):
// a wider font then grows away from what the text is placed against.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// wideRatio is the spread (largest / smallest value) above which a latency
// axis turns logarithmic: beyond it a linear axis squeezes the median of a
// fast path into the bottom pixel row.
const wideRatio = 30

// logFloor replaces zero on a logarithmic axis: 1 µs, the histograms'
// lowest discernible value, so "below 1 µs" is drawn at 1 µs.
const logFloor = 0.001

// palette gives each path a colour that stays distinguishable in print; the
// first are gonum's dark colours.
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

// chartKeys gives colour and shade one meaning in every chart of a run, so
// that a reader learns them once: the colour is the path (by its place in
// the run), the shade the agent (agents.Names order: the first full, the
// next lighter). Dashes tell a line's kind within a chart (p50, p99, max;
// committed or target). The charts used to colour by agent in the latency
// charts and by path in the others.
type chartKeys struct {
	paths []string
	// agents are the built-in agents, then the agent commands of the
	// series, in their order.
	agents []string
}

func newChartKeys(paths []result.Path, series []*result.TagSeries) chartKeys {
	k := chartKeys{agents: slices.Clone(agents.Names)}
	for _, p := range paths {
		k.paths = append(k.paths, p.Name)
	}
	for _, s := range series {
		if !slices.Contains(k.agents, s.Agent) {
			k.agents = append(k.agents, s.Agent)
		}
	}
	return k
}

// path is the colour of a path; one the run does not have gets the next.
func (k chartKeys) path(name string) color.Color {
	i := slices.Index(k.paths, name)
	if i < 0 {
		i = len(k.paths)
	}
	return paletteColor(i)
}

// shade is the colour of agent's lines on path: the path's colour for the
// first agent, mixed with more white for each next one.
func (k chartKeys) shade(path, agent string) color.Color {
	c := k.path(path)
	i := slices.Index(k.agents, agent)
	if i <= 0 {
		return c
	}
	keep := math.Pow(0.55, float64(i))
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8(keep*float64(v>>8) + (1-keep)*255) }
	return color.RGBA{mix(r), mix(g), mix(b), 255}
}

// seriesName names agent's lines in a legend: an agent command's series
// is its alerts' latency, not every row's.
func seriesName(agent string) string {
	if slices.Contains(agents.Names, agent) {
		return agent
	}
	return agent + " (alerts)"
}

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
func spectrumPoints(s *result.TagSeries) plotter.XYs {
	var xy plotter.XYs
	for _, b := range s.Merged.CumulativeDistributionWithTicks(5) {
		if b.Quantile >= 100 {
			continue
		}
		xy = append(xy, plotter.XY{X: 1 / (1 - b.Quantile/100), Y: result.UsToMs(b.ValueAt)})
	}
	return xy
}

// latencySeries is one path x agent's p50, p99 and max per interval; x is
// seconds from originMs to the middle of the interval. The report's origin
// is the path's first logged interval: the warm-up is not timed, so that is
// the interval in which the measured window began, give or take the 50 ms
// between the interval clock's start and the schedule's.
func latencySeries(s *result.TagSeries, originMs int64) (p50, p99, max plotter.XYs) {
	for _, iv := range s.Intervals {
		x := float64(iv.StartMs-originMs)/1000 + result.IntervalTick.Seconds()/2
		p50 = append(p50, plotter.XY{X: x, Y: iv.P50})
		p99 = append(p99, plotter.XY{X: x, Y: iv.P99})
		max = append(max, plotter.XY{X: x, Y: iv.Max})
	}
	return p50, p99, max
}

// rateSeries is a path's offered and committed rows per second, drawn as
// steps: x is seconds since the measured window began (the warm-up is
// negative), and a closing point ends the last second's step.
func rateSeries(tl []result.RatePoint, warmupS float64) (target, committed plotter.XYs) {
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

// A legend entry's sample is legendSample wide, legendGap from its text:
// gonum leaves only a space between them, in which a dotted sample read
// as part of the text ("measuring starts·····").
const (
	legendSample = 28 * vg.Length(1)
	legendGap    = 5 * vg.Length(1)
)

// inset draws a legend sample legendGap in from the text side of its box.
type inset struct{ plot.Thumbnailer }

func (t inset) Thumbnail(c *draw.Canvas) {
	in := *c
	in.Min.X += legendGap
	t.Thumbnailer.Thumbnail(&in)
}

// chartLine is one line of a chart with its legend entry.
type chartLine struct {
	name  string
	xy    plotter.XYs
	color color.Color
	dash  []vg.Length
	width vg.Length
	step  plotter.StepKind
	// glyphs marks every point, for lines of a few points each of which
	// is a measurement (a sweep's cells) rather than a sample of a curve.
	glyphs bool
}

// newPlot returns a plot with the report's title, axis labels and fonts, a
// light grid, and the legend in the top right corner.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 13)
	for _, sty := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		sty.Handler = anchoredText{sty.Handler}
	}
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 11)
		a.Tick.Label.Font = font.From(sans, 10)
	}
	p.Legend.Top = true
	p.Legend.XOffs = -vg.Points(6)
	p.Legend.YOffs = -vg.Points(4)
	p.Legend.ThumbnailWidth = legendGap + legendSample
	p.Legend.TextStyle.Font = font.From(sans, 9)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	return p
}

// addLines draws lines on p. A latency y axis turns logarithmic when
// the values spread wider than wideRatio, and the y range gets headroom for
// the legend either way, so it does not cover the data: one row per line
// plus extraRows for entries added later (marks, spans).
func addLines(p *plot.Plot, lines []chartLine, latency bool, extraRows int) error {
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
		if !l.glyphs {
			p.Legend.Add(l.name, inset{line})
			continue
		}
		dots, err := plotter.NewScatter(xy)
		if err != nil {
			return fmt.Errorf("chart %q: %s: %w", p.Title.Text, l.name, err)
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: l.color, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		p.Add(dots)
		p.Legend.Add(l.name, inset{line}, inset{dots})
	}
	// Room above the data for the legend: one legend row is about 1/20 of
	// the plot's height.
	rows := float64(len(lines)+extraRows) + 1
	switch {
	case logY:
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(logTicks)
		p.Y.Min = math.Max(lo, logFloor)
		p.Y.Max = hi * math.Pow(hi/p.Y.Min, rows/20)
	case hi > 0:
		p.Y.Min = 0
		p.Y.Max = hi * (1 + rows/20)
	}
	return nil
}

// latencyChart draws a path's e2e p50, p99 and max per interval in the
// path's colour, a shade per agent (chartKeys), and shades the faults
// (seconds on the same axis).
func latencyChart(keys chartKeys, path string, series []*result.TagSeries, faults []span) (*plot.Plot, error) {
	origin := int64(math.MaxInt64)
	for _, s := range series {
		if len(s.Intervals) > 0 {
			origin = min(origin, s.Intervals[0].StartMs)
		}
	}
	p := newPlot(fmt.Sprintf("%s: end-to-end latency per %v interval", path, result.IntervalTick),
		"seconds since the measured window began", "latency (ms)")
	var lines []chartLine
	for _, s := range series {
		p50, p99, max := latencySeries(s, origin)
		c := keys.shade(path, s.Agent)
		name := seriesName(s.Agent)
		lines = append(lines,
			chartLine{name: name + " max", xy: max, color: c, dash: dash(2)},
			chartLine{name: name + " p99", xy: p99, color: c, dash: dash(1)},
			chartLine{name: name + " p50", xy: p50, color: c, width: vg.Points(2)},
		)
	}
	if err := addLines(p, lines, true, min(len(faults), 1)); err != nil {
		return nil, err
	}
	p.X.Min = 0
	p.X.Tick.Marker = plot.TickerFunc(secondTicks)
	if err := addSpans(p, "fault injected", faults); err != nil {
		return nil, err
	}
	return p, nil
}

// spectrumChart draws every path x agent's percentile spectrum on one
// chart: colour per path, shade per agent (chartKeys).
func spectrumChart(keys chartKeys, series []*result.TagSeries) (*plot.Plot, error) {
	p := newPlot("end-to-end latency by percentile (all intervals merged)", "percentile", "latency (ms)")
	maxX := 10.0
	var lines []chartLine
	for _, s := range series {
		xy := spectrumPoints(s)
		if n := len(xy); n > 0 {
			maxX = math.Max(maxX, xy[n-1].X)
		}
		lines = append(lines, chartLine{name: s.Path + " " + seriesName(s.Agent), xy: xy,
			color: keys.shade(s.Path, s.Agent), width: vg.Points(1.6)})
	}
	if err := addLines(p, lines, true, 0); err != nil {
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
// paths run one after another on the same schedule, so their lines often
// coincide: earlier paths are drawn wider so later ones stay visible on top,
// the targets come last, and identical targets are drawn once.
func rateChart(keys chartKeys, paths []result.Path, warmupS float64) (*plot.Plot, error) {
	p := newPlot("offered (target) and committed rows per second", "seconds since the measured window began (warm-up is negative)", "rows/s")
	var lines, targets []chartLine
	sameTarget := true
	for _, path := range paths[1:] {
		sameTarget = sameTarget && sameTargets(paths[0].Timeline, path.Timeline)
	}
	for i, path := range paths {
		target, committed := rateSeries(path.Timeline, warmupS)
		width := vg.Points(1.5 + 2*float64(len(paths)-1-i))
		lines = append(lines, chartLine{name: path.Name + " committed", xy: committed, color: keys.path(path.Name), width: width, step: plotter.PostStep})
		switch {
		case !sameTarget:
			targets = append(targets, chartLine{name: path.Name + " target", xy: target, color: keys.path(path.Name), dash: dash(1), step: plotter.PostStep})
		case i == 0:
			name := "target"
			if len(paths) > 1 {
				name = "target (all paths)"
			}
			targets = append(targets, chartLine{name: name, xy: target, color: color.Black, dash: dash(1), step: plotter.PostStep})
		}
	}
	lines = append(lines, targets...)
	var faults []span
	for _, path := range paths {
		for _, sp := range faultSpans(path, warmupS) {
			if !slices.Contains(faults, sp) {
				faults = append(faults, sp)
			}
		}
	}
	marks := min(len(faults), 1)
	if warmupS > 0 {
		marks++
	}
	if err := addLines(p, lines, false, marks); err != nil {
		return nil, err
	}
	p.X.Tick.Marker = plot.TickerFunc(secondTicks)
	if warmupS > 0 {
		if err := addMarks(p, "measuring starts", []float64{0}, color.Gray{Y: 120}); err != nil {
			return nil, err
		}
	}
	if err := addSpans(p, "fault injected", faults); err != nil {
		return nil, err
	}
	return p, nil
}

// span is a stretch of a chart's x axis, from and to.
type span struct{ from, to float64 }

// faultSpans are the stretches, in seconds on the charts' measured-window
// axis, during which the faults that applied to path were in force.
func faultSpans(path result.Path, warmupS float64) []span {
	var out []span
	for _, f := range path.Faults {
		if f.Skipped == "" && f.Error == "" {
			out = append(out, span{f.AtS - warmupS, f.AtS + f.DurationS - warmupS})
		}
	}
	return out
}

// addSpans shades each span across p's height in translucent orange, with
// one legend entry. Call it after addLines, which sets the y range.
func addSpans(p *plot.Plot, name string, spans []span) error {
	for i, sp := range spans {
		box, err := plotter.NewPolygon(plotter.XYs{
			{X: sp.from, Y: p.Y.Min}, {X: sp.to, Y: p.Y.Min}, {X: sp.to, Y: p.Y.Max}, {X: sp.from, Y: p.Y.Max}})
		if err != nil {
			return fmt.Errorf("chart %q: %s: %w", p.Title.Text, name, err)
		}
		box.Color = color.NRGBA{230, 140, 0, 60}
		box.LineStyle.Width = 0
		p.Add(box)
		if i == 0 {
			p.Legend.Add(name, inset{box})
		}
	}
	return nil
}

// addMarks draws a vertical line across p at each x, with one legend entry.
// Call it after addLines, which sets the y range the lines span.
func addMarks(p *plot.Plot, name string, xs []float64, c color.Color) error {
	for i, x := range xs {
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: p.Y.Max}})
		if err != nil {
			return fmt.Errorf("chart %q: %s: %w", p.Title.Text, name, err)
		}
		l.Color, l.Dashes, l.Width = c, dash(2), vg.Points(1.2)
		p.Add(l)
		if i == 0 {
			p.Legend.Add(name, inset{l})
		}
	}
	return nil
}

func sameTargets(a, b []result.RatePoint) bool {
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

// secondTicks labels a time axis in whole seconds at a step of 1, 2 or 5
// times a power of ten giving at most ten labels, with a minor tick between:
// gonum's default picks steps such as 2.5 s.
func secondTicks(lo, hi float64) []plot.Tick {
	step := 1.0
	for k := 1; (hi-lo)/step > 10; k++ {
		step = []float64{1, 2, 5}[k%3] * math.Pow10(k/3)
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		if v == 0 {
			v = 0 // not -0 from rounding up a negative lo
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64)})
		if v+step/2 <= hi {
			ticks = append(ticks, plot.Tick{Value: v + step/2})
		}
	}
	return ticks
}

// logTicks labels 1, 2 and 5 times each power of ten on a logarithmic axis
// of up to three decades, and powers of ten only on a wider one, with the
// other integer multiples as minor ticks: plot.LogTicks labels powers of ten
// only, which leaves a 2 to 9 ms axis without a single number.
func logTicks(lo, hi float64) []plot.Tick {
	first, last := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	labelled := map[int]bool{1: true}
	if last-first <= 3 {
		labelled[2], labelled[5] = true, true
	}
	var ticks []plot.Tick
	for k := first; k <= last; k++ {
		for m := 1; m < 10; m++ {
			v := float64(m) * math.Pow10(k)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled[m] {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// saveSVG writes p to file on a white canvas with a margin.
func saveSVG(p *plot.Plot, file string) error {
	svg, err := renderSVG(p)
	if err != nil {
		return fmt.Errorf("chart %s: %w", file, err)
	}
	if err := os.WriteFile(file, svg, 0o644); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// renderSVG draws p as SVG. Fonts are not embedded, which keeps a chart at
// tens of KB; the font-family list gets metric-compatible fallbacks instead,
// and every text that gonum aligned right or centred is anchored so in the
// SVG (see sans).
func renderSVG(p *plot.Plot) ([]byte, error) {
	c := &anchorCanvas{Canvas: vgsvg.New(chartWidth, chartHeight)}
	dc := draw.New(c)
	dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: chartWidth, Y: 0}, {X: chartWidth, Y: chartHeight}, {X: 0, Y: chartHeight}})
	p.Draw(draw.Crop(dc, chartMargin, -chartMargin, chartMargin/2, -chartMargin/2))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	svg, err := c.anchor(b.Bytes())
	if err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
}

// anchoredText draws text as its Handler does and tells an anchorCanvas
// underneath how the text is aligned, which the canvas cannot see: gonum
// turns alignment into the start point of a string it measured in
// Liberation Sans, so a right-aligned legend entry in a wider font ran into
// its line sample.
type anchoredText struct{ text.Handler }

func (h anchoredText) Draw(c vg.Canvas, txt string, sty text.Style, pt vg.Point) {
	if ac := findAnchorCanvas(c); ac != nil {
		ac.align = sty.XAlign
		defer func() { ac.align = text.XLeft }()
	}
	h.Handler.Draw(c, txt, sty, pt)
}

// findAnchorCanvas unwraps the draw.Canvas layers (draw.Crop nests them)
// down to the anchorCanvas, or nil when c is another kind of canvas.
func findAnchorCanvas(c vg.Canvas) *anchorCanvas {
	for {
		switch v := c.(type) {
		case *anchorCanvas:
			return v
		case *draw.Canvas:
			c = v.Canvas
		case draw.Canvas:
			c = v.Canvas
		default:
			return nil
		}
	}
}

// anchorCanvas is an SVG canvas that records, for every string drawn, its
// alignment and measured width, so that anchor can move each <text> to the
// edge it is aligned to and say text-anchor="end" or "middle".
type anchorCanvas struct {
	*vgsvg.Canvas
	align   text.XAlignment
	strings []anchoredString
}

type anchoredString struct {
	align text.XAlignment
	width vg.Length
}

func (c *anchorCanvas) FillString(f font.Face, pt vg.Point, s string) {
	c.strings = append(c.strings, anchoredString{c.align, f.Width(s)})
	c.Canvas.FillString(f, pt, s)
}

// svgTextX is the start of a <text> element as vgsvg writes it.
var svgTextX = regexp.MustCompile(`<text x="([^"]+)"`)

// anchor rewrites the i-th <text> of svg by the i-th recorded string.
func (c *anchorCanvas) anchor(svg []byte) ([]byte, error) {
	i := 0
	var err error
	out := svgTextX.ReplaceAllFunc(svg, func(m []byte) []byte {
		if i >= len(c.strings) {
			err = fmt.Errorf("svg: %d text elements, %d strings drawn", i+1, len(c.strings))
			return m
		}
		s := c.strings[i]
		i++
		if s.align == text.XLeft {
			return m
		}
		x, perr := strconv.ParseFloat(string(svgTextX.FindSubmatch(m)[1]), 64)
		if perr != nil {
			err = fmt.Errorf("svg: text x: %w", perr)
			return m
		}
		anchor := "end"
		if s.align == text.XCenter {
			anchor = "middle"
		}
		// XAlign is -1 for right, -0.5 for centre: the start point is
		// that fraction of the width left of the anchor.
		x -= float64(s.align) * s.width.Points()
		return fmt.Appendf(nil, `<text text-anchor="%s" x="%.5g"`, anchor, x)
	})
	if err == nil && i != len(c.strings) {
		err = fmt.Errorf("svg: %d text elements, %d strings drawn", i, len(c.strings))
	}
	return out, err
}
