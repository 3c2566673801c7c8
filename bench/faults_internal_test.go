package bench

import (
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
)

// TestRecoveryNoAlerts: a fault's time without alerts is the longest run
// of intervals without one from its start (a run that began before it
// counts from the fault's start) up to its recovery, or to the path's end
// when it never recovered; the figures of intervals after recovery are not
// the fault's.
func TestRecoveryNoAlerts(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }
	// One point per second: p99 in ms (-1: nothing timed) and alerts.
	type pt struct {
		p99    float64
		alerts int64
	}
	for _, tc := range []struct {
		name      string
		points    []pt // the first ends 1 s after start
		noAlerts  float64
		recovered float64 // -1: never
	}{
		{"alerts throughout", []pt{{50, 1}, {50, 1}, {50, 2}, {50, 1}, {50, 1}, {50, 1}}, 0, 0},
		// The fault runs from 2 s to 4 s: nothing arrives from 1 s to 5 s
		// (counted from the fault's start: 3 s), then a late burst, then
		// on time again in the interval ending at 7 s, 3 s after the
		// fault's end; the quiet after it is not the fault's.
		{"an outage, then recovery", []pt{{50, 1}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {3000, 3}, {50, 0}, {-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}}, 3, 3},
		// Never back under the objective: the longest quiet run is taken
		// over the whole rest of the path (2 s to 3 s, then 4 s to 7 s).
		{"never recovered", []pt{{50, 1}, {-1, 0}, {-1, 0}, {900, 1}, {900, 0}, {900, 0}, {900, 0}}, 3, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl latencyTimeline
			for i, p := range tc.points {
				tl.add(at(i+1), []float64{p.p99}, p.alerts)
			}
			faults := []result.FaultResult{{Kind: "kill-broker", AtS: 2, DurationS: 2}}
			tl.recovery(faults, start, 250*time.Millisecond)
			f := faults[0]
			if f.NoAlertsS != tc.noAlerts {
				t.Errorf("without alerts %.1f s, want %.1f", f.NoAlertsS, tc.noAlerts)
			}
			switch {
			case tc.recovered < 0 && f.RecoveredAfterS != nil:
				t.Errorf("recovered after %.1f s, want never", *f.RecoveredAfterS)
			case tc.recovered >= 0 && (f.RecoveredAfterS == nil || *f.RecoveredAfterS != tc.recovered):
				t.Errorf("recovered after %v s, want %.1f s", ptrString(f.RecoveredAfterS), tc.recovered)
			}
		})
	}
}

func ptrString(p *float64) string {
	if p == nil {
		return "never"
	}
	return time.Duration(*p * float64(time.Second)).String()
}
