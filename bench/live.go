package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cdcbench/cdcbench/internal/live"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/producer"
)

// Live is where a run shows its series while it lasts (the dashboard's
// page). The run hands it each second's e2e p50 and p99 per path and
// agent, the target and committed rate, and each agent's backlog.
type Live interface {
	live.Sink
	// CPU is what showing the series has cost this process so far: the
	// machine cost reports its share of the measured window as a
	// component of its own, inside cdcbench's figure.
	CPU() time.Duration
}

// The series a run shows, by name.
const (
	seriesP50     = "e2e p50"
	seriesP99     = "e2e p99"
	seriesRate    = "rows/s"
	seriesBacklog = "backlog"
)

// latencyPoints are an interval's e2e p50 and p99 of one agent, ending at
// to.
func latencyPoints(path, agent string, to time.Time, h *hdrhistogram.Histogram) []live.Point {
	return []live.Point{
		{Series: seriesP50, Path: path, Label: agent, Unit: "ms", T: to, V: float64(h.ValueAtQuantile(50)) / 1000},
		{Series: seriesP99, Path: path, Label: agent, Unit: "ms", T: to, V: float64(h.ValueAtQuantile(99)) / 1000},
	}
}

// showRates hands the live page the second before now: the schedule's
// target rate, the rows whose commit was acknowledged, and each agent's
// backlog (rows sent that it has not received yet, whatever carries them:
// a consumer group's lag, a poller's).
func (p *pathRun) showRates(now time.Time) {
	l := p.r.cfg.Live
	if l == nil {
		return
	}
	path := p.spec.String()
	lastID := p.lastID.Load()
	pts := []live.Point{
		{Series: seriesRate, Path: path, Label: "target", Unit: "rows/s", T: now, V: p.plan.Schedule.Rate(now.Sub(p.start)) * float64(p.plan.BatchSize)},
		{Series: seriesRate, Path: path, Label: "committed", Unit: "rows/s", T: now, V: float64(committedLastSecond(p.prod.Log(), lastID, p.plan.BatchSize, now))},
	}
	produced := max(lastID-producer.FirstID+1, 0)
	for _, ar := range p.runs {
		pts = append(pts, live.Point{Series: seriesBacklog, Path: path, Label: ar.name, Unit: "rows", T: now, V: float64(max(produced-ar.events.Load(), 0))})
	}
	l.Add(pts...)
}

// liveCost is the machine cost's part for the live page, whose CPU so far
// cpu says: inside cdcbench's own.
func liveCost(cpu func() time.Duration) part {
	return part{
		cost: result.ComponentCost{Name: "dashboard", Role: result.RoleHarness,
			Note: "inside cdcbench's figure: the live page's feed and HTTP handlers, their threads' CPU around each call (not from /proc)"},
		cpu: cpu,
	}
}
