package stats_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cdcbench/cdcbench/internal/stats"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"odd", []float64{9, 1, 5}, 5},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			if got := stats.Median(tt.in); got != tt.want {
				t.Errorf("Median(%v) = %g, want %g", tt.in, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatalf("Median reordered its input: %v", tt.in)
				}
			}
		})
	}
	if !math.IsNaN(stats.Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     []float64
		spread float64
		str    string
	}{
		{"three runs", []float64{4.0, 4.4, 3.8}, 10, "4.00 ±10%"},
		{"one run", []float64{82.14}, 0, "82.1"},
		{"large values", []float64{1234, 1000, 1100}, 100 * 134 / 1100.0, "1100 ±12%"},
		{"sub-millisecond", []float64{0.153, 0.152, 0.160}, 100 * 0.007 / 0.153, "0.153 ±5%"},
		{"zero median", []float64{0, 0, 1}, math.NaN(), "0"},
		{"none", nil, math.NaN(), "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stats.Summarize(tt.in)
			if s.N != len(tt.in) {
				t.Errorf("N = %d", s.N)
			}
			if math.IsNaN(tt.spread) != math.IsNaN(s.Spread) || !math.IsNaN(tt.spread) && math.Abs(s.Spread-tt.spread) > 1e-9 {
				t.Errorf("Spread = %g, want %g", s.Spread, tt.spread)
			}
			if got := s.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
		})
	}
}

func TestFormatSig(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{
		0: "0", 0.000123: "0.000123", 0.0035: "0.00350", 0.1534: "0.153", 0.9: "0.900", 4: "4.00", 4.093: "4.09",
		9.996: "10.0", 82.14: "82.1", 99.96: "100", 250: "250", 12345.6: "12346", -4.5: "-4.50", math.Inf(1): "+Inf",
	} {
		if got := stats.FormatSig(in); got != want {
			t.Errorf("FormatSig(%g) = %q, want %q", in, got, want)
		}
	}
}

func TestBootstrapMedianRatio(t *testing.T) {
	t.Parallel()
	t.Run("constant samples give a point interval", func(t *testing.T) {
		ci, err := stats.BootstrapMedianRatio([]float64{2, 2, 2}, []float64{5, 5, 5}, 0.95, 1000, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Point != 2.5 || ci.Lo != 2.5 || ci.Hi != 2.5 || ci.Level != 0.95 {
			t.Errorf("CI = %+v, want 2.5 [2.5, 2.5]", ci)
		}
	})
	t.Run("separated samples stay within the extreme ratios", func(t *testing.T) {
		a, b := []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}
		ci, err := stats.BootstrapMedianRatio(a, b, 0.95, 2000, 7)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Point != 8.0/3 || ci.Lo < 6.0/5 || ci.Hi > 10.0/1 || !(ci.Lo < ci.Point && ci.Point < ci.Hi) {
			t.Errorf("CI = %+v, want 1.2 <= lo < 2.67 < hi <= 10", ci)
		}
	})
	t.Run("same seed same interval, other seed other interval", func(t *testing.T) {
		a, b := []float64{3.9, 4.1, 4.4, 3.7, 5.2}, []float64{4.8, 5.5, 5.1, 4.9, 6.3}
		c1, _ := stats.BootstrapMedianRatio(a, b, 0.9, 500, 42)
		c2, _ := stats.BootstrapMedianRatio(a, b, 0.9, 500, 42)
		c3, _ := stats.BootstrapMedianRatio(a, b, 0.9, 500, 43)
		if c1 != c2 {
			t.Errorf("seed 42 gave %+v then %+v", c1, c2)
		}
		if c1 == c3 {
			t.Errorf("seeds 42 and 43 gave the same interval %+v", c1)
		}
	})
	t.Run("covers the true ratio of large samples", func(t *testing.T) {
		// Exponential latencies with medians ln2·10 and ln2·30: ratio 3.
		rng := rand.New(rand.NewPCG(1, 2))
		a, b := make([]float64, 400), make([]float64, 400)
		for i := range a {
			a[i] = 10 * rng.ExpFloat64()
			b[i] = 30 * rng.ExpFloat64()
		}
		ci, err := stats.BootstrapMedianRatio(a, b, 0.95, 2000, 1)
		if err != nil {
			t.Fatal(err)
		}
		if ci.Lo > 3 || ci.Hi < 3 || ci.Hi-ci.Lo > 1.5 {
			t.Errorf("CI = %+v, want a narrow interval around 3", ci)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"empty":     func() error { _, err := stats.BootstrapMedianRatio(nil, []float64{1}, 0.95, 10, 1); return err },
			"level 1":   func() error { _, err := stats.BootstrapMedianRatio([]float64{1}, []float64{1}, 1, 10, 1); return err },
			"0 samples": func() error { _, err := stats.BootstrapMedianRatio([]float64{1}, []float64{1}, 0.95, 0, 1); return err },
		} {
			if call() == nil {
				t.Errorf("%s: no error", name)
			}
		}
	})
}
