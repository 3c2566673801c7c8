package bench

import (
	"reflect"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

func TestKnee(t *testing.T) {
	sl := func(rate, p99 float64, count int64) result.SliceResult {
		return result.SliceResult{TargetRowsPerS: rate, E2E: map[string]recorder.Summary{"a": {Count: count, P99: p99}, "b": {Count: count, P99: p99 / 2}}}
	}
	cases := []struct {
		name     string
		slices   []result.SliceResult
		wantRate float64 // 0: no knee
		wantMiss float64 // 0: no miss
		metAgain []float64
	}{
		{"ramp breaks", []result.SliceResult{sl(1000, 10, 5), sl(2000, 50, 5), sl(3000, 400, 5), sl(4000, 900, 5)}, 2000, 3000, nil},
		{"never breaks", []result.SliceResult{sl(1000, 10, 5), sl(2000, 20, 5)}, 2000, 0, nil},
		{"breaks at once", []result.SliceResult{sl(1000, 300, 5)}, 0, 0, nil},
		{"unmeasured slices do not count", []result.SliceResult{sl(1000, 10, 5), sl(2000, 0, 0)}, 1000, 0, nil},
		{"step down after a spike", []result.SliceResult{sl(500, 10, 5), sl(10000, 900, 5), sl(500, 20, 5)}, 500, 10000, nil},
		// A rate is sustained only when every lower one was: a miss that a
		// higher rate does not repeat is reported, not skipped over.
		{"a miss, then met again", []result.SliceResult{sl(1000, 50, 5), sl(5000, 80, 5), sl(7500, 300, 5), sl(10000, 90, 5), sl(12500, 600, 5), sl(15000, 200, 5)}, 5000, 7500, []float64{10000, 15000}},
		{"the same rate met once and missed once", []result.SliceResult{sl(1000, 10, 5), sl(2000, 20, 5), sl(1000, 400, 5)}, 0, 0, nil},
		{"the lowest rate missed, a higher one met", []result.SliceResult{sl(1000, 400, 5), sl(2000, 20, 5)}, 0, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := knee(c.slices, 250*time.Millisecond)
			if c.wantRate == 0 {
				if k != nil {
					t.Fatalf("knee = %+v, want none", k)
				}
				return
			}
			if k == nil || k.TargetRowsPerS != c.wantRate {
				t.Fatalf("knee = %+v, want rate %v", k, c.wantRate)
			}
			if c.wantMiss == 0 && k.FirstMiss != nil || c.wantMiss != 0 && (k.FirstMiss == nil || k.FirstMiss.TargetRowsPerS != c.wantMiss) {
				t.Fatalf("first miss = %+v, want rate %v", k.FirstMiss, c.wantMiss)
			}
			if !reflect.DeepEqual(k.MetAgain, c.metAgain) {
				t.Errorf("met again at %v, want %v", k.MetAgain, c.metAgain)
			}
		})
	}
}
