package stats_test

import (
	"errors"
	"math"
	"testing"

	"github.com/cdcbench/cdcbench/internal/stats"
)

// The expected values come from scipy 1.10.1 (Debian python3-scipy):
//
//	scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method=M)
//
// with M = "exact" for samples without ties up to 10 a side and
// "asymptotic" above. For exact p-values with ties, which scipy does not
// compute, the reference is a brute-force enumeration of every split of
// the pooled mid-ranks (itertools.combinations over scipy.stats.rankdata),
// counting splits whose rank sum is at or beyond the observed one.
func TestMannWhitneyU(t *testing.T) {
	t.Parallel()
	seq := func(from, to float64) []float64 {
		var s []float64
		for v := from; v <= to; v++ {
			s = append(s, v)
		}
		return s
	}
	tests := []struct {
		name  string
		x, y  []float64
		u, p  float64
		exact bool
	}{
		{"separated 5+5 (published 2/252)", seq(1, 5), seq(6, 10), 0, 0.007936507936507936, true},
		{"separated reversed", seq(6, 10), seq(1, 5), 25, 0.007936507936507936, true},
		{"identical samples", []float64{1, 2, 3}, []float64{1, 2, 3}, 4.5, 1, true},
		{"all values equal", []float64{5, 5, 5}, []float64{5, 5, 5}, 4.5, 1, true},
		{"interleaved 4+5", []float64{1.1, 2.4, 3.3, 5.0}, []float64{2.0, 4.1, 6.2, 7.7, 8.0}, 4, 0.19047619047619047, true},
		{"ties 6+6 (enumeration)", []float64{3, 4, 2, 6, 2, 5}, []float64{9, 7, 5, 10, 6, 8}, 2, 0.010822510822510822, true},
		{"ties 3+4 (enumeration)", []float64{1, 1, 2}, []float64{2, 3, 3, 3}, 0.5, 0.11428571428571428, true},
		{"one run each", []float64{4}, []float64{9}, 0, 1, true},
		{"shifted 20+20 (normal)", seq(1, 20), seq(6.5, 25.5), 105, 0.010581211443165648, false},
		{"overlapping 12+13 with ties (normal)",
			[]float64{19, 22, 16, 29, 24, 20, 11, 17, 12, 15, 14, 26},
			[]float64{20, 11, 17, 12, 23, 9, 6, 10, 8, 13, 22, 21, 15}, 110, 0.08628024802187192, false},
		{"heavy ties 12+11 (normal)",
			[]float64{1, 1, 2, 2, 2, 3, 1, 1, 2, 2, 2, 3},
			[]float64{2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6}, 7, 0.00023028123060298973, false},
		{"separated 11+11 (normal)", seq(1, 11), seq(12, 22), 0, 8.151536127743244e-05, false},
		{"interleaved 11+12 (normal)",
			[]float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110},
			[]float64{15, 25, 35, 45, 55, 65, 75, 85, 95, 105, 115, 125}, 55, 0.5181302014501532, false},
		{"all equal 12+12 (normal, zero variance)", repeat(7, 12), repeat(7, 12), 72, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := stats.MannWhitneyU(tt.x, tt.y)
			if err != nil {
				t.Fatal(err)
			}
			if got.U != tt.u || got.Exact != tt.exact || math.Abs(got.P-tt.p) > 1e-12 {
				t.Errorf("MannWhitneyU = U %g p %.17g exact %v; want U %g p %.17g exact %v", got.U, got.P, got.Exact, tt.u, tt.p, tt.exact)
			}
		})
	}
}

func repeat(v float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestMannWhitneyUErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x, y []float64
		want error
	}{
		{"empty x", nil, []float64{1}, stats.ErrEmpty},
		{"empty y", []float64{1}, []float64{}, stats.ErrEmpty},
		{"NaN", []float64{1, math.NaN()}, []float64{2}, stats.ErrNaN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := stats.MannWhitneyU(tt.x, tt.y); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMinP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n1, n2 int
		want   float64
	}{
		{1, 1, 1},
		{3, 3, 0.1},
		{3, 4, 2.0 / 35},
		{4, 4, 2.0 / 70},
		{5, 5, 2.0 / 252},
		{0, 5, 1},
	}
	for _, tt := range tests {
		if got := stats.MinP(tt.n1, tt.n2); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("MinP(%d, %d) = %g, want %g", tt.n1, tt.n2, got, tt.want)
		}
	}
	// MinP is what the test returns for fully separated samples.
	for n := 1; n <= stats.ExactLimit; n++ {
		x, y := repeatSeq(0, n), repeatSeq(100, n)
		got, err := stats.MannWhitneyU(x, y)
		if err != nil {
			t.Fatal(err)
		}
		if want := stats.MinP(n, n); math.Abs(got.P-want) > 1e-12 {
			t.Errorf("%d+%d separated: p = %g, MinP = %g", n, n, got.P, want)
		}
	}
}

func repeatSeq(from float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = from + float64(i)
	}
	return s
}
