package bench_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/connect"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/scenarios"
)

// TestDebeziumServerPath runs a short workload through real Debezium
// Server (a tuned label, with settings) into the local stack's broker,
// with its JVM killed mid-run (kill-capture): the run must be valid, every
// row must reach both agents (the events it sends again after its restart
// counted as duplicates, never as alerts), the alerts must be the
// oracle's, its configuration, start-up and restart must be reported, its
// JVM's machine cost measured, and no JVM of it may outlive the run.
func TestDebeziumServerPath(t *testing.T) {
	st, cdc := localStack(t)
	tmp := t.TempDir() // the path's directory goes here, to be looked for
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	path := driver.Path{Kind: "debezium-server", Param: "tuned"}
	// One row per transaction: a Debezium Server killed while its last
	// offset lies inside a transaction loses the rest of that transaction
	// on its restart (docs/findings.md); this test holds what must work,
	// the kill, the restart from the offsets and the duplicates.
	p := plan(100, 8, 0, path)
	p.BatchSize = 1
	// A commit per row on a shared 2-core machine: the point is
	// correctness, not the schedule.
	p.ScheduleTolerance = 5 * time.Second
	settings := map[string]string{"debezium.source.poll.interval.ms": "50", "debezium.sink.kafka.producer.linger.ms": "5"}
	p.Settings = map[string]map[string]string{path.String(): settings}
	// A restarted server needs its start-up again (25 s at a load of 2)
	// before it streams what was committed meanwhile.
	p.DrainTimeout = 3 * time.Minute
	p.Faults = []scenarios.FaultSpec{{Kind: scenarios.FaultKillCapture, At: scenarios.Duration(4 * time.Second), Duration: scenarios.Duration(time.Second)}}
	res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !res.Valid {
		t.Fatalf("run invalid: %v", res.InvalidReasons)
	}
	r := res.Paths[0]
	if r.RowsProduced != 9*100 {
		t.Errorf("produced %d rows, want %d", r.RowsProduced, 9*100)
	}
	for _, a := range r.Agents {
		if a.Events != r.RowsProduced || a.ExpectedEvents != r.RowsProduced {
			t.Errorf("%s: events %d/%d of %d", a.Name, a.Events, a.ExpectedEvents, r.RowsProduced)
		}
		if a.ExpectedAlerts == 0 || a.Alerts != a.ExpectedAlerts || a.MissedAlerts != 0 || a.UnexpectedAlerts != 0 {
			t.Errorf("%s: alerts %d, expected %d, missed %d, unexpected %d", a.Name, a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts)
		}
		// source.ts_ms splits commit → agent at the change event, the
		// broker's append time splits the rest.
		for _, stage := range []string{"commit_event", "event_append", "append_receive", "agent"} {
			if s, ok := a.Stages[stage]; !ok || s.Count == 0 {
				t.Errorf("%s: no %s stage", a.Name, stage)
			}
		}
		t.Logf("%s: e2e p50 %.1f ms p99 %.1f ms, commit_event p50 %.1f ms, %d duplicates", a.Name, a.E2E.P50, a.E2E.P99, a.Stages["commit_event"].P50, a.DuplicateEvents)
	}
	if !strings.HasPrefix(r.Capture, "Debezium Server "+driver.DebeziumServerVersion) || !reflect.DeepEqual(r.Settings, settings) {
		t.Errorf("capture %q, settings %v", r.Capture, r.Settings)
	}
	d := r.Driver
	t.Logf("driver: startup %v ms, restarts %v (%v ms), dist %v bytes", d["server_startup_ms"], d["server_restarts"], d["server_restart_ms"], d["server_dist_bytes"])
	conf, _ := d["server_config"].(connect.Config)
	for k, want := range map[string]string{
		"debezium.source.plugin.name": "pgoutput", "debezium.source.decimal.handling.mode": "double",
		"debezium.source.topic.prefix": "dbserver1", "debezium.sink.type": "kafka",
		"debezium.source.poll.interval.ms": "50", "debezium.sink.kafka.producer.linger.ms": "5",
	} {
		if conf[k] != want {
			t.Errorf("server_config[%s] = %q, want %q", k, conf[k], want)
		}
	}
	if pw := conf["debezium.source.database.password"]; pw != "" && pw != connect.Mask {
		t.Errorf("server_config shows the database password")
	}
	if n, ok := d["server_startup_ms"].(int64); !ok || n <= 0 {
		t.Errorf("server_startup_ms = %v", d["server_startup_ms"])
	}
	if d["server_restarts"] != 1 || len(d["server_restart_ms"].([]int64)) != 1 {
		t.Errorf("server_restarts %v, server_restart_ms %v; want one (kill-capture)", d["server_restarts"], d["server_restart_ms"])
	}
	// Its recovery time is reported when latency is back under the
	// objective before the path ends; a restart of 10-60 s outlasts this
	// short window, so only the fault's peak is asserted.
	for _, f := range r.Faults {
		if f.Error != "" || f.Skipped != "" || f.PeakP99Ms <= 0 {
			t.Errorf("fault %s: %+v", f.Kind, f)
		}
	}
	// Machine cost follows the restarted JVM (the killed one's CPU after
	// its last sample is not counted: a partial figure, said so).
	var names []string
	for _, c := range r.MachineCost.Components {
		names = append(names, c.Name)
		if c.Name == "debezium server" && (c.CPUSeconds == nil || *c.CPUSeconds <= 0 || c.PeakRSSBytes == nil || *c.PeakRSSBytes <= 0 || c.Processes != 2) {
			t.Errorf("debezium server's machine cost: %+v, want both JVMs measured", c)
		}
	}
	if got := strings.Join(names, ","); got != "wal sender,kafka broker,debezium server,cdcbench" {
		t.Errorf("machine cost components %s", got)
	}
	if pids := childJVMs(t, "io.debezium.server.Main"); len(pids) > 0 {
		t.Errorf("Debezium Server JVMs left running: %v", pids)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "cdcbench-dbzserver-*")); len(left) > 0 {
		t.Errorf("Debezium Server's directory left: %v", left)
	}
}

// TestDebeziumServerMatchesDebezium holds Debezium Server to Debezium in
// Kafka Connect: the same rows go through each (the same connector,
// configured alike), and the two change events of each row must agree in
// key and value, schema and payload, but for serverMayDiffer.
func TestDebeziumServerMatchesDebezium(t *testing.T) {
	st, cdc := localStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	envelopes{a: "Debezium in Connect", b: "Debezium Server", allowed: serverMayDiffer}.match(t, capture(ctx, t, st, "debezium", cdc), capture(ctx, t, st, "debezium-server", cdc))
}

// serverMayDiffer are the fields that differ between two captures of the
// same rows by the same connector: when each processed them (ts_*), and
// where and when the rows were committed, which differs because each
// capture's rows are inserted anew (source.ts_*, lsn, txId, sequence,
// xmin). Unlike the relay's mayDiffer, source.version is compared: both
// run Debezium 3.6.1.Final.
var serverMayDiffer = map[string]bool{
	"value.payload.ts_ms": true, "value.payload.ts_us": true, "value.payload.ts_ns": true,
	"value.payload.source.ts_ms": true, "value.payload.source.ts_us": true, "value.payload.source.ts_ns": true,
	"value.payload.source.lsn": true, "value.payload.source.txId": true,
	"value.payload.source.sequence": true, "value.payload.source.xmin": true,
}

// TestDebeziumServerStartFailure: a setting Debezium refuses (a value the
// offline check, which knows only the keys, lets through) ends the run
// with one error quoting Debezium Server's log, and leaves no JVM, slot
// or publication behind.
func TestDebeziumServerStartFailure(t *testing.T) {
	st, cdc := localStack(t)
	t.Setenv("TMPDIR", t.TempDir()) // a failed start keeps its directory, whose log its error names
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path := driver.Path{Kind: "debezium-server", Param: "bad"}
	p := plan(10, 1, 0, path)
	p.Settings = map[string]map[string]string{path.String(): {"debezium.source.poll.interval.ms": "soon"}}
	_, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: t.TempDir()})
	if err == nil {
		t.Fatal("run with a poll interval Debezium refuses: no error")
	}
	for _, want := range []string{"Debezium Server", "exited during start-up", "its log", "poll.interval.ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Log(err)
	if pids := childJVMs(t, "io.debezium.server.Main"); len(pids) > 0 {
		t.Errorf("Debezium Server JVMs left running: %v", pids)
	}
	admin, err := stack.ConnectHarness(ctx, st.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var left int
	if err := admin.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE '%debeziumserverbad') + (SELECT count(*) FROM pg_publication WHERE pubname LIKE 'cdcbench_%')").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d slots and publications left (%v)", left, err)
	}
}
