package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Interval is a confidence interval [Lo, Hi] around a point estimate.
type Interval struct {
	Point, Lo, Hi float64
	Level         float64 // e.g. 0.95
}

// BootstrapMedianRatio estimates median(b)/median(a) (how many times
// larger b's median is) with a percentile bootstrap confidence interval at
// level (e.g. 0.95) from resamples draws of each sample, with replacement.
//
// The generator is seeded with seed, so the same inputs give the same
// interval on every machine: a report regenerated from the same results
// must not change. With a median of a equal to zero in a draw the ratio of
// that draw is +Inf (or NaN for 0/0, which sorts below everything and is
// then reported as such); callers comparing latencies never see that.
func BootstrapMedianRatio(a, b []float64, level float64, resamples int, seed uint64) (Interval, error) {
	if len(a) == 0 || len(b) == 0 {
		return Interval{}, ErrEmpty
	}
	if level <= 0 || level >= 1 {
		return Interval{}, fmt.Errorf("stats: confidence level %g is not in (0, 1)", level)
	}
	if resamples < 1 {
		return Interval{}, fmt.Errorf("stats: %d bootstrap resamples", resamples)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ratios := make([]float64, resamples)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	for i := range ratios {
		for j := range ra {
			ra[j] = a[rng.IntN(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.IntN(len(b))]
		}
		ratios[i] = Median(rb) / Median(ra)
	}
	sort.Float64s(ratios)
	tail := (1 - level) / 2
	return Interval{
		Point: Median(b) / Median(a),
		Lo:    quantile(ratios, tail),
		Hi:    quantile(ratios, 1-tail),
		Level: level,
	}, nil
}

// quantile is the q-quantile of sorted xs by linear interpolation between
// closest ranks (type 7, numpy's and R's default).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}
