package metrics

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/golden"
)

// TestSelectGolden selects the signals from expositions captured from the
// local stack's running broker and Connect worker (Kafka 4.3.1, Debezium
// 3.6.1.Final, a debezium-tuned path at about 10,000 rows/s) with the
// rules of internal/jmxexporter: every signal that the JVM serves is
// found, and the producer's come from the source task's producer, not the
// worker's own (whose record-queue-time was 13 ms beside the task's 174).
func TestSelectGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string // signals that must be there
	}{
		{"broker", []string{"broker_produce_time_p99_ms", "gc_pause_ms_per_s", "heap_used_bytes"}},
		{"connect", []string{"debezium_queue_remaining", "debezium_queue_total", "debezium_ms_behind_source",
			"connect_poll_rate", "producer_record_queue_time_avg_ms", "producer_request_latency_avg_ms", "producer_records_per_request_avg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.name+".prom"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fams, err := parse(f)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			got := map[string]bool{}
			for _, r := range selectSignals(fams) {
				unit := r.sig.unit
				if r.sig.rate {
					unit = "(a counter, sampled as " + unit + ")"
				}
				fmt.Fprintf(&b, "%s %g %s\n", r.sig.name, r.value, unit)
				got[r.sig.name] = true
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("no %s in %s.prom's selection:\n%s", w, tc.name, b.String())
				}
			}
			golden.Check(t, tc.name+".selected", b.Bytes())
		})
	}
}

// TestSelectSkips: a NaN (a Kafka rate before its first event) and a
// sample the signal does not keep give no reading, rather than a zero
// that would chart as a measured value.
func TestSelectSkips(t *testing.T) {
	for _, tc := range []struct {
		name, text string
	}{
		{"NaN", "producer_request_latency_avg{client_id=\"connector-producer-x-0\"} NaN\n"},
		{"worker's own producer", "producer_request_latency_avg{client_id=\"cdcbench-connect-offsets\"} 20\n"},
		{"concurrent GC time", "# TYPE jvm_gc_collection_seconds summary\njvm_gc_collection_seconds_sum{gc=\"G1 Concurrent GC\"} 3\njvm_gc_collection_seconds_count{gc=\"G1 Concurrent GC\"} 3\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fams, err := parse(strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if got := selectSignals(fams); len(got) != 0 {
				t.Errorf("selected %s = %g, want nothing", got[0].sig.name, got[0].value)
			}
		})
	}
}

func TestUnit(t *testing.T) {
	for _, tc := range []struct{ series, want string }{
		{"connect.debezium_queue_remaining", "records"},
		{"broker.gc_pause_ms_per_s", "ms/s"},
		{"database.slot_retained_bytes", "bytes"},
		{"database.wal_sync_avg_ms", "ms"},
		{"database.wal_syncs_per_s", "syncs/s"},
		{"kafka.lag.outlier", "records"},
		{"connect.thread_cores.debezium-postgr", "cores"},
		{"connect.busiest_thread_cores", "cores"},
		{"connect.unknown", ""},
	} {
		t.Run(tc.series, func(t *testing.T) {
			if got := Unit(tc.series); got != tc.want {
				t.Errorf("Unit(%q) = %q, want %q", tc.series, got, tc.want)
			}
		})
	}
}
