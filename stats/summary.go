package stats

import (
	"fmt"
	"math"
	"slices"
)

// Median is the middle value of xs (the mean of the two middle values for an
// even count); NaN for no values. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantile(s, 0.5)
}

// Summary describes repeated measurements of one figure the way benchstat
// does: the median, and how far the runs stray from it.
type Summary struct {
	N        int
	Median   float64
	Min, Max float64
	// Spread is the largest distance of any value from the median, in
	// percent of the median; NaN when the median is zero.
	Spread float64
}

// Summarize returns the median of xs and its spread. The spread is the "±"
// of the old benchstat (the range around the centre): a confidence interval
// of the median, which the new benchstat prints, needs at least 6 runs at
// 95%, and CI jobs rarely run that many. One value has a spread of 0.
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs), Median: Median(xs), Spread: math.NaN()}
	if len(xs) == 0 {
		return s
	}
	s.Min, s.Max = slices.Min(xs), slices.Max(xs)
	if s.Median != 0 {
		s.Spread = 100 * math.Max(s.Max-s.Median, s.Median-s.Min) / math.Abs(s.Median)
	}
	return s
}

// String formats the summary as benchstat does, "4.09 ±12%": the median
// with three significant digits (no exponent), and the spread when there is
// more than one value and the spread is defined.
func (s Summary) String() string {
	if s.N == 0 {
		return "-"
	}
	m := FormatSig(s.Median)
	if s.N == 1 || math.IsNaN(s.Spread) {
		return m
	}
	return fmt.Sprintf("%s ±%.0f%%", m, s.Spread)
}

// FormatSig formats v with about three significant digits and never in
// exponent notation, as people read latencies: 0.153, 4.09, 82.1, 1234.
func FormatSig(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a >= 100 || a == 0 && v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
