package metrics

import (
	"fmt"
	"io"
	"math"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// A signal is one series cdcbench keeps from an exporter: a metric family
// of the exposition (as jmxexporter's rules name it, or the agent's own
// jvm_* series), the samples of it that count, and how they combine.
type signal struct {
	name   string // cdcbench's, after the target's: "debezium_queue_remaining"
	unit   string
	family string
	// match keeps a sample by its labels; nil keeps all.
	match func(labels map[string]string) bool
	// combine is how the kept samples make one value: "sum" or "max".
	combine string
	// rate turns a counter into its change per second, times scale.
	rate  bool
	scale float64
}

// taskProducer keeps a source task's producer (client id
// connector-producer-<connector>-<task>), not the worker's own for its
// configs, offsets and statuses topics.
func taskProducer(l map[string]string) bool {
	return strings.HasPrefix(l["client_id"], "connector-producer-")
}

func heap(l map[string]string) bool { return l["area"] == "heap" }

// pauses keeps the collectors whose time is stop-the-world pauses: on
// Java 21+ G1 adds "G1 Concurrent GC", time spent beside the program.
func pauses(l map[string]string) bool { return l["gc"] != "G1 Concurrent GC" }

// signals are what the sampler keeps, in the order reports chart them.
// The families are those of internal/jmxexporter/rules.yaml (Debezium,
// Connect, producers, the broker) and the exporter's own JVM series.
var signals = []signal{
	{name: "debezium_ms_behind_source", unit: "ms", family: "debezium_streaming_millisecondsbehindsource", combine: "max"},
	{name: "debezium_queue_remaining", unit: "records", family: "debezium_streaming_queueremainingcapacity", combine: "sum"},
	{name: "debezium_queue_total", unit: "records", family: "debezium_streaming_queuetotalcapacity", combine: "sum"},
	{name: "debezium_queue_bytes", unit: "bytes", family: "debezium_streaming_currentqueuesizeinbytes", combine: "sum"},
	{name: "debezium_events_per_s", unit: "records/s", family: "debezium_streaming_totalnumberofeventsseen", combine: "sum", rate: true, scale: 1},
	{name: "connect_poll_rate", unit: "records/s", family: "connect_source_task_source_record_poll_rate", combine: "sum"},
	{name: "connect_write_rate", unit: "records/s", family: "connect_source_task_source_record_write_rate", combine: "sum"},
	{name: "connect_poll_batch_avg_ms", unit: "ms", family: "connect_source_task_poll_batch_avg_time_ms", combine: "max"},
	{name: "producer_record_queue_time_avg_ms", unit: "ms", family: "producer_record_queue_time_avg", match: taskProducer, combine: "max"},
	{name: "producer_request_latency_avg_ms", unit: "ms", family: "producer_request_latency_avg", match: taskProducer, combine: "max"},
	{name: "producer_batch_size_avg_bytes", unit: "bytes", family: "producer_batch_size_avg", match: taskProducer, combine: "max"},
	{name: "producer_records_per_request_avg", unit: "records", family: "producer_records_per_request_avg", match: taskProducer, combine: "max"},
	{name: "producer_record_send_rate", unit: "records/s", family: "producer_record_send_rate", match: taskProducer, combine: "sum"},
	{name: "broker_produce_time_p99_ms", unit: "ms", family: "broker_produce_total_time_ms_99thpercentile", combine: "max"},
	{name: "broker_produce_time_mean_ms", unit: "ms", family: "broker_produce_total_time_ms_mean", combine: "max"},
	{name: "gc_pause_ms_per_s", unit: "ms/s", family: "jvm_gc_collection_seconds", match: pauses, combine: "sum", rate: true, scale: 1000},
	{name: "heap_used_bytes", unit: "bytes", family: "jvm_memory_used_bytes", match: heap, combine: "sum"},
}

// Unit is the unit of a series cdcbench samples ("connect.gc_pause_ms_per_s"
// is "ms/s"), "" for a name it does not know.
func Unit(series string) string {
	_, sig, _ := strings.Cut(series, ".")
	for _, s := range signals {
		if s.name == sig {
			return s.unit
		}
	}
	switch {
	case strings.HasPrefix(sig, "slot_"):
		return "bytes"
	case sig == "autovacuum_workers":
		return "workers"
	case sig == "wal_syncs_per_s":
		return "syncs/s"
	case sig == "wal_sync_ms_per_s":
		return "ms/s"
	case sig == "wal_sync_avg_ms":
		return "ms"
	case strings.HasPrefix(sig, "lag."):
		return "records"
	case sig == "busiest_thread_cores" || strings.HasPrefix(sig, "thread_cores."):
		return "cores"
	}
	return ""
}

// parse reads an exposition in Prometheus's text format with the
// Prometheus project's own parser.
func parse(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse the exposition: %w", err)
	}
	return fams, nil
}

// reading is a signal's value in one exposition; for a rate signal it is
// the counter, which the sampler turns into a rate against the previous.
type reading struct {
	sig   *signal
	value float64
}

// selectSignals is every signal present in fams, combined over its kept
// samples. A family with no kept sample, or only NaN ones (a Kafka rate
// before its first event), gives no reading: absent, not zero.
func selectSignals(fams map[string]*dto.MetricFamily) []reading {
	var out []reading
	for i := range signals {
		sig := &signals[i]
		fam, ok := fams[sig.family]
		if !ok {
			continue
		}
		v, n := 0.0, 0
		for _, m := range fam.GetMetric() {
			if sig.match != nil && !sig.match(labelMap(m)) {
				continue
			}
			x, ok := value(m)
			if !ok || math.IsNaN(x) {
				continue
			}
			switch {
			case n == 0:
				v = x
			case sig.combine == "max":
				v = math.Max(v, x)
			default:
				v += x
			}
			n++
		}
		if n > 0 {
			out = append(out, reading{sig: sig, value: v})
		}
	}
	return out
}

// value is a sample's number: a gauge's, a counter's or untyped value, or
// a summary's sum (the exporter's GC time is a summary of pauses).
func value(m *dto.Metric) (float64, bool) {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	case m.Summary != nil:
		return m.Summary.GetSampleSum(), true
	}
	return 0, false
}

func labelMap(m *dto.Metric) map[string]string {
	l := make(map[string]string, len(m.GetLabel()))
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}
