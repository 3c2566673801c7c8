package main

import (
	"bytes"
	"cmp"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/testtier"
	"github.com/cdcbench/cdcbench/scenarios"
)

// sweepFile writes a scenario of paths (cdc when empty) at 200 rows/s in
// batches of 10, 1 s long, with sweep appended, and returns its path.
func sweepFile(t *testing.T, paths, sweep string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sw.yaml")
	doc := "name: sw\ndescription: a sweep\nwarmup: 0s\nduration: 1s\nbatch_size: 10\n" +
		"rate: {shape: constant, unit: rows/s, rate: 200}\npaths: [" + cmp.Or(paths, "cdc") + "]\n" + sweep
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSweepBadInput: what is wrong with a sweep is refused before anything
// starts, with exit 2.
func TestSweepBadInput(t *testing.T) {
	swept := sweepFile(t, "", "sweep:\n  - {field: rate, values: [200, 400]}\n  - {field: batch_size, values: [10, 20]}\n")
	huge := sweepFile(t, "", "sweep:\n  - {field: connections, values: [1, 2, 3, 4, 5, 6, 7, 8]}\n  - {field: batch_size, values: [10, 11, 12, 13, 14, 15, 16]}\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a flag on a swept field", []string{"run", "--scenario", swept, "--rate", "300"}, "--rate sets rate, which the sweep of scenario sw varies over [200, 400]"},
		{"batch size too", []string{"run", "--scenario", swept, "--batch-size", "5"}, "--batch-size sets batch_size"},
		{"repeat", []string{"run", "--scenario", swept, "--repeat", "2"}, "drop --repeat"},
		{"an override that breaks a cell", []string{"run", "--scenario", sweepFile(t, "", "sweep:\n  - {field: rate, values: [200, 40]}\n"), "--batch-size", "50"}, "sweep: cell 2 (rate=40): rate: offers 0.80 batches/s"},
		{"settings of a path the flags dropped", []string{"run", "--scenario", sweepFile(t, "cdc, debezium", "sweep:\n  - {field: settings.debezium.poll.interval.ms, values: [\"10\"]}\n"), "--paths", "cdc"}, `path "debezium" is not one of paths [cdc]`},
		{"56 cells", []string{"run", "--scenario", huge}, "the sweep has 56 cells and would take about"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := cdcbench(t, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
}

// TestSweepPlan: --plan lists the cells and starts nothing, even for a
// sweep that needs --yes to run.
func TestSweepPlan(t *testing.T) {
	results := filepath.Join(t.TempDir(), "results")
	file := sweepFile(t, "", "sweep:\n  - {field: rate, values: [200, 400]}\n  - {field: connections, values: [1, 2]}\n")
	out, stderr, code := cdcbench(t, "run", "--scenario", file, "--plan", "--duration", "2s", "--results", results)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"duration: 2s\n",
		"# sweep over rate, connections on the embedded stack: 4 cells, about 26s in all (an estimate",
		"#   cell 3/4  rate=400, connections=1  about 6s  cell-03-rate-400_connections-1/",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if _, err := scenarios.Parse("plan.yaml", []byte(out)); err != nil {
		t.Errorf("the plan is not a scenario file: %v", err)
	}
	if _, err := os.Stat(results); !os.IsNotExist(err) {
		t.Errorf("--plan created %s", results)
	}
}

// TestSweepRun runs a sweep of two cells on the embedded stack: one result
// directory per cell under the sweep directory, the index, the summary,
// and a report of the sweep directory.
func TestSweepRun(t *testing.T) {
	testtier.Integration(t)
	results := t.TempDir()
	file := sweepFile(t, "", "sweep:\n  - {field: batch_size, values: [10, 20]}\n")
	out, stderr, code := cdcbench(t, "run", "--scenario", file, "--results", results)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"sweep sw: 2 cells over batch_size, about ", "cell 1/2 (batch_size=10)", "cell 2/2 (batch_size=20)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "starting the stack"); n != 1 {
		t.Errorf("the stack started %d times, want once", n)
	}
	dir, idx := onlySweep(t, results)
	if len(idx.Cells) != 2 || idx.ScenarioName != "sw" || idx.EstimateS <= 0 {
		t.Fatalf("index %+v", idx)
	}
	for i, c := range idx.Cells {
		if c.Status != result.CellValid || !c.Valid || len(c.Paths) != 1 || c.Paths[0].P99Ms <= 0 {
			t.Errorf("cell %d: %+v", i+1, c)
		}
		res, err := result.Read(filepath.Join(dir, c.Dir))
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{10, 20}[i]; res.ScenarioName != "sw" || res.Scenario.(map[string]any)["batch_size"] != float64(want) {
			t.Errorf("cell %d ran %s with batch_size %v, want sw with %d", i+1, res.ScenarioName, res.Scenario.(map[string]any)["batch_size"], want)
		}
	}
	if !strings.Contains(out, "cdcbench sweep sw: 2 cells over batch_size") || !strings.Contains(out, "results: "+dir) {
		t.Errorf("stdout lacks the sweep's summary:\n%s", out)
	}
	// The next steps it prints run as printed.
	_, next, ok := strings.Cut(out, "\nnext:\n")
	if !ok {
		t.Fatalf("stdout lacks the next steps:\n%s", out)
	}
	first, last := filepath.Join(dir, idx.Cells[0].Dir), filepath.Join(dir, idx.Cells[1].Dir)
	for _, want := range []string{"cdcbench report " + dir, "cdcbench gate " + first + " " + last, "cdcbench compare " + first + " " + last} {
		if !strings.Contains(next, want) {
			t.Errorf("next steps lack %q:\n%s", want, next)
		}
	}
	if _, stderr, code := cdcbench(t, "compare", first, last); code != exitOK {
		t.Errorf("compare of the cells as printed: exit %d: %s", code, stderr)
	}
	report := filepath.Join(t.TempDir(), "R.md")
	if _, stderr, code := cdcbench(t, "report", dir, "-o", report); code != exitOK {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	if md, _ := os.ReadFile(report); !bytes.Contains(md, []byte("## Sweep sw over batch_size")) {
		t.Errorf("the report has no sweep section")
	}
}

// cancelOn cancels when what was written so far contains marker.
type cancelOn struct {
	mu     sync.Mutex
	b      bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.marker) {
		w.cancel()
	}
	return len(p), nil
}

// TestSweepInterrupted: Ctrl-C in the second cell stops the sweep with
// exit 130, and the index keeps the first cell and marks the others.
func TestSweepInterrupted(t *testing.T) {
	testtier.Integration(t)
	results := t.TempDir()
	file := sweepFile(t, "", "sweep:\n  - {field: batch_size, values: [10, 20, 40]}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stderr := &cancelOn{marker: "cell 2/3", cancel: cancel}
	var stdout bytes.Buffer
	code := run(ctx, []string{"cdcbench", "run", "--scenario", file, "--results", results}, &stdout, stderr)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, stderr.b.String())
	}
	_, idx := onlySweep(t, results)
	st := func(i int) string { return idx.Cells[i].Status }
	if st(0) != result.CellValid || (st(1) != result.CellInterrupted && st(1) != result.CellNotRun) || st(2) != result.CellNotRun {
		t.Errorf("statuses %q, %q, %q; want valid, interrupted (or not run), not run", st(0), st(1), st(2))
	}
	if !strings.Contains(stdout.String(), "cdcbench sweep sw: 3 cells") {
		t.Errorf("no sweep summary after the interrupt:\n%s", stdout.String())
	}
}

// onlyRun returns the result of the one smoke run under results.
func onlyRun(t *testing.T, results string) *result.Result {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(results, "smoke-*"))
	if len(dirs) != 1 {
		t.Fatalf("result dirs %v, want one", dirs)
	}
	res, err := result.Read(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// onlySweep returns the one sweep directory under results and its index.
func onlySweep(t *testing.T, results string) (string, *result.Sweep) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(results, "sw-sweep-*"))
	if len(dirs) != 1 {
		t.Fatalf("sweep dirs %v", dirs)
	}
	idx, err := result.ReadSweep(dirs[0])
	if err != nil {
		t.Fatal(err)
	}
	return dirs[0], idx
}
