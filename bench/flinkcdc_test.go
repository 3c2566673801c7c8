package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/scenarios"
)

// flinkMain is the flink-cdc path's program, as its JVMs' command lines
// name it.
const flinkMain = "cdcbench.flinkcdc.Capture"

// TestFlinkCDCPath runs a short workload through real Flink CDC on the
// local stack's broker, with Flink's JVM killed by kill-capture after
// its first checkpoints: the run must be valid, every row must reach both
// agents (a restart may send some again: counted, never alerted twice),
// the alerts must be the oracle's, the start-up, restart and retained WAL
// must be reported, and no Flink JVM may outlive the run.
func TestFlinkCDCPath(t *testing.T) {
	st, cdc := localStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	p := plan(10, 8, 0, driver.Path{Kind: "flink-cdc"})
	// Checkpoints every second: by the kill (4 s into the run) the new
	// JVM has one to restore.
	settings := map[string]string{"execution.checkpointing.interval": "1s", "debezium.max.batch.size": "1024"}
	p.Settings = map[string]map[string]string{"flink-cdc": settings}
	p.DrainTimeout = 3 * time.Minute
	p.Faults = []scenarios.FaultSpec{{Kind: scenarios.FaultKillCapture, At: scenarios.Duration(4 * time.Second), Duration: scenarios.Duration(time.Second)}}
	res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !res.Valid {
		t.Fatalf("run invalid: %v", res.InvalidReasons)
	}
	path := res.Paths[0]
	if path.RowsProduced != 9*10*50 {
		t.Errorf("produced %d rows, want %d", path.RowsProduced, 9*10*50)
	}
	if len(path.Agents) != 2 {
		t.Fatalf("agents %d, want 2", len(path.Agents))
	}
	for _, a := range path.Agents {
		t.Logf("%s: e2e p50 %.1f ms p99 %.1f ms, %d duplicates", a.Name, a.E2E.P50, a.E2E.P99, a.DuplicateEvents)
		if a.Events != path.RowsProduced || a.ExpectedEvents != path.RowsProduced {
			t.Errorf("%s: events %d/%d of %d", a.Name, a.Events, a.ExpectedEvents, path.RowsProduced)
		}
		if a.ExpectedAlerts == 0 || a.Alerts != a.ExpectedAlerts || a.MissedAlerts != 0 || a.UnexpectedAlerts != 0 {
			t.Errorf("%s: alerts %d, expected %d, missed %d, unexpected %d", a.Name, a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts)
		}
		// Debezium's envelope, as Flink CDC's embedded engine writes it:
		// source.ts_ms (the commit) and ts_ms (the engine's handling).
		for _, stage := range []string{"commit_event", "event_append", "append_receive", "agent"} {
			if s, ok := a.Stages[stage]; !ok || s.Count == 0 {
				t.Errorf("%s: no %s stage", a.Name, stage)
			}
		}
	}
	d := path.Driver
	t.Logf("capture %q, driver: %v", path.Capture, d)
	if !strings.HasPrefix(path.Capture, "Flink CDC "+driver.FlinkCDCVersion) {
		t.Errorf("capture %q", path.Capture)
	}
	for _, f := range []string{"flink_startup_ms", "wal_retained_bytes_max", "flink_jars_bytes"} {
		if n, ok := d[f].(int64); !ok || n <= 0 {
			t.Errorf("driver field %s = %v, want a positive figure", f, d[f])
		}
	}
	if d["flink_restarts"] != 1 {
		t.Errorf("flink_restarts = %v, want 1 (kill-capture)", d["flink_restarts"])
	}
	// The restart restored a checkpoint (one a second, the kill 5 s in).
	if r, _ := d["flink_resumed_from"].([]string); len(r) != 2 || r[0] != "slot" || !strings.HasPrefix(r[1], "checkpoint chk-") {
		t.Errorf("flink_resumed_from = %v, want the slot, then a checkpoint", d["flink_resumed_from"])
	}
	conf, _ := d["flink_config"].(map[string]any)
	if conf["execution.checkpointing.interval"] != "1s" || conf["debezium"].(map[string]string)["max.batch.size"] != "1024" {
		t.Errorf("flink_config = %v", conf)
	}
	for _, f := range path.Faults {
		if f.Error != "" || f.Skipped != "" {
			t.Errorf("fault %s: %+v", f.Kind, f)
		}
		if f.RecoveredAfterS != nil {
			t.Logf("%s: peak p99 %.0f ms, recovered %.1f s after the fault's end", f.Kind, f.PeakP99Ms, *f.RecoveredAfterS)
		} else {
			t.Logf("%s: peak p99 %.0f ms, not recovered within the run", f.Kind, f.PeakP99Ms)
		}
	}
	// The JVM's machine cost, the restarted one followed (the killed one's
	// last moments are not counted: "partial").
	flink := false
	for _, c := range path.MachineCost.Components {
		if c.Name == "flink jvm" {
			flink = true
			if c.CPUSeconds == nil || *c.CPUSeconds <= 0 || c.PeakRSSBytes == nil || *c.PeakRSSBytes <= 0 || c.Processes != 2 {
				t.Errorf("flink jvm's machine cost not measured: %+v", c)
			}
		}
	}
	if !flink {
		t.Errorf("machine cost without the Flink JVM: %+v", path.MachineCost.Components)
	}
	if pids := childJVMs(t, flinkMain); len(pids) > 0 {
		t.Errorf("Flink JVMs left running: %v", pids)
	}
}

// flinkMayDiffer are the fields in which Flink CDC's envelopes may differ
// from Debezium 3.6.1's in Kafka Connect: those whose values are the
// producer's own (mayDiffer: times of processing, WAL positions, the
// version), and those Debezium added after the 1.9.8.Final that Flink CDC
// 3.5.0 embeds, so that only Debezium has them: ts_us and ts_ns (in the
// envelope and its source block), source.origin and origin_lsn, the
// schemas' version numbers, the transaction block's schema name, the
// snapshot enum's newer values and the envelope fields' order (1.9 puts
// transaction last). The agents read none of them: they take the commit
// time from source.ts_ms where ts_us is missing.
var flinkMayDiffer = func() map[string]bool {
	m := map[string]bool{}
	for k := range mayDiffer {
		m[k] = true
	}
	const src = "value.schema.fields[source]"
	for _, k := range []string{
		"value.payload.source.origin", "value.payload.source.origin_lsn",
		"value.schema.version", "value.schema.fields.order",
		"value.schema.fields[ts_us]", "value.schema.fields[ts_ns]",
		"value.schema.fields[transaction].name", "value.schema.fields[transaction].version",
		src + ".version", src + ".fields.order",
		src + ".fields[ts_us]", src + ".fields[ts_ns]", src + ".fields[origin]", src + ".fields[origin_lsn]",
		src + ".fields[snapshot].parameters.allowed",
	} {
		m[k] = true
	}
	return m
}()

// TestFlinkCDCMatchesDebezium holds Flink CDC's envelopes to Debezium's in
// Kafka Connect: the same rows through both, each row's key and value
// compared field by field, schema and payload, but for flinkMayDiffer.
func TestFlinkCDCMatchesDebezium(t *testing.T) {
	st, cdc := localStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	envelopes{a: "Flink CDC", b: "Debezium", allowed: flinkMayDiffer}.match(t, capture(ctx, t, st, "flink-cdc", cdc), capture(ctx, t, st, "debezium", cdc))
}

// TestFlinkCDCStartFailure: a Flink CDC path whose source cannot use the
// database (here it asks for SSL, which the private server does not
// offer) ends the run with one error quoting Flink's log, leaves no JVM
// running and no slot behind.
func TestFlinkCDCStartFailure(t *testing.T) {
	ctx, st := sparkStack(t, 5*time.Minute)
	// A failed start keeps Flink's directory, whose log its error names.
	t.Setenv("TMPDIR", t.TempDir())
	p := plan(10, 1, 0, driver.Path{Kind: "flink-cdc"})
	p.Settings = map[string]map[string]string{"flink-cdc": {"debezium.database.sslmode": "require"}}
	_, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir()})
	if err == nil {
		t.Fatal("run with a database the source cannot use: no error")
	}
	for _, want := range []string{"Flink CDC", "exited during start-up", "its log", "SSL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if pids := childJVMs(t, flinkMain); len(pids) > 0 {
		t.Errorf("Flink JVMs left running: %v", pids)
	}
	conn, err := stack.ConnectHarness(ctx, st.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var slots int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots").Scan(&slots); err != nil || slots != 0 {
		t.Errorf("%d slots left (%v)", slots, err)
	}
}
