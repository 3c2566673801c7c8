package bench

import (
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
	}{
		{"ramp breaks", []result.SliceResult{sl(1000, 10, 5), sl(2000, 50, 5), sl(3000, 400, 5), sl(4000, 900, 5)}, 2000, 3000},
		{"never breaks", []result.SliceResult{sl(1000, 10, 5), sl(2000, 20, 5)}, 2000, 0},
		{"breaks at once", []result.SliceResult{sl(1000, 300, 5)}, 0, 0},
		{"unmeasured slices do not count", []result.SliceResult{sl(1000, 10, 5), sl(2000, 0, 0)}, 1000, 0},
		{"step down after a spike", []result.SliceResult{sl(500, 10, 5), sl(10000, 900, 5), sl(500, 20, 5)}, 500, 10000},
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
		})
	}
}
