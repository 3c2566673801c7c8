package schedule

import (
	"math"
	"math/rand/v2"
	"time"
)

// Arrivals walks a Schedule and yields the intended offset of each batch.
//
// Both kinds place the n-th arrival where the schedule's Cumulative first
// exceeds a target: the integers 0, 1, 2, ... for even arrivals, and a sum
// of unit exponential draws for Poisson arrivals (time rescaling, which makes
// the gaps exponential at the current rate even while the rate changes).
// Because a batch is placed where Cumulative exceeds its target, the number
// of batches before t is ceil(Cumulative(t)): within 1 of the integral at
// every t, across the jumps of Burst and Step, and no batch falls inside a
// stretch of rate 0, since Cumulative does not grow there.
//
// An Arrivals is not safe for concurrent use; the producer's pacer owns it.
type Arrivals struct {
	s        Schedule
	rng      *rand.Rand // nil for even arrivals
	end      int64      // Duration in ns
	total    float64    // Cumulative(end)
	last     int64      // offset of the previous arrival, ns
	lastCum  float64    // Cumulative(last)
	target   float64    // Cumulative the next arrival must exceed
	finished bool
}

// pcgStream separates the arrival stream from other users of the same seed
// (the producer's row generator), so that arrival times and rows are not
// correlated.
const pcgStream = 0x5851f42d4c957f2d

// NewArrivals returns the arrivals of s, evenly spaced or, when poisson is
// true, a Poisson process with rate s.Rate drawn from a PCG source seeded
// with seed, so that a run is reproducible. s must be valid (its Validate
// method returns nil); the scenario layer checks that.
func NewArrivals(s Schedule, poisson bool, seed uint64) *Arrivals {
	end := s.Duration()
	a := &Arrivals{s: s, end: int64(end), total: s.Cumulative(end)}
	if poisson {
		a.rng = rand.New(rand.NewPCG(seed, pcgStream))
		a.target = a.rng.ExpFloat64()
	}
	return a
}

// Next returns the intended offset of the next batch from the start of the
// run, or false once the schedule has no batch left before its Duration.
// Offsets never decrease. It does not allocate.
func (a *Arrivals) Next() (time.Duration, bool) {
	if a.finished || a.total <= a.target {
		a.finished = true
		return 0, false
	}
	t, c := a.search(a.target)
	a.last, a.lastCum = t, c
	if a.rng != nil {
		a.target += a.rng.ExpFloat64()
	} else {
		a.target++
	}
	return time.Duration(t), true
}

// search returns the largest t (ns) in [a.last, a.end) with
// Cumulative(t) <= target, and Cumulative(t), given that
// Cumulative(a.last) <= target < Cumulative(a.end).
//
// It is a safeguarded Newton search on the nanosecond grid (rtsafe in
// Numerical Recipes). Newton steps from the last evaluated point land on the
// answer or next to it, and probing the neighbouring nanosecond then closes
// the bracket, so a linear stretch costs two Cumulative calls per batch and a
// curved one a few more. Where Newton cannot help (rate 0 in a pause, a jump
// in the rate) or stops converging (a step not under half the one before
// last, which also ends creeping by single nanoseconds), the round bisects
// instead. Bisection halves the bracket and Newton steps must shrink
// geometrically between bisections, so the loop ends even for a Schedule
// whose Rate disagrees with its Cumulative.
func (a *Arrivals) search(target float64) (int64, float64) {
	lo, clo := a.last, a.lastCum
	hi := a.end
	x, cx := lo, clo // the point Newton steps from
	older, last := float64(hi-lo), float64(hi-lo)
	for hi-lo > 1 {
		g, newton := lo+(hi-lo)/2, false
		if r := a.s.Rate(time.Duration(x)); r > 0 {
			step := math.Floor((target - cx) / r * 1e9)
			if c := float64(x) + step; c >= float64(lo) && c < float64(hi) && math.Abs(step) < older/2 {
				g, newton = int64(c), true
			}
		}
		older, last = last, math.Abs(float64(g-x))
		x, cx = g, a.s.Cumulative(time.Duration(g))
		if cx <= target {
			lo, clo = g, cx
		} else {
			hi = g
		}
		if !newton || hi-lo <= 1 {
			continue
		}
		// Newton lands within a nanosecond or so of the answer: look at the
		// other side of g before stepping again.
		if g == lo {
			x, cx = g+1, a.s.Cumulative(time.Duration(g+1))
		} else {
			x, cx = g-1, a.s.Cumulative(time.Duration(g-1))
		}
		if cx <= target {
			lo, clo = x, cx
		} else {
			hi = x
		}
	}
	return lo, clo
}
