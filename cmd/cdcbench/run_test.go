package main

import (
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
)

// TestNextSteps: a run ends saying how to read, gate and compare it.
func TestNextSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		dirs []string
		want []string
	}{
		{"one run", []string{"results/burst-1"}, []string{"cdcbench report results/burst-1 -o report.md", "cdcbench gate results/burst-1 ",
			"cdcbench compare results/burst-1 OTHER_RUN"}},
		{"repeated runs", []string{"results/a", "results/b"}, []string{"cdcbench report results/a results/b -o", "cdcbench gate results/a results/b ",
			"cdcbench compare results/a results/b vs OTHER_RUNS..."}},
		{"no run", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			writeNextSteps(&b, tc.dirs)
			if tc.want == nil && b.Len() > 0 {
				t.Errorf("next steps without a run: %q", b.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("next steps lack %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestFellBehind: a run invalid by schedule lag says what to change.
func TestFellBehind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lagMs float64
		want  []string
	}{
		{"behind", 1383, []string{"fell 1383 ms behind its schedule (tolerance 1s)", "load average", "quieter", "schedule_tolerance", "--rate"}},
		{"within the tolerance", 900, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &result.Result{Paths: []result.Path{{Name: "cdc", MaxScheduleLagMs: 12}, {Name: "poll-100ms", MaxScheduleLagMs: tc.lagMs}}}
			got := fellBehind(res, time.Second)
			if (got == "") != (tc.want == nil) {
				t.Fatalf("fellBehind = %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("hint %q lacks %q", got, w)
				}
			}
		})
	}
}
