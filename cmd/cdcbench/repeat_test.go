package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/testtier"
)

// TestRunRepeat runs a scenario twice on one embedded stack: two result
// directories, each run's summary, and the gate command over both.
func TestRunRepeat(t *testing.T) {
	testtier.Integration(t)
	results := t.TempDir()
	out, stderr, code := cdcbench(t, "run", "--scenario", sweepFile(t, "", ""), "--repeat", "2", "--results", results)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	dirs, _ := filepath.Glob(filepath.Join(results, "sw-*"))
	if len(dirs) != 2 {
		t.Fatalf("result directories %v, want 2", dirs)
	}
	for _, want := range []string{"run 1 of 2", "run 2 of 2"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "starting the stack"); n != 1 {
		t.Errorf("the stack started %d times, want once", n)
	}
	if n := strings.Count(out, "\nresults: "); n != 2 {
		t.Errorf("%d results lines, want 2:\n%s", n, out)
	}
	if want := "cdcbench gate " + strings.Join(dirs, " "); !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
}
