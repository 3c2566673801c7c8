package result

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/recorder"
)

func TestSweepRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := time.Date(2026, 12, 2, 0, 52, 21, 0, time.UTC)
	in := &Sweep{
		SchemaVersion: SweepSchemaVersion, Version: "test", ScenarioName: "s",
		StartedAt: start, UpdatedAt: start.Add(time.Minute), Fields: []string{"rate", "settings.debezium.poll.interval.ms"}, EstimateS: 84,
		Cells: []SweepCell{
			{Index: 1, Values: []string{"1000", "default"}, Label: "rate=1000, settings.debezium.poll.interval.ms=default",
				Dir: "cell-01-rate-1000_poll.interval.ms-default", Status: CellValid, Valid: true,
				Paths: []Headline{{Path: "cdc", P50Ms: 2.5, P99Ms: 9.1}}},
			{Index: 2, Values: []string{"1000", "10"}, Label: "rate=1000, settings.debezium.poll.interval.ms=10",
				Dir: "cell-02-rate-1000_poll.interval.ms-10", Status: CellInterrupted, InvalidReasons: []string{"interrupted"}},
			{Index: 3, Values: []string{"5000", "default"}, Label: "rate=5000, settings.debezium.poll.interval.ms=default", Status: CellNotRun},
		},
	}
	if err := in.Write(dir); err != nil {
		t.Fatal(err)
	}
	// Rewritten, as after every cell: no temporary file stays behind.
	in.Cells[2].Status = CellFailed
	in.Cells[2].Error = "stack: kfake: boom"
	if err := in.Write(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, SweepFile+".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if !IsSweep(dir) || IsSweep(t.TempDir()) {
		t.Error("IsSweep does not tell a sweep directory from another")
	}
	out, err := ReadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip changed the index:\n%+v\n%+v", in, out)
	}
}

func TestReadSweepRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, json, want string
	}{
		{"not json", `{"cells": 3`, "is not a cdcbench sweep index"},
		{"no schema", `{"fields": []}`, "schema_version 0"},
		{"newer schema", `{"schema_version": 2}`, "schema_version 2"},
		{"values short of the fields", `{"schema_version": 1, "fields": ["rate", "batch_size"], "cells": [{"index": 1, "values": ["1"]}]}`, "cell 1 has 1 values for 2 fields"},
		{"a dir outside", `{"schema_version": 1, "fields": ["rate"], "cells": [{"index": 1, "values": ["1"], "dir": "../elsewhere"}]}`, `cell 1's dir "../elsewhere" is not inside`},
		{"an absolute dir", `{"schema_version": 1, "fields": ["rate"], "cells": [{"index": 1, "values": ["1"], "dir": "/etc"}]}`, `cell 1's dir "/etc" is not inside`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, SweepFile), []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadSweep(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadSweep error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ReadSweep(t.TempDir()); err == nil {
		t.Error("ReadSweep of a directory without sweep.json succeeded")
	}
}

func TestHeadlineOf(t *testing.T) {
	t.Parallel()
	p := Path{Name: "cdc", Agents: []AgentResult{
		{Name: "outlier", E2E: recorder.Summary{Count: 10, P50: 3, P99: 20}},
		{Name: "velocity", E2E: recorder.Summary{Count: 10, P50: 4, P99: 12}},
		{Name: "mine", E2E: recorder.Summary{}}, // measured nothing: not 0 ms
	}}
	if got, want := HeadlineOf(p), (Headline{Path: "cdc", P50Ms: 4, P99Ms: 20}); got != want {
		t.Errorf("HeadlineOf = %+v, want %+v", got, want)
	}
}
