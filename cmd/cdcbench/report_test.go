package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReportCommand(t *testing.T) {
	const fixture = "../../reports/testdata/smoke"
	for _, tc := range []struct {
		name   string
		args   []string // after "cdcbench report -o OUT"
		code   int
		stderr string // part of the message on stderr
	}{
		{"a result directory", []string{fixture}, 0, ""},
		{"no directories", nil, 2, "want at least one result directory"},
		{"not a result directory", []string{"."}, 2, "not a cdcbench result directory"},
		{"missing directory", []string{"no-such-dir"}, 2, "not a cdcbench result directory"},
		{"no directories, a flag after", []string{"-o", "x.md"}, 2, "want at least one result directory"},
		{"a flag after a directory", []string{fixture, "-o", "OUT"}, 0, ""},
		{"an output that cannot be written", []string{fixture, "-o", "/proc/cdcbench/REPORT.md"}, exitCouldNotRun, "/proc/cdcbench"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "REPORT.md")
			args := slices.Clone(tc.args)
			if i := slices.Index(args, "OUT"); i >= 0 {
				args[i] = out // -o after the directory names the report
			} else {
				args = append([]string{"-o", out}, args...)
			}
			var stderr bytes.Buffer
			code := run(context.Background(), append([]string{"cdcbench", "report"}, args...), io.Discard, &stderr)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d (stderr: %s)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.stderr)
			}
			_, err := os.Stat(out)
			if wrote := err == nil; wrote != (tc.code == 0) {
				t.Errorf("exit code %d, report written: %v", code, wrote)
			}
		})
	}
}

// TestIncompleteResult: a result.json without what every run writes is
// bad input to report and gate, not an empty run (report wrote a report of
// {"schema_version":1} and exited 0).
func TestIncompleteResult(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "result.json"), `{"schema_version":1}`)
	for _, args := range [][]string{
		{"report", dir, "-o", filepath.Join(t.TempDir(), "r.md")},
		{"gate", dir, "--rules", writeFile(t, filepath.Join(t.TempDir(), "r.yaml"), testGateFile)},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, stderr, code := cdcbench(t, args...)
			if code != 2 || !strings.Contains(stderr, "is not a cdcbench result: it has no run_id, scenario_name, started_at") {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming what is missing", code, stderr)
			}
		})
	}
}
