package reports

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// baseMs is a whole second: the log header stores its base time in seconds.
const baseMs = 1_795_681_634_000

func histogram(t *testing.T, tag string, startMs int64, values map[int64]int64) *hdrhistogram.Histogram {
	t.Helper()
	h := hdrhistogram.New(recorder.LowestUs, recorder.HighestUs, recorder.SigFigs)
	for v, n := range values {
		if err := h.RecordValues(v, n); err != nil {
			t.Fatal(err)
		}
	}
	h.SetTag(tag)
	h.SetStartTimeMs(startMs)
	h.SetEndTimeMs(startMs + 1000)
	return h
}

// twoIntervalLog is an interval log as bench writes it: two one-second
// intervals of cdc/outlier/e2e, with an agent-stage line between them that
// result.ReadStage("e2e") must skip.
func twoIntervalLog(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := hdrhistogram.NewHistogramLogWriter(&b)
	w.SetBaseTime(baseMs)
	for _, step := range []func() error{
		w.OutputLogFormatVersion,
		func() error { return w.OutputStartTime(baseMs) },
		func() error { return w.OutputBaseTime(baseMs) },
		w.OutputLegend,
		// Values below 2048 µs are exact at 3 significant digits.
		func() error {
			return w.OutputIntervalHistogram(histogram(t, "cdc/outlier/e2e", baseMs, map[int64]int64{500: 50, 1500: 49, 2000: 1}))
		},
		func() error {
			return w.OutputIntervalHistogram(histogram(t, "cdc/outlier/agent", baseMs, map[int64]int64{7: 100}))
		},
		func() error {
			return w.OutputIntervalHistogram(histogram(t, "cdc/outlier/e2e", baseMs+1000, map[int64]int64{1000: 100}))
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestReadStage(t *testing.T) {
	t.Parallel()
	series, err := result.ReadStage(bytes.NewReader(twoIntervalLog(t)), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || series[0].Path != "cdc" || series[0].Agent != "outlier" {
		t.Fatalf("series = %+v, want one for cdc/outlier", series)
	}
	s := series[0]
	want := []result.IntervalStat{
		{StartMs: baseMs, Count: 100, P50: 0.5, P99: 1.5, Max: 2},
		{StartMs: baseMs + 1000, Count: 100, P50: 1, P99: 1, Max: 1},
	}
	if len(s.Intervals) != len(want) {
		t.Fatalf("%d intervals, want %d: %+v", len(s.Intervals), len(want), s.Intervals)
	}
	for i, w := range want {
		if s.Intervals[i] != w {
			t.Errorf("interval %d = %+v, want %+v", i, s.Intervals[i], w)
		}
	}
	if got := s.Merged.TotalCount(); got != 200 {
		t.Errorf("merged count = %d, want 200 (the agent stage must not be merged in)", got)
	}
	if got := s.Merged.ValueAtPercentile(50); got != 1000 {
		t.Errorf("merged p50 = %d µs, want 1000", got)
	}
}

func TestReadStageErrors(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := hdrhistogram.NewHistogramLogWriter(&b)
	if err := w.OutputIntervalHistogram(histogram(t, "cdc/e2e", baseMs, map[int64]int64{5: 1})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, log string }{
		{"tag without agent", b.String()},
		{"corrupt payload", "Tag=cdc/outlier/e2e,0.000,1.000,0.001,HISTFAAAnotbase64\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := result.ReadStage(strings.NewReader(tc.log), "e2e"); err == nil {
				t.Error("readStage accepted a bad log")
			}
		})
	}
}

func TestLatencySeries(t *testing.T) {
	t.Parallel()
	series, err := result.ReadStage(bytes.NewReader(twoIntervalLog(t)), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	p50, p99, max := latencySeries(series[0], baseMs)
	for _, tc := range []struct {
		name string
		got  plotter.XYs
		want plotter.XYs
	}{
		{"p50", p50, plotter.XYs{{X: 0.5, Y: 0.5}, {X: 1.5, Y: 1}}},
		{"p99", p99, plotter.XYs{{X: 0.5, Y: 1.5}, {X: 1.5, Y: 1}}},
		{"max", max, plotter.XYs{{X: 0.5, Y: 2}, {X: 1.5, Y: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !equalXYs(tc.got, tc.want) {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestSpectrumMatchesHGRM checks the chart's points against the .hgrm file
// HdrHistogram's plotter would read: same values at the same 1/(1-p).
func TestSpectrumMatchesHGRM(t *testing.T) {
	t.Parallel()
	values := map[int64]int64{}
	for v := int64(1); v <= 1000; v++ {
		values[v] = 1 // 1 µs .. 1 ms, exact at 3 significant digits
	}
	h := histogram(t, "cdc/outlier/e2e", baseMs, values)
	pts := spectrumPoints(&result.TagSeries{Merged: h})

	var hgrm bytes.Buffer
	if _, err := h.PercentilesPrint(&hgrm, 5, 1000); err != nil {
		t.Fatal(err)
	}
	var want plotter.XYs
	sc := bufio.NewScanner(&hgrm)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[3] == "inf" {
			continue
		}
		y, yerr := strconv.ParseFloat(f[0], 64)
		x, xerr := strconv.ParseFloat(f[3], 64)
		if yerr != nil || xerr != nil {
			continue // the header
		}
		want = append(want, plotter.XY{X: x, Y: y})
	}
	if len(want) < 20 || len(pts) != len(want) {
		t.Fatalf("%d points, the .hgrm has %d finite lines", len(pts), len(want))
	}
	for i := range want {
		// The .hgrm rounds x to 2 and y to 3 decimals.
		if math.Abs(pts[i].X-want[i].X) > 0.005 || math.Abs(pts[i].Y-want[i].Y) > 0.0005 {
			t.Errorf("point %d = (%g, %g), .hgrm says (%g, %g)", i, pts[i].X, pts[i].Y, want[i].X, want[i].Y)
		}
	}
	// The .hgrm's percentile steps halve the distance to 100% (5 ticks per
	// half): 0%, 10%, …, 50%, 55%, …, 90%, 91.25%, …, 96.875%, ….
	for _, w := range []plotter.XY{{X: 1, Y: 0.001}, {X: 2, Y: 0.5}, {X: 10, Y: 0.9}, {X: 32, Y: 0.969}} {
		if !containsXY(pts, w) {
			t.Errorf("no point (%g, %g): p%g of 1 µs..1 ms", w.X, w.Y, 100*(1-1/w.X))
		}
	}
}

func TestRateSeries(t *testing.T) {
	t.Parallel()
	tl := []result.RatePoint{{Second: 0, Target: 10, Committed: 8}, {Second: 1, Target: 20, Committed: 20}, {Second: 2, Target: 20, Committed: 22}}
	target, committed := rateSeries(tl, 1)
	if want := (plotter.XYs{{X: -1, Y: 10}, {X: 0, Y: 20}, {X: 1, Y: 20}, {X: 2, Y: 20}}); !equalXYs(target, want) {
		t.Errorf("target = %v, want %v", target, want)
	}
	if want := (plotter.XYs{{X: -1, Y: 8}, {X: 0, Y: 20}, {X: 1, Y: 22}, {X: 2, Y: 22}}); !equalXYs(committed, want) {
		t.Errorf("committed = %v, want %v", committed, want)
	}
	if target, committed := rateSeries(nil, 1); len(target)+len(committed) != 0 {
		t.Errorf("empty timeline gave %v and %v", target, committed)
	}
}

func TestTicks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		ticks []plot.Tick
		want  []string // labels, in order
	}{
		{"percentiles to 99.99%", percentileTicks(4), []string{"0%", "90%", "99%", "99.9%", "99.99%"}},
		{"log 2 to 90 ms", logTicks(2, 90), []string{"2", "5", "10", "20", "50"}},
		{"log 0.01 to 1000 ms", logTicks(0.01, 1000), []string{"0.01", "0.1", "1", "10", "100", "1000"}},
		{"seconds -0.5 to 5.5", secondTicks(-0.5, 5.5), []string{"0", "1", "2", "3", "4", "5"}},
		{"seconds -5 to 40", secondTicks(-5, 40), []string{"-5", "0", "5", "10", "15", "20", "25", "30", "35", "40"}},
		{"seconds 0 to 600", secondTicks(0, 600), []string{"0", "100", "200", "300", "400", "500", "600"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tk := range tc.ticks {
				if tk.Label != "" {
					got = append(got, tk.Label)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("labels %q, want %q", got, tc.want)
			}
		})
	}
}

func equalXYs(a, b plotter.XYs) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i].X-b[i].X) > 1e-9 || math.Abs(a[i].Y-b[i].Y) > 1e-9 {
			return false
		}
	}
	return true
}

func containsXY(pts plotter.XYs, w plotter.XY) bool {
	for _, p := range pts {
		// x = 1/(1-p) carries the rounding of p's float steps.
		if math.Abs(p.X-w.X) < 1e-9*w.X && math.Abs(p.Y-w.Y) < 1e-9 {
			return true
		}
	}
	return false
}
