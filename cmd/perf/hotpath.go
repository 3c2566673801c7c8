package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// benchArgs are the micro-benchmarks of the hot path. -cpu 1 runs them with
// GOMAXPROCS=1, which is what "events/s on one core" means; the recorder's
// parallel benchmark then measures one goroutine's cost per Record.
var benchArgs = []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-cpu", "1", "./changeevent", "./agents", "./recorder"}

// benchResult is one benchmark line: its metrics by unit ("ns/op",
// "allocs/op", "events/s", ...).
type benchResult struct {
	procs   int // the -N suffix of the name; 1 when absent
	metrics map[string]float64
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.*)$`)

// parseBench reads `go test -bench` output and returns every benchmark's
// metrics by name (without the -N suffix). Lines that are not benchmark
// results are ignored, so the output of several packages can be fed at once.
func parseBench(r io.Reader) (map[string]benchResult, error) {
	out := map[string]benchResult{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		res := benchResult{procs: 1, metrics: map[string]float64{}}
		if m[2] != "" {
			res.procs, _ = strconv.Atoi(m[2])
		}
		f := strings.Fields(m[4])
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("hot path: benchmark line %q: metrics are not value/unit pairs", sc.Text())
		}
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("hot path: benchmark line %q: %w", sc.Text(), err)
			}
			res.metrics[f[i+1]] = v
		}
		out[m[1]] = res
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hot path: reading benchmark output: %w", err)
	}
	return out, nil
}

// hotPathTarget is one benchmark's target from the issue.
type hotPathTarget struct {
	bench, name string
	unit        string  // the metric judged
	limit       float64 // its limit
	atLeast     bool    // the metric must reach limit (else stay under it)
}

var hotPathTargets = []hotPathTarget{
	{"BenchmarkDecodeSchema", "decode, schema-wrapped (1 core)", "events/s", 100_000, true},
	{"BenchmarkDecodeBare", "decode, bare payload (1 core)", "events/s", 250_000, true},
	{"BenchmarkRecord", "record (1 core)", "ns/op", 100, false},
}

// hotPathChecks judges the benchmarks with a target, requires 0 allocs/op of
// them, and lists the others for context.
func hotPathChecks(res map[string]benchResult) []check {
	const sec = "1 hot path"
	var out []check
	judged := map[string]bool{}
	for _, t := range hotPathTargets {
		judged[t.bench] = true
		r, ok := res[t.bench]
		v, has := r.metrics[t.unit]
		if !ok || !has {
			out = append(out, failed(sec, t.name, t.unit, fmt.Errorf("%s did not report %s: did the benchmark run?", t.bench, t.unit)))
			continue
		}
		var c check
		if t.atLeast {
			c = atLeast(sec, t.name, v, t.limit, t.unit)
		} else {
			c = below(sec, t.name, v, t.limit, t.unit)
		}
		if r.procs != 1 {
			c.why = fmt.Sprintf("ran with GOMAXPROCS=%d, not on one core", r.procs)
		}
		out = append(out, c)
		allocs, has := r.metrics["allocs/op"]
		a := check{section: sec, name: t.name + " allocs", figure: num(allocs) + " allocs/op", target: "0 allocs/op",
			ratio: math.NaN(), met: has && allocs == 0}
		if !has {
			a.figure, a.why = "no figure", "run the benchmarks with -benchmem"
		} else if allocs > 0 {
			a.why = fmt.Sprintf("%s allocates on the hot path; `go test -run '^$' -bench %s -memprofile mem.out` shows where", t.bench, t.bench)
		}
		out = append(out, a)
	}
	var rest []string
	for name := range res {
		if !judged[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		m := res[name].metrics
		fig := num(m["ns/op"]) + " ns/op, " + num(m["allocs/op"]) + " allocs/op"
		if v, ok := m["events/s"]; ok {
			fig = num(v) + " events/s, " + fig
		}
		out = append(out, infoCheck(sec, strings.TrimPrefix(name, "Benchmark"), fig))
	}
	return out
}

// loadBench reads the benchmark output the Makefile saved, or runs the
// benchmarks itself when there is none, echoing them to w either way.
func loadBench(file string, w io.Writer) (map[string]benchResult, error) {
	var data []byte
	var err error
	if file != "" {
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("hot path: %w", err)
		}
	} else {
		fmt.Fprintf(w, "  go %s\n", strings.Join(benchArgs, " "))
		cmd := exec.Command("go", benchArgs...)
		cmd.Stderr = os.Stderr
		if data, err = cmd.Output(); err != nil {
			return nil, fmt.Errorf("hot path: go test -bench: %w", err)
		}
		_, _ = w.Write(data)
	}
	return parseBench(strings.NewReader(string(data)))
}
