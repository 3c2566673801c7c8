package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// steadySections judges the harness's CPU over the steady run's measured
// window, split by component from the window's CPU profile, and the time
// from exec to ready.
func steadySections(ctx context.Context, out string, w io.Writer) ([]check, error) {
	res, started, err := runChildProcess(ctx, childSteady, out, w)
	if err != nil {
		return nil, err
	}
	_, cpuFile, _ := childFiles(out, childSteady)
	var checks []check
	if !res.Valid {
		checks = append(checks, infoCheck("4 harness CPU", "steady run validity", "invalid: "+strings.Join(res.InvalidReasons, "; ")))
	}
	cores := res.CPU / res.Wall
	c := below("4 harness CPU", fmt.Sprintf("cdcbench process at %s rows/s, cdc path (achieved %s)", num(steadyRate), num(res.AchievedRows)),
		cores, 0.5, "cores")
	fmt.Fprintf(w, "  measured window: %.1f s wall, %.2f s CPU (user+system, all threads) = %.3f cores\n", res.Wall, res.CPU, cores)
	shares, err := printSplit(w, cpuFile, "  split from the window's CPU profile ("+cpuFile+"), scaled to the measured CPU:", cores)
	if err != nil {
		c.why = "no split: " + err.Error()
	}
	for _, s := range shares {
		checks = append(checks, infoCheck("4 harness CPU", "  "+s.name, fmt.Sprintf("%.3f cores (%.0f%%)", s.frac*cores, 100*s.frac)))
	}
	if !c.met && err == nil {
		c.why = "largest shares: " + largest(shares, cores) + "; perf/README.md says what they are"
	}
	printCheck(w, c)
	checks = append([]check{c}, checks...)

	ready := time.Unix(0, res.ReadyAt).Sub(started)
	stackUp := time.Unix(0, res.StackUpAt).Sub(started)
	s := below("5 start-up", "exec to ready (stack, relay, agents, probe round trip)", ready.Seconds(), 5, "s")
	if !s.met {
		s.why = fmt.Sprintf("the stack (private cluster's initdb and start, kfake) took %.2f s of it", stackUp.Seconds())
	}
	printCheck(w, s)
	checks = append(checks, s,
		infoCheck("5 start-up", "  of which stack.Start (initdb, postgres, kfake)", fmt.Sprintf("%.2f s", stackUp.Seconds())),
		infoCheck("5 start-up", "  of which path set-up and probe round trip", fmt.Sprintf("%.2f s", (ready-stackUp).Seconds())))
	return checks, nil
}

// burstSection profiles one burst run and prints the top CPU and
// allocation costs and the CPU split by component.
func burstSection(ctx context.Context, out string, w io.Writer) ([]check, error) {
	res, _, err := runChildProcess(ctx, childBurst, out, w)
	if err != nil {
		return nil, err
	}
	_, cpuFile, allocsFile := childFiles(out, childBurst)
	fig := fmt.Sprintf("%.1f s CPU in %.1f s = %.3f cores", res.CPU, res.Wall, res.CPU/res.Wall)
	if !res.Valid {
		fig += "; run invalid: " + strings.Join(res.InvalidReasons, "; ")
	}
	checks := []check{infoCheck("6 burst", "whole burst run (both paths, start-up to drain)", fig)}
	fmt.Fprintf(w, "  %s\n  profiles: %s, %s\n", fig, cpuFile, allocsFile)
	for _, c := range capturesBelowBaseline(res.E2EP50, res.Baseline) {
		printCheck(w, c)
		checks = append(checks, c)
	}
	for _, p := range []struct {
		title string
		args  []string
	}{
		{"CPU, by flat time", []string{"-top", "-nodecount=20", cpuFile}},
		{"CPU, by cumulative time", []string{"-top", "-cum", "-nodecount=25", cpuFile}},
		{"allocations, by bytes", []string{"-top", "-sample_index=alloc_space", "-nodecount=15", allocsFile}},
		{"allocations, by count", []string{"-top", "-sample_index=alloc_objects", "-nodecount=15", allocsFile}},
	} {
		text, err := pprofText(p.args...)
		if err != nil {
			fmt.Fprintf(w, "  %s: %v\n", p.title, err)
			continue
		}
		fmt.Fprintf(w, "\n  go tool pprof %s (%s):\n%s\n", strings.Join(p.args, " "), p.title, indent(topLines(text, 30), "    "))
	}
	_, _ = printSplit(w, cpuFile, "\n  CPU split by component:", res.CPU/res.Wall)
	return checks, nil
}

// capturesBelowBaseline judges the burst run's paths against each other:
// a capture on one host delivers a row well before a poller's average
// wait of half its interval. It is a speed, which a loaded 2-core machine
// can invert for one run, so it is judged here and not by `make test`: one
// check per capture, none when the run lacks the baseline.
func capturesBelowBaseline(p50 map[string]float64, baseline string) []check {
	base, ok := p50[baseline]
	if !ok {
		return nil
	}
	var checks []check
	for _, name := range slices.Sorted(maps.Keys(p50)) {
		if name == baseline {
			continue
		}
		v := p50[name]
		checks = append(checks, check{section: "6 burst", name: fmt.Sprintf("%s e2e p50 below %s e2e p50 (outlier)", name, baseline),
			figure: fmt.Sprintf("%s ms (%s %s ms)", num(v), baseline, num(base)), target: "< " + baseline,
			ratio: v / base, ratioOf: baseline, met: v < base})
	}
	return checks
}

func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(text, "\n", "\n"+prefix)
}
