package reports_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/golden"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/reports"
)

// The sweep fixture is a real sweep of rate [200, 1000, 3000] x batch_size
// [10, 50] on the embedded stack (cdc only, results without their
// histogram files), edited: cell 5 made invalid, cell 6 never run.
const sweepFixture = "testdata/sweep"

func TestWriteSweepGolden(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "REPORT.md")
	if err := reports.Write([]string{sweepFixture}, out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "SWEEP.golden.md", got)
}

// TestWriteSweep checks what the golden file cannot say by itself: the
// sweep's section comes first and reads its cells' results, invalid and
// missing cells are named, and every chart linked is an SVG.
func TestWriteSweep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "sweep.md")
	// With a run of its own beside it, which keeps its place and name.
	if err := reports.Write([]string{sweepFixture, "testdata/smoke"}, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"## Sweep tinysweep over rate × batch_size\n",
		"| cells | 6: 4 valid, 1 invalid, 1 not run |",
		"| 2 | 200 | 50 | cdc | outlier | 200.0 | 200.0 | 600 | 4.623 |",
		"| 5 | 3000 | 10 | cdc | velocity |",
		"| 6 | 3000 | 50 | – | – | | | | | | | | not run |",
		"**e2e latency against rate, batch_size=10**",
		"Left out, having no valid result: cell 5 (invalid).",
		"Left out, having no valid result: cell 6 (not run).",
		"**e2e latency against rate, batch_size=50**",
		"| 5 | tinysweep (cell 5/6: rate=3000, batch_size=10) |",
		"| 6 | smoke | ",
		"## #5 tinysweep (cell 5/6: rate=3000, batch_size=10), run ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if i, j := strings.Index(md, "## Sweep"), strings.Index(md, "## Runs\n"); i < 0 || j < i {
		t.Errorf("the sweep section (at %d) does not come before the runs (at %d)", i, j)
	}
	if !strings.Contains(md, "#5 tinysweep (cell 5/6: rate=3000, batch_size=10)") || !strings.Contains(md, "> [!CAUTION]\n> **1 of 6 runs is INVALID") {
		t.Error("the caution banner does not name the invalid cell")
	}
	links := regexp.MustCompile(`\]\((sweep\.files/tinysweep-sweep-[^)]+\.svg)\)`).FindAllStringSubmatch(md, -1)
	if len(links) != 2 {
		t.Fatalf("report links %d sweep charts, want 2 (one per batch_size)", len(links))
	}
	for _, l := range links {
		svg, err := os.ReadFile(filepath.Join(dir, l[1]))
		if err != nil {
			t.Fatalf("linked chart: %v", err)
		}
		if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("</svg>")) || !bytes.Contains(svg, []byte("rate (rows/s)")) {
			t.Errorf("%s is not a complete SVG with the rate axis", l[1])
		}
	}
}

// TestWriteSweepBroken: a sweep directory whose index or cell cannot be
// read is not a result, as a broken result directory is not.
func TestWriteSweepBroken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		index string
	}{
		{"index not json", `{"schema_version": 1`},
		{"a cell's result missing", `{"schema_version": 1, "fields": ["rate"], "cells": [{"index": 1, "values": ["1"], "dir": "cell-1", "status": "valid"}]}`},
		{"a cell outside", `{"schema_version": 1, "fields": ["rate"], "cells": [{"index": 1, "values": ["1"], "dir": "../smoke", "status": "valid"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, result.SweepFile), []byte(tc.index), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "REPORT.md")
			if err := reports.Write([]string{dir}, out); !errors.Is(err, reports.ErrNotResult) {
				t.Fatalf("Write = %v, want an error wrapping ErrNotResult", err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed Write left %s behind", out)
			}
		})
	}
}

func TestWriteSweepSummary(t *testing.T) {
	t.Parallel()
	idx, err := result.ReadSweep(sweepFixture)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := reports.WriteSweepSummary(&b, idx); err != nil {
		t.Fatal(err)
	}
	want := `
cdcbench sweep tinysweep: 6 cells over rate, batch_size (e2e ms of each path's slower agent)
  cell  rate  batch_size   status  cdc p50     p99
     1   200          10    valid     2.82    7.80
     2   200          50    valid     4.62   14.02
     3  1000          10    valid     2.04  120.19
     4  1000          50    valid     4.02   14.64
     5  3000          10  invalid     2.87   30.05
     6  3000          50  not run        –       –
`
	if b.String() != want {
		t.Errorf("summary\n%s\nwant\n%s", b.String(), want)
	}
}
