package proccost

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// child starts a process that the test kills and reaps at its end.
func child(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(cmd) })
	return cmd
}

// stop kills and reaps cmd; a second call is harmless.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Kill()
	_, _ = cmd.Process.Wait()
}

const busy = "while :; do :; done"

// pids lists the processes of cmds.
func pids(cmds ...*exec.Cmd) func() []int {
	return func() []int {
		var out []int
		for _, c := range cmds {
			out = append(out, c.Process.Pid)
		}
		return out
	}
}

// measure runs a Meter over one component until done says its figures are
// what the test waits for, or 5 s pass (a loaded machine gives a busy child
// less than a core), and returns the last figures and the wall time from
// the first sample to the last.
func measure(t *testing.T, c Component, done func(f Figures, wall time.Duration) bool) (Figures, time.Duration) {
	t.Helper()
	m, err := Start([]Component{c})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	deadline := began.Add(5 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		m.Sample()
		f, wall := m.Figures()[0], time.Since(began)
		if done(f, wall) || time.Now().After(deadline) {
			return f, wall
		}
	}
}

// TestMeterCPU: a busy child's CPU is counted from the window's start, not
// from its own (it ran for a while before), an idle child's is about zero.
func TestMeterCPU(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		min, max     float64 // CPU seconds
		done         func(Figures, time.Duration) bool
	}{
		{"busy", busy, 0.2, 5, func(f Figures, _ time.Duration) bool { return f.CPUSeconds >= 0.2 }},
		{"idle", "sleep 30", 0, 0.05, func(_ Figures, wall time.Duration) bool { return wall >= 500*time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := child(t, tc.script)
			time.Sleep(700 * time.Millisecond) // CPU before the window, not to be counted
			f, wall := measure(t, Component{Name: tc.name, PIDs: pids(cmd)}, tc.done)
			if f.CPUSeconds < tc.min || f.CPUSeconds > tc.max {
				t.Errorf("CPU %.2f s over %v, want %.2f..%.2f", f.CPUSeconds, wall, tc.min, tc.max)
			}
			// One process cannot use more than the wall time (plus a tick
			// either end): more means CPU from before the window counted.
			if limit := wall.Seconds() + 2.0/TicksPerSecond; f.CPUSeconds > limit {
				t.Errorf("CPU %.2f s over %v of wall time: the child's CPU before the window was counted", f.CPUSeconds, wall)
			}
			if f.Processes != 1 || f.Partial != "" || f.PeakRSSBytes <= 0 {
				t.Errorf("figures %+v: want one process, complete, with a resident set", f)
			}
		})
	}
}

// TestMeterPeakRSS: memory this process allocates and touches shows in its
// peak resident set, and stays there after it is freed.
func TestMeterPeakRSS(t *testing.T) {
	const size = 64 << 20
	m, err := Start([]Component{{Name: "self", PIDs: func() []int { return []int{os.Getpid()} }}})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i)
	}
	m.Sample()
	runtime.KeepAlive(buf)
	buf = nil
	runtime.GC()
	m.Sample()
	if f := m.Figures()[0]; f.PeakRSSBytes < size {
		t.Errorf("peak RSS %d MiB after touching %d MiB", f.PeakRSSBytes>>20, size>>20)
	}
}

// TestMeterProcessChanges: processes that exit, replace one another or
// turn up late are counted as far as they were seen, and the figure says
// what it misses.
func TestMeterProcessChanges(t *testing.T) {
	t.Run("vanishes", func(t *testing.T) {
		cmd := child(t, "sleep 30")
		m, err := Start([]Component{{Name: "c", PIDs: pids(cmd)}})
		if err != nil {
			t.Fatal(err)
		}
		stop(cmd)
		m.Sample()
		f := m.Figures()[0]
		if f.Processes != 1 || f.CPUSeconds < 0 || !strings.Contains(f.Partial, "1 of its processes exited") {
			t.Errorf("figures %+v: want one process, exited, counted as partial", f)
		}
	})
	t.Run("restarted", func(t *testing.T) {
		old := child(t, "sleep 30")
		var current atomic.Pointer[exec.Cmd]
		current.Store(old)
		m, err := Start([]Component{{Name: "c", PIDs: func() []int { return pids(current.Load())() }}})
		if err != nil {
			t.Fatal(err)
		}
		// The restart: a new process under a new pid, started in the
		// window and busy before the next sample sees it: all its CPU is
		// the window's.
		stop(old)
		current.Store(child(t, busy))
		time.Sleep(500 * time.Millisecond)
		st, err := ReadStat(current.Load().Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		m.Sample()
		f := m.Figures()[0]
		if f.Processes != 2 || f.CPUSeconds < float64(st.Ticks)/TicksPerSecond || !strings.Contains(f.Partial, "exited") {
			t.Errorf("figures %+v: want both processes, the new one's CPU since its start (%d ticks), partial", f, st.Ticks)
		}
	})
	t.Run("found late", func(t *testing.T) {
		cmd := child(t, busy)
		time.Sleep(300 * time.Millisecond)
		var found atomic.Bool
		f, wall := measure(t, Component{Name: "c", PIDs: func() []int {
			if !found.Swap(true) {
				return nil // not found at the first sample
			}
			return pids(cmd)()
		}}, func(f Figures, _ time.Duration) bool { return f.CPUSeconds > 0 })
		if f.Processes != 1 || !strings.Contains(f.Partial, "found only after its start") {
			t.Errorf("figures %+v: want one process, found late, partial", f)
		}
		if f.CPUSeconds > wall.Seconds()+2.0/TicksPerSecond {
			t.Errorf("CPU %.2f s over %v: the CPU before it was found was counted", f.CPUSeconds, wall)
		}
	})
	t.Run("never found", func(t *testing.T) {
		gone := child(t, "exit 0")
		stop(gone)
		m, err := Start([]Component{{Name: "c", PIDs: pids(gone)}})
		if err != nil {
			t.Fatal(err)
		}
		m.Sample()
		if f := m.Figures()[0]; f.Processes != 0 || f.CPUSeconds != 0 || f.Partial != "" {
			t.Errorf("figures %+v: want nothing seen", f)
		}
	})
}

// TestSame: a process found once is listed while it runs and not after.
func TestSame(t *testing.T) {
	cmd := child(t, "sleep 30")
	same := Same([]int{cmd.Process.Pid, 1 << 30})
	if got := same(); len(got) != 1 || got[0] != cmd.Process.Pid {
		t.Fatalf("Same = %v, want [%d] (the pid that exists)", got, cmd.Process.Pid)
	}
	stop(cmd)
	if got := same(); len(got) != 0 {
		t.Errorf("Same after exit = %v, want none", got)
	}
}

// TestMeterBetween: the CPU of a span comes from the samples inside it;
// two adjacent spans add up to the one that holds both, a busy child's
// span cannot hold more CPU than its wall time, an idle child's about
// none, and a span with fewer than two samples has no figure.
func TestMeterBetween(t *testing.T) {
	busyCmd, idleCmd := child(t, busy), child(t, "sleep 30")
	m, err := Start([]Component{{Name: "busy", PIDs: pids(busyCmd)}, {Name: "idle", PIDs: pids(idleCmd)}})
	if err != nil {
		t.Fatal(err)
	}
	begin := m.at[0]
	for range 12 {
		time.Sleep(100 * time.Millisecond)
		m.Sample()
	}
	mid, end := m.at[6], m.at[len(m.at)-1]
	whole, secs := m.Between(begin, end)
	first, s1 := m.Between(begin, mid)
	second, s2 := m.Between(mid, end)
	if whole == nil || first == nil || second == nil {
		t.Fatalf("no figures: %v %v %v", whole, first, second)
	}
	for k := range whole {
		if d := whole[k] - first[k] - second[k]; d > 1e-9 || d < -1e-9 {
			t.Errorf("component %d: %.2f s in all, %.2f + %.2f in its halves", k, whole[k], first[k], second[k])
		}
	}
	if d := secs - s1 - s2; d > 1e-6 || d < -1e-6 {
		t.Errorf("%.3f s in all, %.3f + %.3f in the halves", secs, s1, s2)
	}
	if whole[0] <= 0 || whole[0] > secs+2.0/TicksPerSecond {
		t.Errorf("busy child: %.2f CPU s over %.2f s", whole[0], secs)
	}
	if whole[1] > 0.05 {
		t.Errorf("idle child: %.2f CPU s", whole[1])
	}
	if cpu, s := m.Between(end.Add(time.Millisecond), end.Add(time.Second)); cpu != nil || s != 0 {
		t.Errorf("a span after the last sample: %v, %v", cpu, s)
	}
}
