// Package schedule turns a scenario's rate shape into the intended send
// times of an open-loop run.
//
// The producer sends batch n at its intended offset from the start whatever
// the database does, and every latency is measured from that intended time.
// A stall therefore shows up as latency instead of silently lowering the
// offered load (coordinated omission). This package only says when each batch
// is due; it never sleeps and reads no clock, so it is exact and testable.
package schedule

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Schedule is a rate shape over a fixed length, in the spirit of vegeta's
// Pacer. Rates are in batches per second; the scenario layer converts rows.
//
// Cumulative is part of the interface, not derived from Rate, because
// Arrivals must place batches so that their count matches the integral of
// the rate to within one batch, also across the jumps of Burst and Step: a
// closed form is exact where numerical integration of Rate is not.
type Schedule interface {
	// Rate is the target rate in batches per second at elapsed, 0 outside
	// [0, Duration()). Reports compare it with the achieved rate.
	Rate(elapsed time.Duration) float64
	// Cumulative is ∫0^elapsed Rate(t) dt: the number of batches the
	// schedule asks for by elapsed. It is 0 at and before 0 and constant
	// from Duration() on.
	Cumulative(elapsed time.Duration) float64
	// Duration is the length of the schedule.
	Duration() time.Duration
}

// ErrInvalid is wrapped by every Validate error of the shapes in this
// package, so callers can tell a bad shape from other failures.
var ErrInvalid = errors.New("schedule: invalid shape")

// seconds returns elapsed in seconds clamped to [0, length], the domain on
// which every shape's Cumulative is defined.
func seconds(elapsed, length time.Duration) float64 {
	return max(0, min(elapsed, length)).Seconds()
}

func inside(elapsed, length time.Duration) bool { return elapsed >= 0 && elapsed < length }

// checkRate rejects rates Arrivals cannot integrate: negative, NaN or infinite.
func checkRate(name string, r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return fmt.Errorf("%w: %s must be a finite rate >= 0, got %v", ErrInvalid, name, r)
	}
	return nil
}

func checkLength(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: %s must be positive, got %v", ErrInvalid, name, d)
	}
	return nil
}

// Constant is a flat rate. The field is PerSecond, not Rate, because Go does
// not allow a field and a method of the same name.
type Constant struct {
	PerSecond float64 // batches per second
	Length    time.Duration
}

var _ Schedule = Constant{}

// Validate reports a negative rate or a non-positive length.
func (c Constant) Validate() error {
	return errors.Join(checkRate("rate", c.PerSecond), checkLength("length", c.Length))
}

// Rate implements Schedule.
func (c Constant) Rate(elapsed time.Duration) float64 {
	if !inside(elapsed, c.Length) {
		return 0
	}
	return c.PerSecond
}

// Cumulative implements Schedule.
func (c Constant) Cumulative(elapsed time.Duration) float64 {
	return c.PerSecond * seconds(elapsed, c.Length)
}

// Duration implements Schedule.
func (c Constant) Duration() time.Duration { return c.Length }

// Burst runs at Base with a Peak of Length at the end of every Period: the
// peak occupies [k*Period + Period-Length, (k+1)*Period). Putting the peak at
// the end rather than the start means a run begins at the base rate, so the
// warm-up sees the steady state and the first burst hits a warmed system.
type Burst struct {
	Base, Peak float64       // batches per second
	Period     time.Duration // one base stretch plus one peak
	Length     time.Duration // of each peak, less than Period
	Total      time.Duration // of the whole schedule
}

var _ Schedule = Burst{}

// Validate reports negative rates, a peak not shorter than its period and
// non-positive lengths.
func (b Burst) Validate() error {
	errs := []error{
		checkRate("base", b.Base), checkRate("peak", b.Peak),
		checkLength("period", b.Period), checkLength("length", b.Length), checkLength("total", b.Total),
	}
	if b.Length >= b.Period && b.Period > 0 {
		errs = append(errs, fmt.Errorf("%w: burst length %v must be shorter than its period %v", ErrInvalid, b.Length, b.Period))
	}
	return errors.Join(errs...)
}

// Rate implements Schedule.
func (b Burst) Rate(elapsed time.Duration) float64 {
	if !inside(elapsed, b.Total) {
		return 0
	}
	if elapsed%b.Period >= b.Period-b.Length {
		return b.Peak
	}
	return b.Base
}

// Cumulative implements Schedule. Peak time is counted in whole nanoseconds
// so that a period boundary adds exactly Length of peak.
func (b Burst) Cumulative(elapsed time.Duration) float64 {
	t := max(0, min(elapsed, b.Total))
	k, r := t/b.Period, t%b.Period
	peak := time.Duration(k)*b.Length + max(0, r-(b.Period-b.Length))
	return b.Base*(t-peak).Seconds() + b.Peak*peak.Seconds()
}

// Duration implements Schedule.
func (b Burst) Duration() time.Duration { return b.Total }

// Ramp changes the rate linearly from From at 0 to To at Length.
type Ramp struct {
	From, To float64 // batches per second
	Length   time.Duration
}

var _ Schedule = Ramp{}

// Validate reports negative rates or a non-positive length.
func (r Ramp) Validate() error {
	return errors.Join(checkRate("from", r.From), checkRate("to", r.To), checkLength("length", r.Length))
}

// Rate implements Schedule.
func (r Ramp) Rate(elapsed time.Duration) float64 {
	if !inside(elapsed, r.Length) {
		return 0
	}
	return r.From + (r.To-r.From)*elapsed.Seconds()/r.Length.Seconds()
}

// Cumulative implements Schedule.
func (r Ramp) Cumulative(elapsed time.Duration) float64 {
	s := seconds(elapsed, r.Length)
	return r.From*s + (r.To-r.From)*s*s/(2*r.Length.Seconds())
}

// Duration implements Schedule.
func (r Ramp) Duration() time.Duration { return r.Length }

// Stage is one flat part of a Step schedule.
type Stage struct {
	Rate   float64 // batches per second; 0 is a pause
	Length time.Duration
}

// Step runs its stages one after another. A stage of rate 0 is a pause: it
// yields no batches.
type Step struct {
	Stages []Stage
}

var _ Schedule = Step{}

// Validate reports an empty stage list, negative rates and non-positive
// stage lengths.
func (s Step) Validate() error {
	if len(s.Stages) == 0 {
		return fmt.Errorf("%w: step has no stages", ErrInvalid)
	}
	var errs []error
	for i, st := range s.Stages {
		errs = append(errs,
			checkRate(fmt.Sprintf("stage %d rate", i), st.Rate),
			checkLength(fmt.Sprintf("stage %d length", i), st.Length))
	}
	return errors.Join(errs...)
}

// StageAt returns the index of the stage running at elapsed, or -1 outside
// [0, Duration()), so that reports can split a run by stage.
func (s Step) StageAt(elapsed time.Duration) int {
	if elapsed < 0 {
		return -1
	}
	var start time.Duration
	for i, st := range s.Stages {
		start += st.Length
		if elapsed < start {
			return i
		}
	}
	return -1
}

// Rate implements Schedule.
func (s Step) Rate(elapsed time.Duration) float64 {
	if i := s.StageAt(elapsed); i >= 0 {
		return s.Stages[i].Rate
	}
	return 0
}

// Cumulative implements Schedule. It sums whole stages in order, so the
// value throughout a pause is exactly the sum before it: Arrivals relies on
// that to place no batch inside a pause.
func (s Step) Cumulative(elapsed time.Duration) float64 {
	var sum float64
	var start time.Duration
	for _, st := range s.Stages {
		if elapsed < start+st.Length {
			return sum + st.Rate*max(0, elapsed-start).Seconds()
		}
		sum += st.Rate * st.Length.Seconds()
		start += st.Length
	}
	return sum
}

// Duration implements Schedule.
func (s Step) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Stages {
		d += st.Length
	}
	return d
}

// Sine oscillates around Mean: Rate = Mean + Amplitude*sin(2π t/Period). It
// starts at the mean, rising.
type Sine struct {
	Mean, Amplitude float64 // batches per second
	Period, Length  time.Duration
}

var _ Schedule = Sine{}

// Validate reports negative values, non-positive lengths and an amplitude
// above the mean, which would ask for a negative rate.
func (s Sine) Validate() error {
	errs := []error{
		checkRate("mean", s.Mean), checkRate("amplitude", s.Amplitude),
		checkLength("period", s.Period), checkLength("length", s.Length),
	}
	if s.Amplitude > s.Mean {
		errs = append(errs, fmt.Errorf("%w: sine amplitude %v exceeds its mean %v, so the rate would go negative", ErrInvalid, s.Amplitude, s.Mean))
	}
	return errors.Join(errs...)
}

// Rate implements Schedule.
func (s Sine) Rate(elapsed time.Duration) float64 {
	if !inside(elapsed, s.Length) {
		return 0
	}
	return s.Mean + s.Amplitude*math.Sin(2*math.Pi*elapsed.Seconds()/s.Period.Seconds())
}

// Cumulative implements Schedule.
func (s Sine) Cumulative(elapsed time.Duration) float64 {
	t, p := seconds(elapsed, s.Length), s.Period.Seconds()
	return s.Mean*t + s.Amplitude*p/(2*math.Pi)*(1-math.Cos(2*math.Pi*t/p))
}

// Duration implements Schedule.
func (s Sine) Duration() time.Duration { return s.Length }
