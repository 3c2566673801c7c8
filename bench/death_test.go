package bench_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestOutsideDeaths kills each process of the local stack from outside
// (SIGKILL) a few seconds into the Debezium path of a run scheduled for
// minutes. The run must name the dead process first (its exit status and
// its log), stop that path early with what its agents measured until then,
// skip the paths after it with the reason, and end soon after the kill,
// not after the schedule, the drain and the other paths (about four
// minutes here).
func TestOutsideDeaths(t *testing.T) {
	testtier.JVM(t)
	for _, tc := range []struct {
		name string
		pid  func(st stack.Stack) int
		says string // the process, as the first reason names it
		log  string // how the reason quotes its log
	}{
		{"Kafka Connect worker", func(st stack.Stack) int {
			_, c := st.(interface{ JVM() *jvmstack.Stack }).JVM().PIDs()
			return c
		}, "Kafka Connect worker", "its log"},
		{"Kafka broker", func(st stack.Stack) int {
			b, _ := st.(interface{ JVM() *jvmstack.Stack }).JVM().PIDs()
			return b
		}, "Kafka broker", "its log"},
		{"PostgreSQL", func(st stack.Stack) int { return st.ServerPID() }, "PostgreSQL", "server log tail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			st, err := stack.Start(ctx, stack.Options{JVM: true, Partitions: 1})
			if err != nil {
				t.Fatalf("local stack: %v", err)
			}
			defer st.Close(context.Background())
			cdc, err := driver.NewCDC(stack.Choice{CDC: stack.CDCRelay}, st)
			if err != nil {
				t.Fatal(err)
			}
			p := plan(10, 60, 0, driver.Path{Kind: "debezium"}, driver.Path{Kind: "cdc"},
				driver.Path{Kind: "poll", Param: "100ms"})
			p.BatchSize = 10
			p.DrainTimeout = time.Minute
			log := &signal{match: "path debezium: probe made the round trip", ch: make(chan struct{})}
			killedAt := make(chan time.Time, 1)
			go func() {
				select {
				case <-log.ch:
				case <-ctx.Done():
					return
				}
				time.Sleep(3 * time.Second)
				pid := tc.pid(st)
				killedAt <- time.Now()
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Errorf("kill %s (pid %d): %v", tc.name, pid, err)
				}
			}()
			res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: t.TempDir(), Log: log})
			ended := time.Now()
			var killed time.Time
			select {
			case killed = <-killedAt:
			default:
				t.Fatalf("the run ended before the kill: %v\n%s", err, log.String())
			}
			took := ended.Sub(killed)
			t.Logf("ended %v after the kill; error: %.300v", took.Round(time.Millisecond), err)
			if err == nil || res == nil {
				t.Fatalf("Run = %v, %v; want the result and an error", res, err)
			}
			if r := res.InvalidReasons; len(r) == 0 || !strings.HasPrefix(r[0], "error: path debezium: stack: ") ||
				!strings.Contains(r[0], tc.says) || !strings.Contains(r[0], "exited under the run (signal: killed)") || !strings.Contains(r[0], tc.log) {
				t.Errorf("first reason %.600q; want the %s's death with its exit status and %q", r, tc.says, tc.log)
			}
			if !strings.Contains(strings.Join(res.InvalidReasons, "\n"), "path cdc: not run: the stack lost a process during path debezium") {
				t.Errorf("reasons %q: want the cdc path skipped with the reason", res.InvalidReasons)
			}
			if len(res.Paths) != 1 || res.Paths[0].RowsProduced == 0 || len(res.Paths[0].Agents) != 2 {
				t.Fatalf("paths %+v: want the debezium path alone, with its rows and both agents", res.Paths)
			}
			for _, a := range res.Paths[0].Agents {
				if a.Events == 0 || a.E2E.Count == 0 {
					t.Errorf("%s: %d events, %d measured: what was measured before the kill is lost", a.Name, a.Events, a.E2E.Count)
				}
			}
			// The schedule alone is 61 s, the drain up to 60 s and two
			// more paths after it: a minute is generous for a loaded
			// machine and far from what not noticing costs.
			if took > time.Minute {
				t.Errorf("the run ended %v after the kill; want it stopped early", took)
			}
		})
	}
}
