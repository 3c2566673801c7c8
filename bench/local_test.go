package bench_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/reports"
)

// The local stack (private PostgreSQL, Apache Kafka, Kafka Connect with
// Debezium) takes 15-30 s to start on 2 cores, so this package's tests
// share one.
var (
	localOnce sync.Once
	local     stack.Stack
	localErr  error
)

// localStack returns the shared local stack and the CDC configuration on
// it (the relay for the cdc path, its Connect worker for Debezium), or
// fails the test with the reason. CDCBENCH_SKIP_JVM=1 skips, saying so.
func localStack(t *testing.T) (stack.Stack, driver.CDC) {
	t.Helper()
	testtier.JVM(t)
	localOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		local, localErr = stack.Start(ctx, stack.Options{JVM: true, Partitions: 1})
	})
	if localErr != nil {
		t.Fatalf("local stack: %v\n(set CDCBENCH_SKIP_JVM=1 to skip the tests that need Java and Maven)", localErr)
	}
	cdc, err := driver.NewCDC(stack.Choice{CDC: stack.CDCRelay}, local)
	if err != nil {
		t.Fatal(err)
	}
	return local, cdc
}

func TestMain(m *testing.M) {
	code := m.Run()
	if local != nil {
		jvm := local.(interface{ JVM() *jvmstack.Stack }).JVM()
		if err := local.Close(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "local stack close:", err)
			code = 1
		}
		if b, c := jvm.PIDs(); b != 0 || c != 0 {
			fmt.Fprintf(os.Stderr, "JVMs still running after Close: broker %d, connect %d\n", b, c)
			code = 1
		}
	}
	os.Exit(code)
}

// TestDebeziumEndToEnd runs the seed's pipeline for real: rows through
// PostgreSQL's WAL, Debezium in Kafka Connect and an Apache Kafka broker
// to both agents, beside the relay on the same broker. The run must be
// valid, with every row at both agents and exactly the oracle's alerts,
// and name what it measured.
func TestDebeziumEndToEnd(t *testing.T) {
	st, cdc := localStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// 100 rows/s: Debezium on a loaded 2-core machine delivers about a
	// thousand events a second; the point here is correctness.
	p := plan(10, 5, 0, driver.Path{Kind: "cdc"}, driver.Path{Kind: "debezium"})
	p.BatchSize = 10
	p.DrainTimeout = time.Minute
	settings := map[string]string{"poll.interval.ms": "50", "producer.override.linger.ms": "5"}
	p.Settings = map[string]map[string]string{"debezium": settings}
	_, dir, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// As result.json has it.
	res, err := result.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid {
		t.Fatalf("invalid: %v", res.InvalidReasons)
	}
	if res.Stack.KafkaVersion != jvmstack.KafkaVersion || res.Stack.DebeziumVersion != jvmstack.DebeziumVersion {
		t.Errorf("stack %+v: want Kafka %s, Debezium %s", res.Stack, jvmstack.KafkaVersion, jvmstack.DebeziumVersion)
	}
	dbz := res.Paths[1]
	conf, _ := dbz.Driver["connector_config"].(map[string]any)
	if !strings.HasPrefix(dbz.Capture, "debezium "+jvmstack.DebeziumVersion) || conf["plugin.name"] != "pgoutput" {
		t.Errorf("debezium path: capture %q, connector %v", dbz.Capture, conf)
	}
	// The scenario's settings, and Connect's echo of them.
	if !reflect.DeepEqual(dbz.Settings, settings) || conf["poll.interval.ms"] != "50" || conf["producer.override.linger.ms"] != "5" {
		t.Errorf("debezium path: settings %v, connector %v", dbz.Settings, conf)
	}
	if res.Paths[0].Settings != nil {
		t.Errorf("relay path took settings %v", res.Paths[0].Settings)
	}
	for _, path := range res.Paths {
		for _, a := range path.Agents {
			if a.Events != path.RowsProduced || a.ExpectedAlerts == 0 || a.MissedAlerts+a.UnexpectedAlerts != 0 {
				t.Errorf("%s %s: %d of %d rows, alerts %d of %d expected, %d missed, %d unexpected", path.Name, a.Name, a.Events, path.RowsProduced, a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts)
			}
			// The broker stamps log-append time on the topics the stack
			// created, so the trip through Kafka is split there.
			if a.Stages["event_append"].Count == 0 || a.Stages["append_receive"].Count == 0 {
				t.Errorf("%s %s: no event_append/append_receive stage", path.Name, a.Name)
			}
		}
	}
	// The JVMs are this machine's processes: measured, not in cdcbench's.
	assertMachineCost(t, res.Paths[0], false, "wal sender", "kafka broker", "cdcbench")
	assertMachineCost(t, dbz, false, "wal sender", "kafka broker", "kafka connect", "cdcbench")
	assertJVMMetrics(t, dir, res)
}

// assertJVMMetrics checks that the JVMs' own metrics, served by the JMX
// exporter on each and sampled once a second, are in result.json and in
// the report: Debezium's queue, the task producer's waits and the
// broker's produce time on the Debezium path, the broker's on the relay's.
func assertJVMMetrics(t *testing.T, dir string, res *result.Result) {
	t.Helper()
	relay, dbz := res.Paths[0], res.Paths[1]
	assertSeries(t, dbz, 3, "connect.debezium_queue_remaining", "connect.debezium_queue_total", "connect.debezium_ms_behind_source",
		"connect.producer_record_queue_time_avg_ms", "connect.producer_request_latency_avg_ms", "connect.producer_records_per_request_avg",
		"connect.connect_poll_rate", "connect.gc_pause_ms_per_s", "broker.broker_produce_time_p99_ms", "broker.heap_used_bytes",
		"database.slot_retained_bytes", "kafka.lag.outlier", "connect.busiest_thread_cores", "broker.busiest_thread_cores")
	assertSeries(t, relay, 3, "broker.broker_produce_time_p99_ms", "database.slot_retained_bytes", "kafka.lag.velocity", "broker.busiest_thread_cores")
	if s := relay.Metric("connect.debezium_queue_remaining"); s != nil {
		t.Errorf("relay path sampled Connect, which it does not run on: %v", seriesNames(relay))
	}
	if q := dbz.Metric("connect.debezium_queue_total"); q != nil && q.Values[0] != 8192 {
		t.Errorf("Debezium's queue capacity %g, want max.queue.size's default 8192", q.Values[0])
	}
	out := filepath.Join(t.TempDir(), "report.md")
	if err := reports.Write([]string{dir}, out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### What moved with the tail", "- debezium ", "Inside the pipeline, backlogs: debezium", "Inside the pipeline, internal delays: debezium"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The charts' legends name the series they draw.
	svgs, _ := filepath.Glob(filepath.Join(strings.TrimSuffix(out, ".md")+".files", "*-*-debezium.svg"))
	var all string
	for _, f := range svgs {
		b, _ := os.ReadFile(f)
		all += string(b)
	}
	for _, want := range []string{"connect.debezium_queue_used", "connect.producer_record_queue_time_avg_ms"} {
		if !strings.Contains(all, want) {
			t.Errorf("no report chart of debezium draws %s (%d charts)", want, len(svgs))
		}
	}
}

// TestRefusedSettingsStopRun: a setting Kafka Connect refuses stops the
// run before it produces anything, even when a path before it could have
// run, with Connect's message, no result directory and no connector left.
func TestRefusedSettingsStopRun(t *testing.T) {
	st, cdc := localStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct{ key, value, says string }{
		{"poll.interval.ms", "soon", "A long value is expected"},                                  // Debezium's validation
		{"producer.override.linger.ms", "soon", "Invalid value soon for configuration linger.ms"}, // Connect's
	} {
		t.Run(tc.key, func(t *testing.T) {
			p := plan(10, 5, 0, driver.Path{Kind: "cdc"}, driver.Path{Kind: "debezium", Param: "bad"})
			p.Settings = map[string]map[string]string{"debezium-bad": {tc.key: tc.value}}
			dir := t.TempDir()
			res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: dir})
			if !errors.Is(err, driver.ErrSettings) || !strings.Contains(err.Error(), tc.says) || res != nil {
				t.Fatalf("Run = %v, %v; want ErrSettings saying %q", res, err, tc.says)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("results left: %v", entries)
			}
			if names, err := cdc.Connect.Connectors(ctx); err != nil || len(names) != 0 {
				t.Errorf("connectors registered: %v (%v)", names, err)
			}
		})
	}
}

// TestRelayMatchesDebezium holds the relay to the real thing: the same rows
// go through the relay and through Debezium, and the two change events of
// each row must agree in key and value, schema and payload, but for the
// fields listed here.
func TestRelayMatchesDebezium(t *testing.T) {
	st, cdc := localStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	envelopes{a: "the relay", b: "Debezium", allowed: mayDiffer}.match(t, capture(ctx, t, st, "cdc", cdc), capture(ctx, t, st, "debezium", cdc))
}

// mayDiffer are the fields whose values are the producer's own: times of
// processing, WAL positions and versions. Anything else that differs, and
// any field only one side has, fails TestRelayMatchesDebezium.
var mayDiffer = map[string]bool{
	"value.payload.ts_ms": true, "value.payload.ts_us": true, "value.payload.ts_ns": true,
	"value.payload.source.version": true, "value.payload.source.ts_ms": true, "value.payload.source.ts_us": true,
	"value.payload.source.ts_ns": true, "value.payload.source.lsn": true, "value.payload.source.txId": true,
	"value.payload.source.sequence": true, "value.payload.source.xmin": true,
}

// rows are the table's rows both paths carry, with fixed ids and times.
var rows = []string{
	"(1001, 1001, 42.50, 'VISA', 7, '2026-01-07 17:18:03.683652')",
	"(1002, 1002, 4999.99, 'AMEX', 12, '2026-01-07 17:18:04')",
	"(1003, 1001, 0.01, 'MASTERCARD', 1, '2026-01-07 17:18:05.5')",
}

type event struct {
	key, value any
	raw        string
}

// captures numbers capture's calls: each gets names of its own, since
// Kafka Connect keeps a connector's offsets after it is deleted, and a
// second connector of the same name would resume from the first's.
var captures atomic.Int32

// capture inserts rows on a fresh table through the driver of kind and
// returns each row's change event by id.
func capture(ctx context.Context, t *testing.T, st stack.Stack, kind string, cdc driver.CDC) map[float64]event {
	t.Helper()
	admin, err := stack.ConnectHarness(ctx, st.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	name := fmt.Sprintf("cdcbench_parity%d_%s", captures.Add(1), driver.Path{Kind: kind}.Ident())
	if err := table.Reset(ctx, admin, name, true); err != nil {
		t.Fatal(err)
	}
	d, err := driver.New(driver.Path{Kind: kind}, driver.Config{CDC: cdc})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now()
	if err := d.Start(ctx, driver.Env{Stack: st, Admin: admin, Publication: name, Slot: name, Groups: strings.ReplaceAll(name, "_", "-") + "-", Since: since, Fail: func(err error) { t.Error(err) }}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	ends, err := stack.EndOffsets(ctx, st.Brokers(), stack.ChangeTopic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "INSERT INTO transactions (id, user_id, amount, card_type, merchant_id, created_at) VALUES "+strings.Join(rows, ", ")); err != nil {
		t.Fatal(err)
	}
	return read(ctx, t, st.Brokers(), ends, len(rows))
}

// read returns the first n change events from the offsets start, by id.
func read(ctx context.Context, t *testing.T, brokers []string, start map[string]map[int32]kgo.Offset, n int) map[float64]event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(start))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[float64]event{}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for len(out) < n {
		f := cl.PollFetches(rctx)
		if rctx.Err() != nil {
			t.Fatalf("%d of %d change events after 2 minutes", len(out), n)
		}
		f.EachRecord(func(r *kgo.Record) {
			var e event
			if json.Unmarshal(r.Key, &e.key) != nil || json.Unmarshal(r.Value, &e.value) != nil {
				t.Errorf("not JSON: key %q value %q", r.Key, r.Value)
				return
			}
			e.raw = string(r.Value)
			id, ok := lookup(e.value, "payload", "after", "id").(float64)
			if !ok {
				t.Errorf("no payload.after.id in %s", r.Value)
				return
			}
			out[id] = e
		})
	}
	return out
}

func lookup(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// envelopes compares two captures' change events, named a and b in its
// messages, field by field; allowed are the fields that may differ or be
// missing on either side, by dotted path.
type envelopes struct {
	a, b    string
	allowed map[string]bool
}

// diff appends where x (from e.a) and y (from e.b) differ, by dotted path
// (list elements by index, schema fields by their "field" name), skipping
// e.allowed. Lists of schema fields are compared by name, and their order
// apart, as path+".order".
func (e envelopes) diff(path string, x, y any, out *[]string) {
	if e.allowed[path] {
		return
	}
	xm, xok := x.(map[string]any)
	ym, yok := y.(map[string]any)
	if xok && yok {
		keys := map[string]bool{}
		for k := range xm {
			keys[k] = true
		}
		for k := range ym {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			xv, xin := xm[k]
			yv, yin := ym[k]
			switch {
			case !xin && !e.allowed[path+"."+k]:
				*out = append(*out, fmt.Sprintf("%s.%s: only %s has it (%v)", path, k, e.b, yv))
			case !yin && !e.allowed[path+"."+k]:
				*out = append(*out, fmt.Sprintf("%s.%s: only %s has it (%v)", path, k, e.a, xv))
			case xin && yin:
				e.diff(path+"."+k, xv, yv, out)
			}
		}
		return
	}
	xl, xok := x.([]any)
	yl, yok := y.([]any)
	if xok && yok {
		if xf, yf := fieldsByName(xl), fieldsByName(yl); xf != nil && yf != nil {
			xn, yn := fieldNames(xl), fieldNames(yl)
			if strings.Join(xn, ",") != strings.Join(yn, ",") && !e.allowed[path+".order"] {
				*out = append(*out, fmt.Sprintf("%s: fields %v in %s, %v in %s", path, xn, e.a, yn, e.b))
			}
			var names []string
			for n := range xf {
				names = append(names, n)
			}
			for n := range yf {
				if _, ok := xf[n]; !ok {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				p := fmt.Sprintf("%s[%s]", path, n)
				xv, xin := xf[n]
				yv, yin := yf[n]
				switch {
				case e.allowed[p]:
				case !xin:
					*out = append(*out, fmt.Sprintf("%s: only %s has it", p, e.b))
				case !yin:
					*out = append(*out, fmt.Sprintf("%s: only %s has it", p, e.a))
				default:
					e.diff(p, xv, yv, out)
				}
			}
			return
		}
		if len(xl) == len(yl) {
			for i := range xl {
				e.diff(fmt.Sprintf("%s[%d]", path, i), xl[i], yl[i], out)
			}
			return
		}
	}
	if !reflect.DeepEqual(x, y) {
		*out = append(*out, fmt.Sprintf("%s: %s %v, %s %v", path, e.a, x, e.b, y))
	}
}

// match fails t unless x (from e.a) and y (from e.b) hold one event per
// row, whose keys and values agree but for e.allowed.
func (e envelopes) match(t *testing.T, x, y map[float64]event) {
	t.Helper()
	if len(x) != len(rows) || len(y) != len(rows) {
		t.Fatalf("%d events from %s, %d from %s, want %d each", len(x), e.a, len(y), e.b, len(rows))
	}
	for id, xe := range x {
		ye := y[id]
		var diffs []string
		e.diff("key", xe.key, ye.key, &diffs)
		e.diff("value", xe.value, ye.value, &diffs)
		if len(diffs) > 0 {
			t.Errorf("row %.0f: %s and %s differ:\n  %s\n%s value: %s\n%s value: %s", id, e.a, e.b, strings.Join(diffs, "\n  "), e.a, xe.raw, e.b, ye.raw)
		}
	}
}

// fieldsByName maps a list of schema fields by their "field" names; nil
// for a list that is not one.
func fieldsByName(l []any) map[string]any {
	m := map[string]any{}
	for _, v := range l {
		n, ok := lookup(v, "field").(string)
		if !ok {
			return nil
		}
		m[n] = v
	}
	return m
}

// fieldNames lists a schema's field names in their order.
func fieldNames(l []any) []string {
	var out []string
	for _, v := range l {
		n, _ := lookup(v, "field").(string)
		out = append(out, n)
	}
	return out
}
