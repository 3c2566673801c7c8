package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/wait"
	"github.com/cdcbench/cdcbench/reports"
	"github.com/cdcbench/cdcbench/scenarios"
)

// Scenario runs happen in a child process (perf re-executing itself with
// -child), so that the process's CPU time, its CPU profile and its
// allocation profile hold that run and nothing else: the same code as
// `cdcbench run`, the bench package on an embedded stack, minus the CLI.
const (
	childSteady = "steady" // harness CPU over the measured window, start-up
	childBurst  = "burst"  // CPU and allocation profiles of a whole run
)

// steadyRate is the load of the harness CPU measurement, in rows/s.
const steadyRate = 10_000

// childResult is what a child reports to the parent.
type childResult struct {
	Kind string `json:"kind"`
	// Times (unix ns) the stack was up and the first path's probe row had
	// made the round trip: everything ready to measure.
	StackUpAt int64 `json:"stack_up_at"`
	ReadyAt   int64 `json:"ready_at"`
	// CPU is the process's user+system CPU over the measured window (steady)
	// or the whole run (burst), in seconds, and Wall that span's length.
	CPU  float64 `json:"cpu_s"`
	Wall float64 `json:"wall_s"`

	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons,omitempty"`
	AchievedRows   float64  `json:"achieved_rows_per_s"` // of the first path
	ResultDir      string   `json:"result_dir"`
	// E2EP50 is each path's outlier agent's e2e p50 in ms: the ordering of
	// the paths, judged here rather than in a unit test (a busy shared
	// machine moves it).
	E2EP50 map[string]float64 `json:"e2e_p50_ms,omitempty"`
	// Baseline names the path the others are compared with (polling).
	Baseline string `json:"baseline,omitempty"`
}

func childFiles(out, kind string) (result, cpu, allocs string) {
	return filepath.Join(out, kind+".json"), filepath.Join(out, kind+"-cpu.pprof"), filepath.Join(out, kind+"-allocs.pprof")
}

// childSpec is the scenario a child runs.
func childSpec(kind string) (scenarios.Spec, error) {
	switch kind {
	case childSteady:
		s, err := scenarios.Builtin("steady")
		if err != nil {
			return s, err
		}
		// As `cdcbench run --scenario steady --rate 10000 --paths cdc --duration 30s`.
		s.Rate = scenarios.RateSpec{Shape: scenarios.ShapeConstant, Unit: scenarios.UnitRows, Arrivals: s.Rate.Arrivals, Rate: steadyRate}
		s.Paths = []string{driver.CDCPath.String()}
		s.Duration = scenarios.Duration(30 * time.Second)
		return s, nil
	case childBurst:
		return scenarios.Builtin("burst")
	}
	return scenarios.Spec{}, fmt.Errorf("unknown child run %q", kind)
}

// runChild runs one scenario in this process and writes its childResult
// and profiles into out.
func runChild(ctx context.Context, kind, out string) (err error) {
	spec, err := childSpec(kind)
	if err != nil {
		return err
	}
	plan, err := bench.PlanFrom(spec)
	if err != nil {
		return err
	}
	resFile, cpuFile, allocsFile := childFiles(out, kind)
	res := childResult{Kind: kind}
	var win *cpuWindow
	if kind == childBurst {
		if win, err = startWindow(cpuFile); err != nil {
			return err
		}
	}

	st, err := stack.Start(ctx, stack.Options{Partitions: spec.Partitions})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close(context.WithoutCancel(ctx))) }()
	res.StackUpAt = time.Now().UnixNano()

	log := &watchLog{w: os.Stderr, onProbe: func(at time.Time) {
		if res.ReadyAt == 0 {
			res.ReadyAt = at.UnixNano()
		}
	}}
	var windowDone chan error
	if kind == childSteady {
		// The schedule starts 50 ms after the probe line (bench/path.go);
		// the measured window follows the warm-up.
		windowDone = make(chan error, 1)
		log.onProbe = func(at time.Time) {
			res.ReadyAt = at.UnixNano()
			from := at.Add(50*time.Millisecond + plan.Warmup)
			go func() { windowDone <- measureWindow(ctx, from, from.Add(plan.Duration), cpuFile, &res) }()
		}
	}
	r, dir, runErr := bench.Run(ctx, bench.Config{DropExisting: true, Plan: plan, Stack: st, CDC: driver.CDC{Kind: stack.CDCRelay},
		ResultsDir: filepath.Join(out, "runs"), Version: "perf", Log: log})
	if win != nil {
		cpu, wall, err := win.stop()
		if err != nil {
			return err
		}
		res.CPU, res.Wall = cpu, wall
		if err := writeAllocs(allocsFile); err != nil {
			return err
		}
	}
	if windowDone != nil {
		select {
		case err := <-windowDone:
			if err != nil {
				return err
			}
		default:
			return errors.Join(runErr, errors.New("steady run: the run ended before its measured window did"))
		}
	}
	if runErr != nil {
		return runErr
	}
	res.ResultDir, res.Valid, res.InvalidReasons = dir, r.Valid, r.InvalidReasons
	if len(r.Paths) > 0 {
		res.AchievedRows = r.Paths[0].AchievedRowsPerS
	}
	res.E2EP50 = map[string]float64{}
	for _, p := range r.Paths {
		if p.Baseline {
			res.Baseline = p.Name
		}
		for _, a := range p.Agents {
			if a.Name == agents.OutlierName {
				res.E2EP50[p.Name] = a.E2E.P50
			}
		}
	}
	if err := reports.WriteSummary(os.Stdout, r); err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(resFile, b, 0o644)
}

// measureWindow profiles the process's CPU from from to to and records its
// CPU time over that span.
func measureWindow(ctx context.Context, from, to time.Time, cpuFile string, res *childResult) error {
	if err := wait.Sleep(ctx, time.Until(from)); err != nil {
		return err
	}
	win, err := startWindow(cpuFile)
	if err != nil {
		return err
	}
	if err := wait.Sleep(ctx, time.Until(to)); err != nil {
		_, _, _ = win.stop()
		return err
	}
	res.CPU, res.Wall, err = win.stop()
	return err
}

// cpuWindow is a span of this process's life with its CPU time and profile.
type cpuWindow struct {
	start    time.Time
	cpu      time.Duration
	stopProf func() error
}

func startWindow(cpuFile string) (*cpuWindow, error) {
	stop, err := startCPUProfile(cpuFile)
	if err != nil {
		return nil, err
	}
	return &cpuWindow{start: time.Now(), cpu: processCPU(), stopProf: stop}, nil
}

// stop ends the window and returns its CPU and wall seconds.
func (w *cpuWindow) stop() (cpu, wall float64, err error) {
	cpu, wall = (processCPU() - w.cpu).Seconds(), time.Since(w.start).Seconds()
	return cpu, wall, w.stopProf()
}

// processCPU is this process's user+system CPU time (all threads), as
// /proc/self/stat's utime+stime but at microsecond resolution.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeAllocs(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("allocation profile: %w", err)
	}
	err = pprof.Lookup("allocs").WriteTo(f, 0)
	return errors.Join(err, f.Close())
}

// watchLog passes the run's progress lines on and notes when the first
// probe made the round trip.
type watchLog struct {
	w       io.Writer
	mu      sync.Mutex
	seen    bool
	onProbe func(at time.Time)
}

func (l *watchLog) Write(p []byte) (int, error) {
	at := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.seen && bytes.Contains(p, []byte("probe made the round trip")) {
		l.seen = true
		l.onProbe(at)
	}
	return l.w.Write(p)
}

// runChildProcess re-executes perf to run kind and returns its result. Its
// output is passed on, indented.
func runChildProcess(ctx context.Context, kind, out string, w io.Writer) (childResult, time.Time, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, time.Time{}, fmt.Errorf("%s run: %w", kind, err)
	}
	cmd := exec.CommandContext(ctx, exe, "-child", kind, "-out", out)
	// On Ctrl-C the child stops as cdcbench does, removing its cluster.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	pw := &prefixWriter{w: w, prefix: "  | "}
	cmd.Stdout, cmd.Stderr = pw, pw
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return childResult{}, start, fmt.Errorf("%s run: %w", kind, err)
	}
	resFile, _, _ := childFiles(out, kind)
	b, err := os.ReadFile(resFile)
	if err != nil {
		return childResult{}, start, fmt.Errorf("%s run: %w", kind, err)
	}
	var res childResult
	if err := json.Unmarshal(b, &res); err != nil {
		return childResult{}, start, fmt.Errorf("%s run: %w", kind, err)
	}
	return res, start, nil
}

// prefixWriter indents every line written through it.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool // inside a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.mid {
			out = append(out, p.prefix...)
		}
		out = append(out, line...)
		p.mid = !strings.HasSuffix(line, "\n")
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
