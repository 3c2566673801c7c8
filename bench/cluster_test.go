package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/scenarios"
)

// TestClusterFaults runs on the production-shaped local stack (three
// brokers: replication factor 3, min.insync.replicas 2, acks=all; two
// Connect workers with a rebalance delay of 0) two short runs: the relay
// while the change topic's leader is killed, and Debezium while the worker
// running its task is killed. Each must be valid with every row and
// exactly the oracle's alerts, the fault must say what it hit, and the
// task must have run again on the other worker; nothing may be left
// running after Close. One stack for both: a cluster takes minutes to
// start on a loaded 2-core machine.
func TestClusterFaults(t *testing.T) {
	testtier.JVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	t0 := time.Now()
	st, err := stack.Start(ctx, stack.Options{JVM: true, Partitions: 1, JVMOptions: jvmstack.Options{
		Brokers: 3, ConnectWorkers: 2, ConnectConfig: map[string]string{"scheduled.rebalance.max.delay.ms": "0"}}})
	if err != nil {
		t.Fatalf("%v\n(set CDCBENCH_SKIP_JVM=1 to skip the tests that need Java and Maven)", err)
	}
	t.Logf("cluster up in %s", time.Since(t0).Round(time.Second))
	jvm := st.(interface{ JVM() *jvmstack.Stack }).JVM()
	closed := false
	defer func() {
		if !closed {
			_ = st.Close(context.Background())
		}
	}()
	cdc, err := driver.NewCDC(stack.Choice{CDC: stack.CDCRelay}, st)
	if err != nil {
		t.Fatal(err)
	}
	sec := func(s float64) scenarios.Duration { return scenarios.Duration(s * float64(time.Second)) }
	for _, tc := range []struct {
		name  string
		path  driver.Path
		fault scenarios.FaultSpec
		check func(t *testing.T, f result.FaultResult)
	}{
		// A follower leads once the controller misses the dead leader's
		// heartbeats (broker.session.timeout.ms, 9 s).
		{"kill-broker under the relay", driver.Path{Kind: "cdc"}, scenarios.FaultSpec{Kind: scenarios.FaultKillBroker, At: sec(4), Duration: sec(5)},
			func(t *testing.T, f result.FaultResult) {
				if f.Node == "" || f.PeakP99Ms <= 0 {
					t.Errorf("kill-broker: %+v", f)
				}
			}},
		// The killed worker is down for longer than the group takes to
		// see it gone (session.timeout.ms, 10 s) with no delay: the task
		// must move to the other worker.
		{"kill-connect-worker under Debezium", driver.Path{Kind: "debezium"}, scenarios.FaultSpec{Kind: scenarios.FaultKillConnectWorker, At: sec(4), Duration: sec(25)},
			func(t *testing.T, f result.FaultResult) {
				if f.Node == "" || f.TaskRanAgainAfterS == nil || f.TaskWorker == "" || f.TaskWorker == f.Node {
					t.Errorf("kill-connect-worker: %+v; want the task run again on the other worker", f)
				} else {
					t.Logf("task of %s ran again %.1f s after the kill on %s", f.Node, *f.TaskRanAgainAfterS, f.TaskWorker)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t1 := time.Now()
			p := plan(20, 40, 0, tc.path)
			p.BatchSize = 10 // 200 rows/s
			p.DrainTimeout = 2 * time.Minute
			p.ScheduleTolerance = 5 * time.Second
			p.Faults = []scenarios.FaultSpec{tc.fault}
			// Connect's default producer (one request in flight, 16 kB
			// batches) waits for acks=all from two followers per batch of
			// a few events: tens of events a second on a loaded machine.
			p.Settings = map[string]map[string]string{"debezium": {
				"producer.override.max.in.flight.requests.per.connection": "5", "producer.override.enable.idempotence": "true",
				"producer.override.batch.size": "262144", "producer.override.linger.ms": "5", "poll.interval.ms": "10"}}
			res, _, err := bench.Run(ctx, bench.Config{DropExisting: true, Plan: p, Stack: st, CDC: cdc, ResultsDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("run took %s", time.Since(t1).Round(time.Second))
			if !res.Valid {
				t.Errorf("invalid: %v", res.InvalidReasons)
			}
			path := res.Paths[0]
			for _, a := range path.Agents {
				if a.Events != a.ExpectedEvents || a.ExpectedAlerts == 0 || a.Alerts != a.ExpectedAlerts || a.MissedAlerts+a.UnexpectedAlerts != 0 {
					t.Errorf("%s: %d of %d events, alerts %d of %d expected, %d missed, %d unexpected", a.Name, a.Events, a.ExpectedEvents, a.Alerts, a.ExpectedAlerts, a.MissedAlerts, a.UnexpectedAlerts)
				}
			}
			if len(path.Faults) != 1 || path.Faults[0].Error != "" || path.Faults[0].Skipped != "" {
				t.Fatalf("faults %+v", path.Faults)
			}
			f := path.Faults[0]
			recovered := "never (the objective is 250 ms)"
			if f.RecoveredAfterS != nil {
				recovered = fmt.Sprintf("%.0f s after its end", *f.RecoveredAfterS)
			}
			t.Logf("%s hit %s: peak p99 %.0f ms, %.0f s without alerts, %d duplicates, recovered %s", f.Kind, f.Node, f.PeakP99Ms, f.NoAlertsS, f.Duplicates, recovered)
			tc.check(t, f)
			// Every broker (and on Debezium's path every worker) is
			// measured on its own.
			names := map[string]bool{}
			for _, c := range path.MachineCost.Components {
				if c.Role == result.RoleBroker || c.Role == result.RoleConnect {
					names[c.Name] = c.CPUSeconds != nil
					t.Logf("%s: peak RSS %.0f MiB, CPU %.1f s", c.Name, float64(ptr(c.PeakRSSBytes))/(1<<20), ptr(c.CPUSeconds))
				}
			}
			want := []string{"broker-1", "broker-2", "broker-3"}
			if tc.path.Kind == "debezium" {
				want = append(want, "connect-1", "connect-2")
			}
			for _, n := range want {
				if !names[n] {
					t.Errorf("machine cost lacks a measured %s: %v", n, names)
				}
			}
		})
	}
	// Every process of the cluster is gone after Close, the killed and
	// restarted ones too.
	pids := append(jvm.BrokerPIDs(), jvm.WorkerPIDs()...)
	if err := st.Close(ctx); err != nil {
		t.Error(err)
	}
	closed = true
	for _, pid := range pids {
		if ownerpid.Running(pid) {
			t.Errorf("JVM %d still running after Close", pid)
		}
	}
}

func ptr[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
