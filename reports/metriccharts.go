package reports

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/cdcbench/cdcbench/internal/result"
)

// A metricChart is one chart of a path's internal signals: the series of
// the signals listed (from any source), on one unit.
type metricChart struct {
	kind, title, unit, read string
	signals                 []string
	// latency makes the y axis logarithmic when the values spread wide.
	latency bool
	// derive, when set, makes the chart's lines from the path instead.
	derive func(p result.Path) []namedSeries
	scale  float64 // values are divided by it (bytes → MB)
}

// namedSeries is a line of a metric chart.
type namedSeries struct {
	name string
	xy   plotter.XYs // seconds of the schedule; the chart shifts them
}

// metricCharts are drawn under each path's latency chart, on its time
// axis; reports/README.md lists the series.
var metricCharts = []metricChart{
	{kind: "delays", title: "internal delays", unit: "ms (GC: ms paused per second)", latency: true,
		signals: []string{"debezium_ms_behind_source", "producer_record_queue_time_avg_ms", "producer_request_latency_avg_ms", "broker_produce_time_p99_ms", "gc_pause_ms_per_s"},
		read:    "Debezium's lag behind the source (MilliSecondsBehindSource), the time a record waits in Connect's producer before it is sent (record-queue-time-avg), the producer's request latency, the broker's produce p99 and each JVM's GC pause time per second, sampled once a second on the latency chart's time axis: a delay that rises with the latency above is where the time went."},
	{kind: "backlog", title: "backlogs", unit: "records", derive: backlogs,
		read: "records waiting in Debezium's queue (its capacity minus QueueRemainingCapacity; the queue is full at max.queue.size) and each agent group's consumer lag on the change topic: a full queue means Connect does not take records as fast as Debezium reads the WAL, the lag is of the groups' committed offsets, which the agents commit every 5 s, so it saws up and down by 5 s of rows; troughs that rise mean the agents do not read as fast as the topic fills."},
	{kind: "threads", title: "CPU of the busiest threads", unit: "cores",
		signals: []string{"thread_cores."},
		read:    "CPU of each thread name of the path's JVMs that used at least 0.05 of a core in a second (from /proc/<pid>/task; names cut to 15 characters, as Linux keeps them): one thread near 1.0 is a ceiling no per-process figure shows, such as Debezium's streaming thread (debezium-postgr) or Connect's task thread (task-thread-…)."},
	{kind: "throughput", title: "records per second inside the pipeline", unit: "records/s",
		signals: []string{"debezium_events_per_s", "connect_poll_rate", "producer_record_send_rate"},
		read:    "events Debezium read from the WAL, records Connect's task polled from it and its producer sent, per second: flat lines below the offered rate in the rate chart are the pipeline's ceiling."},
	{kind: "wal", title: "WAL held by the replication slot", unit: "MB", scale: 1e6,
		signals: []string{"slot_retained_bytes", "slot_unconfirmed_bytes"},
		read:    "WAL behind the slot's restart_lsn (what the server keeps on disk for it) and behind its confirmed_flush_lsn (what the capture has not confirmed yet)."},
}

// lines are c's lines for p.
func (c metricChart) lines(p result.Path) []namedSeries {
	if c.derive != nil {
		return c.derive(p)
	}
	scale := c.scale
	if scale == 0 {
		scale = 1
	}
	var out []namedSeries
	for _, sig := range c.signals {
		for _, s := range seriesBySignal(p, sig) {
			xy := make(plotter.XYs, len(s.Seconds))
			for i := range s.Seconds {
				xy[i] = plotter.XY{X: s.Seconds[i], Y: s.Values[i] / scale}
			}
			out = append(out, namedSeries{name: s.Name, xy: xy})
		}
	}
	return out
}

// backlogs is Debezium's queue in use (capacity minus remaining) and each
// consumer group's lag.
func backlogs(p result.Path) []namedSeries {
	var out []namedSeries
	for _, s := range seriesBySignal(p, "debezium_queue_remaining") {
		total := p.Metric(source(s.Name) + ".debezium_queue_total")
		if total == nil {
			continue
		}
		var xy plotter.XYs
		for i, sec := range s.Seconds {
			if c, ok := valueAt(total, sec); ok {
				xy = append(xy, plotter.XY{X: sec, Y: c - s.Values[i]})
			}
		}
		out = append(out, namedSeries{name: source(s.Name) + ".debezium_queue_used", xy: xy})
	}
	for _, s := range seriesBySignal(p, "lag.") {
		xy := make(plotter.XYs, len(s.Seconds))
		for i := range s.Seconds {
			xy[i] = plotter.XY{X: s.Seconds[i], Y: s.Values[i]}
		}
		out = append(out, namedSeries{name: s.Name, xy: xy})
	}
	return out
}

// plot draws c for p, with x as seconds since the measured window began
// (warmupS before the schedule's), from 0 to xmax when xmax > 0 (the
// latency chart's range, so that the two line up); nil when p has none
// of c's series.
func (c metricChart) plot(p result.Path, warmupS, xmax float64) (*plot.Plot, error) {
	series := c.lines(p)
	if len(series) == 0 {
		return nil, nil
	}
	pl := newPlot(fmt.Sprintf("%s: %s", p.Name, c.title), "seconds since the measured window began", c.unit)
	var lines []chartLine
	for i, s := range series {
		xy := make(plotter.XYs, 0, len(s.xy))
		for _, pt := range s.xy {
			if x := pt.X - warmupS; x >= 0 && (xmax <= 0 || x <= xmax) {
				xy = append(xy, plotter.XY{X: x, Y: pt.Y})
			}
		}
		if len(xy) == 0 {
			continue
		}
		lines = append(lines, chartLine{name: s.name, xy: xy, color: paletteColor(i), dash: dash(i / len(palette))})
	}
	if len(lines) == 0 {
		return nil, nil
	}
	if err := addLines(pl, lines, c.latency, 0); err != nil {
		return nil, err
	}
	pl.X.Min = 0
	if xmax > 0 {
		pl.X.Max = xmax
	}
	pl.X.Tick.Marker = plot.TickerFunc(secondTicks)
	return pl, nil
}
