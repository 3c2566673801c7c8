package bench

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/proccost"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// TestMachineCostNotMeasured: a window the meter could not take is
// reported as not measured, and the path stays valid.
func TestMachineCostNotMeasured(t *testing.T) {
	p := &pathRun{machineDone: make(chan machineResult, 1)}
	p.machineDone <- machineResult{err: errors.New("the run stopped before its measured window began")}
	p.collectMachine(100)
	if mc := p.res.MachineCost; mc == nil || !strings.Contains(mc.NotMeasured, "stopped before") || len(mc.Components) > 0 {
		t.Errorf("machine cost %+v, want not measured with the reason", mc)
	}
	if len(p.res.InvalidReasons) > 0 {
		t.Errorf("invalid reasons %q: a cost not measured must not invalidate the path", p.res.InvalidReasons)
	}
}

// TestCollectMachineCost: measured parts get their figures in order, per
// 1,000 transactions; parts not measured keep null figures and their note;
// a part inside cdcbench's process (the live page) gets its CPU alone.
func TestCollectMachineCost(t *testing.T) {
	self := func() []int { return nil }
	p := &pathRun{machineDone: make(chan machineResult, 1), parts: []part{
		{cost: result.ComponentCost{Name: "wal sender", Role: result.RoleDatabase}, pids: self, once: true},
		stackParts([]stack.Process{{Role: result.RoleBroker, InProcess: true}}, result.RoleBroker, "kafka broker")[0],
		{cost: result.ComponentCost{Name: "kafka connect", Role: result.RoleConnect}, pids: self},
		{cost: result.ComponentCost{Name: "cdcbench", Role: result.RoleHarness, Note: "producer, agents and the relay"}, pids: self},
		liveCost(func() time.Duration { return 0 }),
	}}
	p.machineDone <- machineResult{seconds: 5, figures: []proccost.Figures{
		{Name: "wal sender", CPUSeconds: 0.25, PeakRSSBytes: 10 << 20, Processes: 1, Partial: "partial: exited"},
		{Name: "kafka connect"},
		{Name: "cdcbench", CPUSeconds: 2, PeakRSSBytes: 100 << 20, Processes: 2, Partial: "partial: a restart"},
	}, inProcess: []float64{0.01}}
	p.collectMachine(5000)
	mc := p.res.MachineCost
	if mc == nil || mc.Seconds != 5 || mc.Transactions != 5000 || len(mc.Components) != 5 {
		t.Fatalf("machine cost %+v", mc)
	}
	type row struct {
		name       string
		cpu, per1k float64
		rss        int64
		note       string
	}
	var got []row
	for _, c := range mc.Components {
		r := row{name: c.Name, note: c.Note, cpu: -1, per1k: -1, rss: -1}
		if c.CPUSeconds != nil {
			r.cpu, r.per1k = *c.CPUSeconds, *c.CPUPer1000
		}
		if c.PeakRSSBytes != nil {
			r.rss = *c.PeakRSSBytes
		}
		got = append(got, r)
	}
	want := []row{
		{"wal sender", 0.25, 0.05, 10 << 20, "partial: exited; " + notFollowed},
		{"kafka broker", -1, -1, -1, "in-process kfake: its cost is inside cdcbench's"},
		{"kafka connect", -1, -1, -1, "not measured: no process of it was running during the window"},
		{"cdcbench", 2, 0.4, 100 << 20, "producer, agents and the relay; partial: a restart"},
		{"dashboard", 0.01, 0.002, -1, liveCost(nil).cost.Note},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("components\n got %+v\nwant %+v", got, want)
	}
}

// TestStackParts: a stack's processes are measured each on its own under
// their names (a cluster's broker-1..N) or the path's name for the role,
// said to be in cdcbench's own, or said not to be this machine's.
func TestStackParts(t *testing.T) {
	jvm := func() []int { return []int{42} }
	for _, tc := range []struct {
		name     string
		procs    []stack.Process
		measured bool
		note     string
		names    []string
	}{
		{"local JVM", []stack.Process{{Role: result.RoleBroker, PIDs: jvm}, {Role: result.RoleConnect, PIDs: jvm}}, true, "", []string{"kafka broker"}},
		{"cluster", []stack.Process{{Role: result.RoleBroker, Name: "broker-1", PIDs: jvm}, {Role: result.RoleBroker, Name: "broker-2", PIDs: jvm},
			{Role: result.RoleBroker, Name: "broker-3", PIDs: jvm}, {Role: result.RoleConnect, Name: "connect-1", PIDs: jvm}}, true, "",
			[]string{"broker-1", "broker-2", "broker-3"}},
		{"kfake", []stack.Process{{Role: result.RoleBroker, InProcess: true}}, false, "in-process kfake", []string{"kafka broker"}},
		{"external", nil, false, "not measured: not a process of this stack", []string{"kafka broker"}},
		{"only another role", []stack.Process{{Role: result.RoleConnect, PIDs: jvm}}, false, "not measured", []string{"kafka broker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := stackParts(tc.procs, result.RoleBroker, "kafka broker")
			var names []string
			for _, pt := range parts {
				names = append(names, pt.cost.Name)
				if (pt.pids != nil) != tc.measured || !strings.HasPrefix(pt.cost.Note, tc.note) || pt.cost.Role != result.RoleBroker {
					t.Errorf("part %+v (measured %v), want measured %v, note %q", pt.cost, pt.pids != nil, tc.measured, tc.note)
				}
			}
			if !reflect.DeepEqual(names, tc.names) {
				t.Errorf("parts %v, want %v", names, tc.names)
			}
		})
	}
}

// TestHarnessNote: what cdcbench's CPU holds follows the path's kind (and
// the stack's CDC on the cdc path), and names the broker only where the
// path uses one that runs in-process.
func TestHarnessNote(t *testing.T) {
	for _, tc := range []struct {
		path, cdc string
		kfake     bool
		want      string
	}{
		{"cdc", stack.CDCRelay, true, "producer, agents and the relay, with the in-process kfake broker"},
		{"cdc", stack.CDCRelay, false, "producer, agents and the relay"},
		{"cdc", stack.CDCDebezium, false, "harness only: producer and agents (Debezium runs in Kafka Connect)"},
		{"debezium-tuned", stack.CDCRelay, false, "harness only: producer and agents (Debezium runs in Kafka Connect)"},
		{"poll-100ms", stack.CDCRelay, true, "producer and polling agents"},
	} {
		t.Run(fmt.Sprintf("%s/%s/kfake=%v", tc.path, tc.cdc, tc.kfake), func(t *testing.T) {
			ps, err := driver.ParsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			procs := []stack.Process{{Role: result.RoleBroker, InProcess: tc.kfake}}
			if got := harnessNote(driver.TraitsOf(ps, tc.cdc), procs); got != tc.want {
				t.Errorf("harnessNote = %q, want %q", got, tc.want)
			}
		})
	}
}

// serverAt is a stack whose postmaster is pid (0: not on this machine).
type serverAt struct {
	stack.Stack
	pid int
}

func (s serverAt) ServerPID() int { return s.pid }

// TestServerPart: server processes are measured only when they are the
// children of the stack's own postmaster in /proc. The test process plays
// the backend, its parent the postmaster.
func TestServerPart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		postmaster int
		note       string
	}{
		{"the stack's server", os.Getppid(), ""},
		{"an external DSN", 0, "not measured: server not on this machine"},
		{"another server's process", os.Getpid(), "not measured: backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pathRun{r: &run{cfg: Config{Stack: serverAt{pid: tc.postmaster}}}}
			pt := p.serverPart("wal sender", []int{os.Getpid()})
			if measured := tc.note == ""; (pt.pids != nil) != measured || pt.once != measured || !strings.HasPrefix(pt.cost.Note, tc.note) {
				t.Fatalf("part %+v (measured %v, once %v), want measured %v, note %q", pt.cost, pt.pids != nil, pt.once, measured, tc.note)
			}
			if pt.pids != nil {
				if got := pt.pids(); len(got) != 1 || got[0] != os.Getpid() {
					t.Errorf("pids %v, want [%d]", got, os.Getpid())
				}
			}
		})
	}
}
