package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strings"
	"time"
)

// startCPUProfile starts profiling this process's CPU into file; the
// returned function stops it and closes the file.
func startCPUProfile(file string) (func() error, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return errors.Join(f.Close())
	}, nil
}

// component is a part of the harness a CPU sample is charged to.
type component struct {
	name string
	// match reports whether a frame (a function name as pprof prints it)
	// belongs to the component.
	match func(frame string) bool
}

func pkg(prefixes ...string) func(string) bool {
	return func(f string) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(f, p) {
				return true
			}
		}
		return false
	}
}

const mod = "github.com/cdcbench/cdcbench/"

// components are tried in order against every frame of a sample's stack,
// leaf to root; the first component with a frame anywhere in the stack gets
// the sample. The order puts the work a caller asked for with the caller:
// the relay's calls into kgo and changeevent count as relay, an agent
// goroutine's decoding as decode and its detector calls as agents, the
// interval log's encoding (called through recorder.Set.Rotate) as recorder,
// and only kgo's own goroutines (produce sinks, fetch loops) as the Kafka
// client.
var components = []component{
	{"kfake (broker)", pkg("github.com/twmb/franz-go/pkg/kfake.")},
	{"relay", pkg(mod + "relay.")},
	// The oracle sees every batch from the producer's callback; it is the
	// harness's ground truth, not the producer's cost.
	{"oracle (ground truth)", pkg(mod + "bench.(*oracle)")},
	{"producer", pkg(mod + "producer.")},
	{"agents (detectors)", pkg(mod + "agents.")},
	{"recorder (histograms)", pkg(mod + "recorder.")},
	{"decode (changeevent)", pkg(mod + "changeevent.")},
	{"run loop and sources (bench, source, stack)", pkg(mod+"bench.", mod+"source.", mod+"stack.")},
	{"kafka client (kgo goroutines)", pkg("github.com/twmb/franz-go/pkg/kgo.", "github.com/twmb/franz-go/pkg/kadm.")},
	{"GC (runtime background)", pkg("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.forEachP", "runtime.gcStart")},
	{"perf (this program)", pkg("main.")},
	// runtime.Gosched switches to the scheduler's stack, so its samples
	// lose their caller. In cdcbench and its dependencies only the
	// producer's pacer (producer.sleepUntil) calls it, spinning for the last
	// stretch before each batch is due.
	{"producer spin-wait (runtime.Gosched)", pkg("runtime.gosched_m")},
}

const otherComponent = "other (scheduler, netpoll, syscalls)"

// split reads `go tool pprof -traces` output and sums the sampled CPU time
// per component.
func split(traces io.Reader) (map[string]time.Duration, time.Duration, error) {
	out := map[string]time.Duration{}
	var total time.Duration
	var value time.Duration
	var frames []string
	flush := func() {
		if value == 0 {
			return
		}
		name := otherComponent
	find:
		for _, c := range components {
			for _, f := range frames {
				if c.match(f) {
					name = c.name
					break find
				}
			}
		}
		out[name] += value
		total += value
		value, frames = 0, frames[:0]
	}
	sc := bufio.NewScanner(traces)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	inTraces := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			inTraces = true
			continue
		}
		if !inTraces || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if line[0] != ' ' || len(f) == 0 {
			continue
		}
		// The first line of a sample is "<value> <leaf frame>", the others
		// hold one frame each; label lines ("key:value") are skipped.
		if value == 0 && len(frames) == 0 {
			d, err := time.ParseDuration(f[0])
			if err != nil {
				return nil, 0, fmt.Errorf("pprof traces: sample value %q: %w", f[0], err)
			}
			value = d
			if len(f) > 1 {
				frames = append(frames, f[1])
			}
			continue
		}
		if strings.Contains(f[0], ":") && !strings.Contains(f[0], ".") {
			continue
		}
		frames = append(frames, f[0])
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("pprof traces: %w", err)
	}
	return out, total, nil
}

// pprofText runs `go tool pprof` with args and returns its output.
func pprofText(args ...string) (string, error) {
	cmd := exec.Command("go", append([]string{"tool", "pprof"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// profileSplit is the CPU of a profile per component, largest first.
func profileSplit(file string) ([]share, error) {
	text, err := pprofText("-traces", file)
	if err != nil {
		return nil, err
	}
	m, total, err := split(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, fmt.Errorf("%s holds no samples", file)
	}
	var out []share
	for name, d := range m {
		out = append(out, share{name, d.Seconds() / total.Seconds()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].frac != out[j].frac {
			return out[i].frac > out[j].frac
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// share is a component's fraction of a profile's samples.
type share struct {
	name string
	frac float64
}

// topLines keeps the header's last line and the first n rows of a
// `go tool pprof -top` listing.
func topLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") {
			end := min(len(lines), i+1+n)
			return strings.Join(lines[i:end], "\n")
		}
	}
	return text
}

// printSplit prints a profile's CPU by component, as a share and, when
// cores > 0 (the profiled span's measured CPU in cores), in cores.
func printSplit(w io.Writer, file, title string, cores float64) ([]share, error) {
	shares, err := profileSplit(file)
	if err != nil {
		fmt.Fprintf(w, "  no CPU split: %v\n", err)
		return nil, err
	}
	fmt.Fprintln(w, title)
	for _, s := range shares {
		if cores > 0 {
			fmt.Fprintf(w, "    %-44s %5.1f%%  %.3f cores\n", s.name, 100*s.frac, s.frac*cores)
		} else {
			fmt.Fprintf(w, "    %-44s %5.1f%%\n", s.name, 100*s.frac)
		}
	}
	return shares, nil
}

// largest names the three largest shares, in cores when cores > 0.
func largest(shares []share, cores float64) string {
	var top []string
	for _, s := range shares[:min(3, len(shares))] {
		if cores > 0 {
			top = append(top, fmt.Sprintf("%s %.3f cores", s.name, s.frac*cores))
		} else {
			top = append(top, fmt.Sprintf("%s %.0f%%", s.name, 100*s.frac))
		}
	}
	return strings.Join(top, ", ")
}
