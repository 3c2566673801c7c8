package bench_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/scenarios"
)

// TestSparkPath runs a short workload through real Apache Spark reading
// the table over JDBC (spark-500ms, four partitions) on a private
// PostgreSQL, with Spark's JVM killed mid-run: every row must reach both
// agents once, the alerts must be the oracle's, Spark's start-up must be
// reported apart from the latencies, and no Spark JVM may outlive the run.
func TestSparkPath(t *testing.T) {
	ctx, st := sparkStack(t, 8*time.Minute)
	p := plan(10, 6, 0, driver.Path{Kind: "spark", Param: "500ms"})
	p.Settings = map[string]map[string]string{"spark-500ms": {"numPartitions": "4", "fetchsize": "500"}}
	// A restarted Spark needs its start-up again (20 s at a load of 4)
	// before it reads what was committed meanwhile.
	p.DrainTimeout = 3 * time.Minute
	p.Faults = []scenarios.FaultSpec{{Kind: scenarios.FaultKillCapture, At: scenarios.Duration(3 * time.Second), Duration: scenarios.Duration(time.Second)}}
	res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !res.Valid {
		t.Fatalf("run invalid: %v", res.InvalidReasons)
	}
	path := res.Paths[0]
	if path.RowsProduced != 7*10*50 {
		t.Errorf("produced %d rows, want %d", path.RowsProduced, 7*10*50)
	}
	if len(path.Agents) != 2 {
		t.Fatalf("agents %d, want 2", len(path.Agents))
	}
	for _, a := range path.Agents {
		if a.Events != path.RowsProduced || a.ExpectedEvents != path.RowsProduced || a.DuplicateEvents != 0 {
			t.Errorf("%s: events %d/%d of %d, %d duplicates", a.Name, a.Events, a.ExpectedEvents, path.RowsProduced, a.DuplicateEvents)
		}
		if a.ExpectedAlerts == 0 || a.Alerts != a.ExpectedAlerts || a.MissedAlerts != 0 || a.UnexpectedAlerts != 0 {
			t.Errorf("%s: alerts %d, expected %d, missed %d, unexpected %d", a.Name, a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts)
		}
		// Spark's own time of each read splits the delivery in two: commit
		// to the read's return (commit_event), and the hop from the JVM
		// to the agent (event_receive).
		for _, stage := range []string{"commit_receive", "commit_event", "event_receive", "agent"} {
			if st, ok := a.Stages[stage]; !ok || st.Count == 0 {
				t.Errorf("%s: no %s stage", a.Name, stage)
			}
		}
	}
	d := path.Driver
	for _, a := range path.Agents {
		t.Logf("%s: e2e p50 %.1f ms p99 %.1f ms; commit to read (commit_event) p50 %.1f ms; read to agent (event_receive) p50 %.2f ms; commit to agent p50 %.1f ms",
			a.Name, a.E2E.P50, a.E2E.P99, a.Stages["commit_event"].P50, a.Stages["event_receive"].P50, a.Stages["commit_receive"].P50)
	}
	t.Logf("driver: %v", d)
	for _, f := range []string{"spark_startup_ms", "spark_session_ms", "spark_reads", "spark_rows"} {
		if n, ok := d[f].(int64); !ok || n <= 0 {
			t.Errorf("driver field %s = %v, want a positive count", f, d[f])
		}
	}
	if d["spark_restarts"] != 1 {
		t.Errorf("spark_restarts = %v, want 1 (kill-capture)", d["spark_restarts"])
	}
	if opts, _ := d["spark_options"].(map[string]string); opts["numPartitions"] != "4" {
		t.Errorf("spark_options = %v", d["spark_options"])
	}
	for _, f := range path.Faults {
		if f.Error != "" || f.Skipped != "" {
			t.Errorf("fault %s: %+v", f.Kind, f)
		}
	}
	// The JVM's machine cost, the restarted one followed (its backends
	// come and go with each read, so the database's part is db_cost's).
	spark := false
	for _, c := range path.MachineCost.Components {
		if c.Name == "spark jvm" {
			spark = true
			if c.CPUSeconds == nil || *c.CPUSeconds <= 0 || c.PeakRSSBytes == nil || *c.PeakRSSBytes <= 0 {
				t.Errorf("spark jvm's machine cost not measured: %+v", c)
			}
		}
	}
	if !spark {
		t.Errorf("machine cost without the Spark JVM: %+v", path.MachineCost.Components)
	}
	if pids := childJVMs(t, "cdcbench.spark.JdbcCapture"); len(pids) > 0 {
		t.Errorf("Spark JVMs left running: %v", pids)
	}
}

// TestSparkStartFailure: a Spark path whose program refuses its start
// (an option it does not take, as a scenario file checked by hand could
// still carry) ends the run with one error quoting Spark's log, and
// leaves no JVM running.
func TestSparkStartFailure(t *testing.T) {
	ctx, st := sparkStack(t, 5*time.Minute)
	// A failed start keeps Spark's directory, whose log its error names.
	t.Setenv("TMPDIR", t.TempDir())
	p := plan(10, 1, 0, driver.Path{Kind: "spark", Param: "1s"})
	// Past the scenario's check: Spark's own refusal is what is tested.
	p.Settings = map[string]map[string]string{"spark-1s": {"spark.driver.memory": "1x"}}
	_, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, ResultsDir: t.TempDir()})
	if err == nil {
		t.Fatal("run with a heap size Java refuses: no error")
	}
	for _, want := range []string{"Spark", "exited during start-up", "its log", "Invalid maximum heap size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if pids := childJVMs(t, "cdcbench.spark.JdbcCapture"); len(pids) > 0 {
		t.Errorf("Spark JVMs left running: %v", pids)
	}
}

// sparkStack starts the embedded stack for a test in the JVM tier (Spark
// is a JVM) and returns it with a context of timeout; both end with t.
func sparkStack(t *testing.T, timeout time.Duration) (context.Context, stack.Stack) {
	t.Helper()
	testtier.JVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	st, err := stack.Start(ctx, stack.Options{Postgres: pgcluster.Options{}})
	if err != nil {
		t.Fatalf("embedded stack: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return ctx, st
}

// childJVMs lists the running children of this test process whose
// command line names main, a path's program.
func childJVMs(t *testing.T, main string) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		rest := b[bytes.LastIndexByte(b, ')')+1:]
		f := strings.Fields(string(rest))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(s), "cmdline"))
		if bytes.Contains(cmd, []byte(main)) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
			pids = append(pids, pid)
		}
	}
	return pids
}
