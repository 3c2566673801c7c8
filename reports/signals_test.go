package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// series is a metric series sampled once a second from second from.
func series(name string, from float64, values ...float64) result.MetricSeries {
	s := result.MetricSeries{Name: name}
	for i, v := range values {
		s.Seconds = append(s.Seconds, from+float64(i))
		s.Values = append(s.Values, v)
	}
	return s
}

// stepPath has two slices: 0–10 s at 5,000 rows/s (p99 20 ms) and
// 10–20 s at 12,500 rows/s (p99 212 ms), the worst.
func stepPath(metrics ...result.MetricSeries) result.Path {
	return result.Path{Name: "debezium-tuned", MeasuredSeconds: 20, TargetRowsPerS: 8750,
		Agents: []result.AgentResult{{Name: "outlier", E2E: recorder.Summary{P99: 212}}},
		Slices: []result.SliceResult{
			{FromS: 0, ToS: 10, TargetRowsPerS: 5000, E2E: map[string]recorder.Summary{"outlier": {P99: 20}}},
			{FromS: 10, ToS: 20, TargetRowsPerS: 12500, E2E: map[string]recorder.Summary{"outlier": {P99: 212}}},
		},
		Metrics: metrics}
}

func TestTailLine(t *testing.T) {
	full := []float64{32768, 30000, 2000, 0, 0, 100, 20000, 32768, 32768, 32768}
	for _, tc := range []struct {
		name      string
		path      result.Path
		objective time.Duration
		want      []string // parts of the line, in order
		not       []string
	}{
		{"no metrics", result.Path{Name: "poll-100ms"}, 100 * time.Millisecond, nil, nil},
		{"queue full for 4 s in the worst slice", stepPath(
			series("connect.debezium_queue_remaining", 10, full...),
			series("connect.debezium_queue_total", 10, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768),
		), 100 * time.Millisecond, []string{"debezium-tuned at 12,500 rows/s (seconds 10–20, its worst p99 212 ms)", "Debezium's queue (32,768 records) was full in 4 s"}, nil},
		{"queue full only in the quiet slice is not the tail's", stepPath(
			series("connect.debezium_queue_remaining", 0, full...),
			series("connect.debezium_queue_total", 0, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768, 32768),
		), 100 * time.Millisecond, []string{"no sampled signal passed its threshold"}, []string{"queue (32,768"}},
		{"delays in trip order, under the threshold left out", stepPath(
			series("broker.gc_pause_ms_per_s", 10, 0, 60, 0),
			series("connect.producer_record_queue_time_avg_ms", 10, 20, 180, 90),
			series("connect.debezium_ms_behind_source", 10, 5, 24, 10), // under 25 ms
			series("connect.gc_pause_ms_per_s", 10, 3, 5),
		), 100 * time.Millisecond, []string{"Connect's producer held a record up to 180 ms", "broker GC paused up to 60 ms in a second"}, []string{"behind the source", "connect GC"}},
		{"a slow WAL fsync at the commit, before any capture", stepPath(
			series("database.wal_sync_avg_ms", 10, 2, 61.5, 3),
			series("connect.debezium_ms_behind_source", 10, 5, 30),
		), 100 * time.Millisecond, []string{"the database's WAL fsyncs, which every commit waits for, took up to 61.5 ms", "Debezium was up to 30 ms behind"}, nil},
		{"the objective sets the threshold", stepPath(
			series("connect.producer_record_queue_time_avg_ms", 10, 20, 180, 90),
		), time.Second, []string{"no sampled signal passed"}, []string{"producer held"}},
		{"a thread at a full core, a busy one under it left out", stepPath(
			series("connect.thread_cores.debezium-postgr", 10, 0.7, 0.97, 0.95),
			series("connect.thread_cores.task-thread-cdc", 10, 0.5, 0.8),
			series("connect.debezium_ms_behind_source", 10, 40, 900),
		), 100 * time.Millisecond, []string{"connect's thread debezium-postgr used up to 0.97 of a core", "Debezium was up to 900 ms behind"}, []string{"task-thread"}},
		{"a lag that never drained, not the commit interval's sawtooth", stepPath(
			series("kafka.lag.outlier", 10, 20000, 25000, 15000),     // over 12,500 x 1.1 s
			series("kafka.lag.velocity", 10, 100, 25000, 62000, 300), // commits every 5 s
		), 100 * time.Millisecond, []string{"agent outlier stayed at least 15,000 records behind"}, []string{"velocity"}},
		{"an external exporter's series count too", stepPath(
			series("external-1.debezium_ms_behind_source", 12, 850),
		), 100 * time.Millisecond, []string{"Debezium was up to 850 ms behind the source"}, nil},
		{"no slices: the measured window", result.Path{Name: "cdc", MeasuredSeconds: 10, TargetRowsPerS: 2000,
			Agents:  []result.AgentResult{{Name: "outlier", E2E: recorder.Summary{P99: 40}}},
			Metrics: []result.MetricSeries{series("broker.broker_produce_time_p99_ms", 4, 10, 80, 10)}},
			100 * time.Millisecond, []string{"cdc over the measured window (2,000 rows/s, worst p99 40 ms)", "the broker's produce p99 reached 80 ms"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tailLine(tc.path, 4, tc.objective)
			if tc.want == nil {
				if got != "" {
					t.Fatalf("tailLine = %q, want none", got)
				}
				return
			}
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("tailLine = %q\nwant, in order: %q", got, tc.want)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("tailLine = %q, should not say %q", got, n)
				}
			}
		})
	}
}
