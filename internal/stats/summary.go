package stats

import (
	"fmt"
	"math"
	"slices"
	"strconv"
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

// FormatSig formats v with three significant digits, trailing zeros kept
// and never in exponent notation, as people read latencies: 0.153, 4.00,
// 82.1; values from 100 up print as integers (1234, not 1.23e+03).
func FormatSig(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	// Round first, so that 99.96 becomes 100 rather than "100.0".
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	if r == 0 {
		return "0"
	}
	if math.Abs(r) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	decimals := 2 - int(math.Floor(math.Log10(math.Abs(r))))
	return fmt.Sprintf("%.*f", decimals, r)
}
