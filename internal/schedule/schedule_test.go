package schedule_test

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/schedule"
)

// window is a span [From, To) and the number of batches a shape asks for in
// it, worked out by hand from the shape's definition.
type window struct {
	From, To time.Duration
	Want     float64
}

var shapes = []struct {
	name    string
	s       schedule.Schedule
	windows []window
}{
	{
		name: "constant",
		s:    schedule.Constant{PerSecond: 20, Length: 5 * time.Second},
		windows: []window{
			{0, 5 * time.Second, 100},
			{time.Second, 2 * time.Second, 20},
			{250 * time.Millisecond, 300 * time.Millisecond, 1},
			{4 * time.Second, 9 * time.Second, 20}, // past the end counts nothing
		},
	},
	{
		name: "constant fractional",
		s:    schedule.Constant{PerSecond: 7.3, Length: 3*time.Second + 100*time.Millisecond},
		windows: []window{
			{0, 3*time.Second + 100*time.Millisecond, 22.63},
			{time.Second, 2 * time.Second, 7.3},
		},
	},
	{
		// Peaks at [8,10), [18,20), [28,30), [38,40) s.
		name: "burst",
		s:    schedule.Burst{Base: 20, Peak: 100, Period: 10 * time.Second, Length: 2 * time.Second, Total: 45 * time.Second},
		windows: []window{
			{0, 8 * time.Second, 160},
			{8 * time.Second, 10 * time.Second, 200},
			{9 * time.Second, 11 * time.Second, 100 + 20},
			{10 * time.Second, 18 * time.Second, 160},
			{0, 45 * time.Second, 37*20 + 8*100},
			{40 * time.Second, 45 * time.Second, 100},
		},
	},
	{
		name: "burst zero base",
		s:    schedule.Burst{Base: 0, Peak: 50, Period: time.Second, Length: 100 * time.Millisecond, Total: 3 * time.Second},
		windows: []window{
			{0, 900 * time.Millisecond, 0},
			{900 * time.Millisecond, time.Second, 5},
			{0, 3 * time.Second, 15},
		},
	},
	{
		name: "ramp up",
		s:    schedule.Ramp{From: 10, To: 30, Length: 10 * time.Second},
		windows: []window{
			{0, 5 * time.Second, 10*5 + 20*25.0/20},
			{5 * time.Second, 10 * time.Second, 200 - 75},
			{0, 10 * time.Second, 200},
		},
	},
	{
		name: "ramp down to zero",
		s:    schedule.Ramp{From: 40, To: 0, Length: 4 * time.Second},
		windows: []window{
			{0, 2 * time.Second, 40*2 - 40*4.0/8},
			{2 * time.Second, 4 * time.Second, 80 - 60},
		},
	},
	{
		name: "step with pause",
		s: schedule.Step{Stages: []schedule.Stage{
			{Rate: 10, Length: time.Second}, {Rate: 0, Length: 5 * time.Second}, {Rate: 10, Length: time.Second},
		}},
		windows: []window{
			{0, time.Second, 10},
			{time.Second, 6 * time.Second, 0},
			{6 * time.Second, 7 * time.Second, 10},
		},
	},
	{
		name: "step starting paused",
		s:    schedule.Step{Stages: []schedule.Stage{{Rate: 0, Length: 2 * time.Second}, {Rate: 50, Length: time.Second}}},
		windows: []window{
			{0, 2 * time.Second, 0},
			{2 * time.Second, 3 * time.Second, 50},
		},
	},
	{
		name: "step irregular",
		s: schedule.Step{Stages: []schedule.Stage{
			{Rate: 7.5, Length: 3300 * time.Millisecond}, {Rate: 13.1, Length: 2700 * time.Millisecond}, {Rate: 0.4, Length: 10 * time.Second},
		}},
		windows: []window{
			{0, 3300 * time.Millisecond, 24.75},
			{3300 * time.Millisecond, 6 * time.Second, 35.37},
			{6 * time.Second, 16 * time.Second, 4},
		},
	},
	{
		// ∫0^2 (10 + 10 sin(πt/2)) dt = 20 + 40/π.
		name: "sine",
		s:    schedule.Sine{Mean: 10, Amplitude: 10, Period: 4 * time.Second, Length: 8 * time.Second},
		windows: []window{
			{0, 2 * time.Second, 20 + 40/math.Pi},
			{2 * time.Second, 4 * time.Second, 20 - 40/math.Pi},
			{0, 8 * time.Second, 80},
		},
	},
	{
		name: "constant high rate",
		s:    schedule.Constant{PerSecond: 20000, Length: 2 * time.Second},
		windows: []window{
			{0, 2 * time.Second, 40000},
			{time.Second, time.Second + 3*time.Millisecond, 60},
		},
	},
}

// offsets runs a to the end, failing the test if it does not end.
func offsets(t *testing.T, a *schedule.Arrivals, limit int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for {
		off, ok := a.Next()
		if !ok {
			return out
		}
		out = append(out, off)
		if len(out) > limit {
			t.Fatalf("more than %d arrivals: the walk does not end", limit)
		}
	}
}

// before counts the offsets below t in a sorted slice.
func before(offs []time.Duration, t time.Duration) int {
	return sort.Search(len(offs), func(i int) bool { return offs[i] >= t })
}

func TestEvenArrivalsMatchTheIntegral(t *testing.T) {
	t.Parallel()
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			offs := offsets(t, schedule.NewArrivals(tc.s, false, 0), 1_000_000)
			for i, off := range offs {
				if off < 0 || off >= tc.s.Duration() {
					t.Fatalf("offset %d = %v outside [0, %v)", i, off, tc.s.Duration())
				}
				if i > 0 && off < offs[i-1] {
					t.Fatalf("offset %d = %v before offset %d = %v", i, off, i-1, offs[i-1])
				}
			}
			if tc.s.Rate(0) > 0 && (len(offs) == 0 || offs[0] != 0) {
				t.Errorf("rate at 0 is %v but the first offset is not 0 (offsets %v...)", tc.s.Rate(0), offs[:min(3, len(offs))])
			}
			for _, w := range tc.windows {
				got := before(offs, w.To) - before(offs, w.From)
				if math.Abs(float64(got)-w.Want) >= 1 {
					t.Errorf("[%v, %v): %d batches, want %.3f within 1", w.From, w.To, got, w.Want)
				}
			}
			// At every instant the count so far is ceil of the integral:
			// never behind it, never a whole batch ahead.
			d := tc.s.Duration()
			for i := 0; i <= 2000; i++ {
				at := d * time.Duration(i) / 2000
				want := tc.s.Cumulative(at)
				if got := float64(before(offs, at)); got < want || got-want >= 1 {
					t.Fatalf("by %v: %v batches, integral %v", at, got, want)
				}
			}
			if got, want := len(offs), int(math.Ceil(tc.s.Cumulative(d))); got != want {
				t.Errorf("%d batches in all, want ceil(%v) = %d", got, tc.s.Cumulative(d), want)
			}
		})
	}
}

// TestCumulativeIsTheIntegralOfRate checks each shape's closed form against
// a midpoint sum of its Rate, so that Rate (what reports show) and
// Cumulative (what Arrivals follows) cannot drift apart.
func TestCumulativeIsTheIntegralOfRate(t *testing.T) {
	t.Parallel()
	const step = 100 * time.Microsecond
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			var sum float64
			for at := time.Duration(0); at < tc.s.Duration()+time.Second; at += step {
				if got := tc.s.Cumulative(at); math.Abs(got-sum) > 0.02 {
					t.Fatalf("Cumulative(%v) = %v, sum of Rate = %v", at, got, sum)
				}
				sum += tc.s.Rate(at+step/2) * step.Seconds()
			}
			if got := tc.s.Cumulative(-time.Second); got != 0 {
				t.Errorf("Cumulative(-1s) = %v, want 0", got)
			}
			if got := tc.s.Rate(tc.s.Duration()); got != 0 {
				t.Errorf("Rate(Duration) = %v, want 0", got)
			}
		})
	}
}

func TestPausesYieldNothingAndEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    schedule.Schedule
		want int
	}{
		{"constant zero", schedule.Constant{PerSecond: 0, Length: time.Hour}, 0},
		{"step all paused", schedule.Step{Stages: []schedule.Stage{{Rate: 0, Length: time.Hour}}}, 0},
		{"step long pause at the end", schedule.Step{Stages: []schedule.Stage{{Rate: 10, Length: time.Second}, {Rate: 0, Length: 1000 * time.Hour}}}, 10},
		{"step long pause between", schedule.Step{Stages: []schedule.Stage{
			{Rate: 3, Length: time.Second}, {Rate: 0, Length: 1000 * time.Hour}, {Rate: 3, Length: time.Second},
		}}, 6},
		{"burst zero peak", schedule.Burst{Base: 0, Peak: 0, Period: time.Second, Length: time.Millisecond, Total: time.Hour}, 0},
	} {
		for _, poisson := range []bool{false, true} {
			name := tc.name + map[bool]string{false: " even", true: " poisson"}[poisson]
			t.Run(name, func(t *testing.T) {
				offs := offsets(t, schedule.NewArrivals(tc.s, poisson, 7), 1000)
				if !poisson && len(offs) != tc.want {
					t.Errorf("%d batches, want %d: %v", len(offs), tc.want, offs)
				}
				for _, off := range offs {
					if r := tc.s.Rate(off); r == 0 {
						t.Errorf("batch at %v where the rate is 0", off)
					}
				}
			})
		}
	}
	t.Run("next after the end stays false", func(t *testing.T) {
		a := schedule.NewArrivals(schedule.Constant{PerSecond: 1, Length: time.Second}, false, 0)
		offsets(t, a, 10)
		if off, ok := a.Next(); ok {
			t.Errorf("Next after the end = %v, true", off)
		}
	})
}

func TestStepStageAt(t *testing.T) {
	t.Parallel()
	s := schedule.Step{Stages: []schedule.Stage{{Rate: 1, Length: time.Second}, {Rate: 0, Length: 2 * time.Second}, {Rate: 5, Length: time.Second}}}
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{
		{-time.Nanosecond, -1}, {0, 0}, {time.Second - 1, 0}, {time.Second, 1},
		{3*time.Second - 1, 1}, {3 * time.Second, 2}, {4*time.Second - 1, 2}, {4 * time.Second, -1},
	} {
		if got := s.StageAt(tc.at); got != tc.want {
			t.Errorf("StageAt(%v) = %d, want %d", tc.at, got, tc.want)
		}
	}
}

func TestBurstStartsAtBase(t *testing.T) {
	t.Parallel()
	b := schedule.Burst{Base: 20, Peak: 100, Period: 10 * time.Second, Length: 2 * time.Second, Total: time.Minute}
	for _, tc := range []struct {
		at   time.Duration
		want float64
	}{
		{0, 20}, {7999 * time.Millisecond, 20}, {8 * time.Second, 100}, {9999 * time.Millisecond, 100},
		{10 * time.Second, 20}, {18 * time.Second, 100}, {time.Minute, 0},
	} {
		if got := b.Rate(tc.at); got != tc.want {
			t.Errorf("Rate(%v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestPoissonArrivals(t *testing.T) {
	t.Parallel()
	constant := schedule.Constant{PerSecond: 100, Length: time.Hour}
	first := func(seed uint64, n int) []time.Duration {
		a := schedule.NewArrivals(constant, true, seed)
		out := make([]time.Duration, n)
		for i := range out {
			off, ok := a.Next()
			if !ok {
				t.Fatalf("seed %d: arrivals ended after %d", seed, i)
			}
			out[i] = off
		}
		return out
	}
	t.Run("same seed same sequence", func(t *testing.T) {
		a, b := first(42, 1000), first(42, 1000)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("arrival %d: %v then %v", i, a[i], b[i])
			}
		}
	})
	t.Run("different seed differs", func(t *testing.T) {
		a, b := first(42, 1000), first(43, 1000)
		same := 0
		for i := range a {
			if a[i] == b[i] {
				same++
			}
		}
		if same > 0 {
			t.Errorf("%d of 1000 arrivals equal across seeds", same)
		}
	})
	// The time of the n-th arrival of a Poisson process of rate λ is
	// Gamma(n, 1/λ): mean n/λ, relative standard deviation 1/sqrt(n) = 1% for
	// n = 10,000. A 5% bound on the achieved rate is 5 standard deviations,
	// which a correct process misses with probability below 1e-6 per seed;
	// a process at the wrong rate (say the rate of the first batch, or half
	// of it) misses it at once. The coefficient of variation of the gaps is 1
	// for exponential gaps and 0 for even ones; its sampling error with
	// 10,000 gaps is about sqrt(2/n) = 1.4%, so [0.9, 1.1] is 7 of them.
	t.Run("mean rate and exponential gaps", func(t *testing.T) {
		const n = 10_000
		for _, seed := range []uint64{1, 2, 3, 4, 5} {
			offs := first(seed, n)
			rate := n / offs[n-1].Seconds()
			if math.Abs(rate-100)/100 > 0.05 {
				t.Errorf("seed %d: achieved %.2f/s, want 100/s within 5%%", seed, rate)
			}
			var sum, sq float64
			for i := 1; i < n; i++ {
				g := (offs[i] - offs[i-1]).Seconds()
				if g < 0 {
					t.Fatalf("seed %d: offsets go back at %d", seed, i)
				}
				sum += g
				sq += g * g
			}
			mean := sum / (n - 1)
			cv := math.Sqrt(sq/(n-1)-mean*mean) / mean
			if cv < 0.9 || cv > 1.1 {
				t.Errorf("seed %d: coefficient of variation of gaps %.3f, want about 1", seed, cv)
			}
		}
	})
	// Over a shaped schedule the count in a span is Poisson with mean the
	// integral over it, standard deviation its square root; 5 of those is
	// again a bound a correct process keeps with probability above 1 - 1e-6.
	t.Run("follows the shape", func(t *testing.T) {
		b := schedule.Burst{Base: 20, Peak: 200, Period: 10 * time.Second, Length: 2 * time.Second, Total: 600 * time.Second}
		offs := offsets(t, schedule.NewArrivals(b, true, 9), 1_000_000)
		var base, peak int
		for _, off := range offs {
			if b.Rate(off) == 200 {
				peak++
			} else {
				base++
			}
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"base", float64(base), 20 * 8 * 60},
			{"peak", float64(peak), 200 * 2 * 60},
		} {
			if math.Abs(c.got-c.want) > 5*math.Sqrt(c.want) {
				t.Errorf("%s: %v arrivals, want %v ± %.0f", c.name, c.got, c.want, 5*math.Sqrt(c.want))
			}
		}
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	type validator interface{ Validate() error }
	for _, tc := range []struct {
		name  string
		s     validator
		valid bool
	}{
		{"constant", schedule.Constant{PerSecond: 1, Length: time.Second}, true},
		{"constant negative", schedule.Constant{PerSecond: -1, Length: time.Second}, false},
		{"constant NaN", schedule.Constant{PerSecond: math.NaN(), Length: time.Second}, false},
		{"constant no length", schedule.Constant{PerSecond: 1}, false},
		{"burst", schedule.Burst{Base: 1, Peak: 5, Period: time.Second, Length: time.Millisecond, Total: time.Minute}, true},
		{"burst peak fills period", schedule.Burst{Base: 1, Peak: 5, Period: time.Second, Length: time.Second, Total: time.Minute}, false},
		{"burst no period", schedule.Burst{Base: 1, Peak: 5, Length: time.Millisecond, Total: time.Minute}, false},
		{"burst negative peak", schedule.Burst{Base: 1, Peak: -5, Period: time.Second, Length: time.Millisecond, Total: time.Minute}, false},
		{"ramp", schedule.Ramp{From: 0, To: 5, Length: time.Second}, true},
		{"ramp infinite", schedule.Ramp{From: 0, To: math.Inf(1), Length: time.Second}, false},
		{"step", schedule.Step{Stages: []schedule.Stage{{Rate: 0, Length: time.Second}}}, true},
		{"step empty", schedule.Step{}, false},
		{"step zero-length stage", schedule.Step{Stages: []schedule.Stage{{Rate: 1}}}, false},
		{"sine", schedule.Sine{Mean: 5, Amplitude: 5, Period: time.Second, Length: time.Minute}, true},
		{"sine amplitude above mean", schedule.Sine{Mean: 5, Amplitude: 6, Period: time.Second, Length: time.Minute}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.valid && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tc.valid && !errors.Is(err, schedule.ErrInvalid) {
				t.Errorf("Validate() = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}

func BenchmarkNext(b *testing.B) {
	const long = 1000 * time.Hour
	for _, bc := range []struct {
		name    string
		s       schedule.Schedule
		poisson bool
	}{
		{"constant", schedule.Constant{PerSecond: 1000, Length: long}, false},
		{"burst", schedule.Burst{Base: 1000, Peak: 5000, Period: 10 * time.Second, Length: 2 * time.Second, Total: long}, false},
		{"ramp", schedule.Ramp{From: 5, To: 200000, Length: long}, false},
		{"step", schedule.Step{Stages: []schedule.Stage{
			{Rate: 1000, Length: long / 5}, {Rate: 0, Length: long / 5}, {Rate: 3000, Length: long / 5},
			{Rate: 500, Length: long / 5}, {Rate: 2000, Length: long / 5},
		}}, false},
		{"sine", schedule.Sine{Mean: 1000, Amplitude: 800, Period: time.Minute, Length: long}, false},
		{"constant poisson", schedule.Constant{PerSecond: 1000, Length: long}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := schedule.NewArrivals(bc.s, bc.poisson, 1)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := a.Next(); !ok {
					b.Fatal("schedule exhausted")
				}
			}
		})
	}
}

// liar is a schedule whose Rate is off from the slope of its Cumulative by a
// factor, as a third-party Schedule with a bug might be. Arrivals follows
// Cumulative; Rate only guides its search, so the walk must stay exact.
type liar struct{ factor float64 }

func (l liar) Rate(elapsed time.Duration) float64 {
	if elapsed < 0 || elapsed >= l.Duration() {
		return 0
	}
	return 10 * l.factor
}
func (l liar) Cumulative(elapsed time.Duration) float64 {
	return 10 * max(0, min(elapsed, l.Duration())).Seconds()
}
func (liar) Duration() time.Duration { return 10 * time.Second }

func TestArrivalsFollowCumulativeWhenRateIsWrong(t *testing.T) {
	t.Parallel()
	for _, factor := range []float64{1e12, 1e3, 0.5, 1e-12} {
		t.Run(strconv.FormatFloat(factor, 'g', -1, 64), func(t *testing.T) {
			offs := offsets(t, schedule.NewArrivals(liar{factor}, false, 0), 1000)
			if len(offs) != 100 {
				t.Fatalf("%d batches, want 100", len(offs))
			}
			for i, off := range offs {
				// Batch i goes out where the integral passes i: at i/10 s,
				// give or take the float rounding of that instant.
				if want := time.Duration(i) * 100 * time.Millisecond; off < want-1 || off > want {
					t.Errorf("batch %d at %v, want %v", i, off, want)
				}
			}
		})
	}
}
