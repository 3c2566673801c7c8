package proccost

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Component is one part of a pipeline whose processes are measured
// together: the WAL sender of a slot, a path's poller backends, a JVM.
type Component struct {
	Name string
	// PIDs returns the component's processes now, none while it is down.
	// It is called at every sample, so a component whose process a fault
	// restarts under a new pid is followed to the new process.
	PIDs func() []int
}

// Figures is one component's cost over a Meter's window.
type Figures struct {
	Name string
	// CPUSeconds is user+system CPU, at 10 ms resolution, summed over the
	// component's processes.
	CPUSeconds float64
	// PeakRSSBytes is the largest resident set the component's processes
	// had together at a sample (VmRSS summed over them).
	PeakRSSBytes int64
	// Processes counts the distinct processes seen; 0 means the component
	// was never found and its figures are not a measurement.
	Processes int
	// Partial says why CPUSeconds falls short of the window's CPU, empty
	// when it does not.
	Partial string
}

// Meter follows components over a window: CPU as the change of each
// process's utime+stime between the window's first and last sample, memory
// as the largest VmRSS at any sample. VmHWM would be free to read but is
// the peak of a process's whole life, which for the JVMs and the postmaster
// spans earlier paths. A Meter is not safe for concurrent use.
type Meter struct {
	comps []*tracked
	// startTicks is the first sample's time in ticks since boot: a
	// process that started after it spent all its CPU in the window.
	startTicks uint64
	samples    int
	// at is each sample's time, so that CPU can be read for a span of
	// the window (Between), such as one step of a capacity climb.
	at []time.Time
}

// tracked is one component and what has been seen of its processes.
type tracked struct {
	Component
	procs map[procKey]*seen
	peak  int64
	// exited counts processes gone at a later sample; joined those that
	// ran before the window but were first seen after its start.
	exited, joined int
	// cum is the component's CPU ticks since the window began, at each
	// sample.
	cum []int64
}

// procKey tells processes apart: a pid is reused once its process is gone.
type procKey struct {
	pid   int
	start uint64
}

// seen is one process's CPU ticks at its first and latest sample.
type seen struct {
	base, last  int64
	alive, gone bool // at the latest sample; since an earlier one
}

// ErrNoProc reports a system without /proc.
var ErrNoProc = errors.New("proccost: this system shows no processes in /proc")

// Start takes the window's first sample of comps.
func Start(comps []Component) (*Meter, error) {
	if !Available() {
		return nil, ErrNoProc
	}
	now, err := uptimeTicks()
	if err != nil {
		return nil, err
	}
	m := &Meter{startTicks: now}
	for _, c := range comps {
		m.comps = append(m.comps, &tracked{Component: c, procs: map[procKey]*seen{}})
	}
	m.Sample()
	return m, nil
}

// Sample reads every component's processes once more.
func (m *Meter) Sample() {
	first := m.samples == 0
	m.samples++
	m.at = append(m.at, time.Now())
	for _, t := range m.comps {
		t.sample(first, m.startTicks)
		t.cum = append(t.cum, t.ticks())
	}
}

// Between returns each component's CPU seconds, in the order given to
// Start, from the first sample at or after from to the last at or before
// to, and the seconds between those samples; nil and 0 when fewer than two
// samples fall in the span.
func (m *Meter) Between(from, to time.Time) (cpu []float64, seconds float64) {
	i := 0
	for i < len(m.at) && m.at[i].Before(from) {
		i++
	}
	j := len(m.at) - 1
	for j >= 0 && m.at[j].After(to) {
		j--
	}
	if j <= i {
		return nil, 0
	}
	cpu = make([]float64, len(m.comps))
	for k, t := range m.comps {
		cpu[k] = float64(t.cum[j]-t.cum[i]) / TicksPerSecond
	}
	return cpu, m.at[j].Sub(m.at[i]).Seconds()
}

// sample reads the component's processes now. A process that is gone when
// it is read (it exited since PIDs listed it) counts as gone, not as an
// error: its CPU up to the previous sample stays counted.
func (t *tracked) sample(first bool, windowStart uint64) {
	for _, s := range t.procs {
		s.alive = false
	}
	var rss int64
	for _, pid := range t.PIDs() {
		st, err := ReadStat(pid)
		if err != nil {
			continue
		}
		mem, err := ReadMemory(pid)
		if err != nil {
			continue
		}
		rss += mem.RSS
		s := t.find(procKey{pid, st.Start}, st, first, windowStart)
		s.last, s.alive = st.Ticks, true
	}
	for _, s := range t.procs {
		if !s.alive && !s.gone {
			s.gone = true
			t.exited++
		}
	}
	t.peak = max(t.peak, rss)
}

// find returns what was seen of the process key, adding it when it is new:
// one present at the first sample is counted from there, one that started
// later from zero (all its CPU is the window's), and one that started
// earlier but was not listed until now from here, as partial.
func (t *tracked) find(key procKey, st Stat, first bool, windowStart uint64) *seen {
	if s := t.procs[key]; s != nil {
		if s.gone { // listed again after a sample that missed it
			s.gone = false
			t.exited--
		}
		return s
	}
	s := &seen{base: st.Ticks}
	switch {
	case first:
	case st.Start >= windowStart:
		s.base = 0
	default:
		t.joined++
	}
	t.procs[key] = s
	return s
}

// Figures returns each component's cost from the first sample to the
// latest, in the order the components were given. Take a last Sample at
// the window's end first.
func (m *Meter) Figures() []Figures {
	out := make([]Figures, 0, len(m.comps))
	for _, t := range m.comps {
		out = append(out, t.figures())
	}
	return out
}

// ticks is the component's CPU since the window began, as of the latest
// sample.
func (t *tracked) ticks() int64 {
	var ticks int64
	for _, s := range t.procs {
		ticks += s.last - s.base
	}
	return ticks
}

func (t *tracked) figures() Figures {
	return Figures{Name: t.Name, CPUSeconds: float64(t.ticks()) / TicksPerSecond, PeakRSSBytes: t.peak,
		Processes: len(t.procs), Partial: partial(t.exited, t.joined)}
}

// partial says what a CPU figure misses, empty when it misses nothing.
func partial(exited, joined int) string {
	var why []string
	if exited > 0 {
		why = append(why, fmt.Sprintf("%d of its processes exited mid-window (a restart, a dropped connection): each one's CPU after its last sample is not counted", exited))
	}
	if joined > 0 {
		why = append(why, fmt.Sprintf("%d of its processes, running before the window, were found only after its start: their CPU before that is not counted", joined))
	}
	if len(why) == 0 {
		return ""
	}
	return "partial: " + strings.Join(why, "; ")
}
