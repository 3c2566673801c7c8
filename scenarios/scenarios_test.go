package scenarios_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/connectorkeys"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/scenarios"
)

func TestBuiltinsParseAndValidate(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files beside the package: %v", err)
	}
	list := scenarios.List()
	if len(list) != len(files) {
		t.Fatalf("List() has %d scenarios, the directory %d files", len(list), len(files))
	}
	for i, file := range files {
		name := strings.TrimSuffix(file, ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), "# ") {
				t.Errorf("%s does not open with a comment saying which question it answers", file)
			}
			if !strings.Contains(string(data), "unit: rows/s") && !strings.Contains(string(data), "unit: batches/s") {
				t.Errorf("%s does not state its rate unit", file)
			}
			s, err := scenarios.Builtin(name)
			if err != nil {
				t.Fatalf("Builtin(%q): %v", name, err)
			}
			if s.Name != name {
				t.Errorf("name %q, file %s: they must agree so that `cdcbench run %s` finds it", s.Name, file, s.Name)
			}
			if errs := s.Validate(); len(errs) != 0 {
				t.Errorf("Validate() = %v", errs)
			}
			if !reflect.DeepEqual(list[i], s) { // Glob and List both sort by name
				t.Errorf("List()[%d] = %q, Builtin(%q) differs", i, list[i].Name, name)
			}
		})
	}
}

func TestBuiltinIntent(t *testing.T) {
	t.Parallel()
	get := func(name string) scenarios.Spec {
		t.Helper()
		s, err := scenarios.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("smoke is short and has frauds to alert on", func(t *testing.T) {
		s := get("smoke")
		// Even if the paths ran one after the other, the schedule fits in 20 s.
		if total := s.Total() * time.Duration(len(s.Paths)); total >= 20*time.Second {
			t.Errorf("schedule x paths = %v, want under 20s", total)
		}
		if !reflect.DeepEqual(s.Paths, []string{"cdc", "poll-100ms"}) {
			t.Errorf("paths %v, want both kinds", s.Paths)
		}
		// Each fraud pattern starts with probability FraudRate per row.
		rows := s.Schedule().Cumulative(s.Total()) * float64(s.BatchSize)
		if frauds := rows * s.FraudRate; frauds < 20 {
			t.Errorf("about %.0f fraud patterns in the run, want at least 20", frauds)
		}
	})
	t.Run("burst peaks five-fold at the end of each period", func(t *testing.T) {
		s := get("burst")
		for _, c := range []struct {
			at      time.Duration
			batches float64
		}{
			{0, 20}, {7999 * time.Millisecond, 20}, {8 * time.Second, 100}, {9999 * time.Millisecond, 100},
			{10 * time.Second, 20}, {38 * time.Second, 100}, {44 * time.Second, 20}, {45 * time.Second, 0},
		} {
			if got := s.Schedule().Rate(c.at); got != c.batches {
				t.Errorf("Rate(%v) = %v batches/s, want %v", c.at, got, c.batches)
			}
			if got := s.TargetRowsPerSecond(c.at); got != c.batches*50 {
				t.Errorf("TargetRowsPerSecond(%v) = %v, want %v", c.at, got, c.batches*50)
			}
		}
	})
	t.Run("ramp climbs from 500 to 20,000 rows/s over the whole schedule", func(t *testing.T) {
		s := get("ramp")
		if s.Total() != 120*time.Second {
			t.Errorf("schedule lasts %v, want 120s", s.Total())
		}
		if got := s.TargetRowsPerSecond(0); got != 500 {
			t.Errorf("start %v rows/s, want 500", got)
		}
		if got := s.TargetRowsPerSecond(60 * time.Second); math.Abs(got-10250) > 1e-6 {
			t.Errorf("middle %v rows/s, want 10250", got)
		}
	})
}

// TestRowsConvertByBatchSize checks that rows/s and batches/s name the same
// load and that the arrivals follow it.
func TestRowsConvertByBatchSize(t *testing.T) {
	t.Parallel()
	const head = "name: t\ndescription: conversion\nduration: 10s\nbatch_size: 40\n"
	for _, tc := range []struct {
		name, rate string
		batches    float64
	}{
		{"rows", "rate: {shape: constant, unit: rows/s, rate: 1000}\n", 25},
		{"batches", "rate: {shape: constant, unit: batches/s, rate: 25}\n", 25},
		{"rows step", "rate: {shape: step, unit: rows/s, stages: [{rate: 400, duration: 4s}, {rate: 2000, duration: 6s}]}\n", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenarios.Parse("t.yaml", []byte(head+tc.rate))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Schedule().Rate(time.Second); got != tc.batches {
				t.Errorf("Rate(1s) = %v batches/s, want %v", got, tc.batches)
			}
			if got := s.TargetRowsPerSecond(time.Second); got != tc.batches*40 {
				t.Errorf("TargetRowsPerSecond(1s) = %v, want %v", got, tc.batches*40)
			}
			a, n := s.Arrivals(), 0
			for _, ok := a.Next(); ok; _, ok = a.Next() {
				n++
			}
			if want := int(math.Ceil(s.Schedule().Cumulative(s.Total()))); n != want {
				t.Errorf("%d batches, want %d", n, want)
			}
		})
	}
}

func TestScheduleShapes(t *testing.T) {
	t.Parallel()
	const head = "name: t\ndescription: shapes\nwarmup: 2s\nduration: 8s\nbatch_size: 10\n"
	for _, tc := range []struct {
		name, rate string
		want       schedule.Schedule
	}{
		{"constant", "rate: {shape: constant, unit: batches/s, rate: 5}", schedule.Constant{PerSecond: 5, Length: 10 * time.Second}},
		{"burst", "rate: {shape: burst, unit: rows/s, base: 100, peak: 300, period: 5s, length: 1s}",
			schedule.Burst{Base: 10, Peak: 30, Period: 5 * time.Second, Length: time.Second, Total: 10 * time.Second}},
		{"ramp", "rate: {shape: ramp, unit: rows/s, from: 0, to: 1000}", schedule.Ramp{From: 0, To: 100, Length: 10 * time.Second}},
		{"step", "rate: {shape: step, unit: batches/s, stages: [{rate: 1, duration: 2s}, {rate: 0, duration: 3s}, {rate: 4, duration: 5s}]}",
			schedule.Step{Stages: []schedule.Stage{{Rate: 1, Length: 2 * time.Second}, {Rate: 0, Length: 3 * time.Second}, {Rate: 4, Length: 5 * time.Second}}}},
		{"sine", "rate: {shape: sine, unit: rows/s, mean: 100, amplitude: 50, period: 4s, arrivals: poisson}",
			schedule.Sine{Mean: 10, Amplitude: 5, Period: 4 * time.Second, Length: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenarios.Parse("t.yaml", []byte(head+tc.rate+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Schedule(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Schedule() = %#v, want %#v", got, tc.want)
			}
		})
	}
}

// valid is a scenario file with one field per line, for the error cases
// to break; line numbers in the cases refer to it.
const valid = `# test
name: t
batch_size: 50
description: a test
warmup: 1s
duration: 5s
rate:
  shape: constant
  unit: batches/s
  rate: 20
paths: [cdc, poll-100ms]
`

// edit replaces old (which must occur in valid) with new.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(valid, old) {
		t.Fatalf("%q not in the valid file", old)
	}
	return strings.Replace(valid, old, new, 1)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	if _, err := scenarios.Parse("t.yaml", []byte(valid)); err != nil {
		t.Fatalf("the valid file does not parse: %v", err)
	}
	for _, tc := range []struct {
		name     string
		old, new string
		want     []string // substrings of the message
		is       error
	}{
		{"unknown field", "batch_size: 50", "bach_size: 50",
			[]string{`t.yaml:3: unknown field "bach_size"`, `did you mean "batch_size"`}, scenarios.ErrUnknownField},
		{"unknown nested field", "  rate: 20", "  rat: 20",
			[]string{`t.yaml:10: unknown field "rate.rat"`, `did you mean "rate.rate"`}, scenarios.ErrUnknownField},
		// A block mapping starts where its first key does: the decoder's
		// position is the key's and the mapping's.
		{"unknown first field of a mapping", "  shape: constant", "  shap: constant",
			[]string{`t.yaml:8: unknown field "rate.shap" (did you mean "rate.shape"?)`}, scenarios.ErrUnknownField},
		{"a mapping for a number", "batch_size: 50", "batch_size:\n  fifty: 50",
			[]string{`t.yaml:4: batch_size: want an integer, got a mapping`}, nil},
		{"a list as a key", "[cdc, poll-100ms]", "[debezium]\nsettings:\n  [debezium]: {poll.interval.ms: 10}",
			[]string{`t.yaml:13: settings: want a name as the key, got a list`}, nil},
		{"a fault's field misspelt", "name: t", "name: t\nfaults:\n  - {kind: lock-table, at: 1s, duration: 1s, agnet: outlier}",
			[]string{`t.yaml:4: unknown field "faults[0].agnet" (did you mean "faults[0].agent"?)`}, scenarios.ErrUnknownField},
		// The local stack's cluster: bounded to what one machine runs, and
		// its faults need the nodes that survive them.
		{"too many brokers", "name: t", "name: t\nstack: {brokers: 9}",
			[]string{`stack.brokers: must be within 1..5, got 9`}, nil},
		{"too many workers", "name: t", "name: t\nstack: {connect_workers: 4}",
			[]string{`stack.connect_workers: must be within 1..3, got 4`}, nil},
		{"kill-broker on one broker", "name: t", "name: t\nfaults:\n  - {kind: kill-broker, at: 1s, duration: 1s}",
			[]string{`faults[0].kind: kill-broker needs stack.brokers of at least 3`, "got 1"}, nil},
		{"pause-broker on two brokers", "name: t", "name: t\nstack: {brokers: 2}\nfaults:\n  - {kind: pause-broker, at: 1s, duration: 1s}",
			[]string{`faults[0].kind: pause-broker needs stack.brokers of at least 3`, "got 2"}, nil},
		{"kill-connect-worker on one worker", "name: t", "name: t\nstack: {brokers: 3}\nfaults:\n  - {kind: kill-connect-worker, at: 1s, duration: 1s}",
			[]string{`faults[0].kind: kill-connect-worker needs stack.connect_workers of at least 2`}, nil},
		{"a rebalance delay without a group", "name: t", "name: t\nstack: {rebalance_delay: 10s}",
			[]string{`stack.rebalance_delay: only a group of several workers rebalances`}, nil},
		{"wrong type", "batch_size: 50", `batch_size: "fifty"`,
			[]string{`t.yaml:3: batch_size: want an integer, got a string "fifty"`}, nil},
		{"rate not a mapping", "rate:\n  shape: constant\n  unit: batches/s\n  rate: 20", "rate: 20",
			[]string{`t.yaml:7: rate: want a mapping of fields, got an integer "20"`}, nil},
		{"duration without unit", "duration: 5s", "duration: 5",
			[]string{`t.yaml:6: duration: want a duration with a unit such as "60s"`}, nil},
		{"duration malformed", "warmup: 1s", "warmup: one second",
			[]string{`t.yaml:5: warmup: want a duration`, `"one second"`}, nil},
		{"negative rate", "rate: 20", "rate: -20",
			[]string{`t.yaml:10: rate.rate: must be a finite number >= 0, got -20`}, nil},
		{"zero rate", "rate: 20", "rate: 0",
			[]string{`t.yaml:10: rate.rate: must be positive`}, nil},
		// A rate that cannot make one batch per second may produce
		// nothing in the window: refused, not run as an empty valid run.
		{"less than a batch per second", "  rate: 20", "  rate: 0.5",
			[]string{`t.yaml:7: rate: offers 0.50 batches/s in the measured window (25 rows/s in batches of 50); at least 1 batch/s is needed`}, nil},
		{"rows/s below one batch per second", "  unit: batches/s\n  rate: 20", "  unit: rows/s\n  rate: 40",
			[]string{`t.yaml:7: rate: offers 0.80 batches/s`}, nil},
		// 1 batch/s, but seed 1's Poisson arrivals leave the one second
		// empty: the run would measure nothing.
		{"a seeded window without a batch", "warmup: 1s\nduration: 5s\nrate:\n  shape: constant\n  unit: batches/s\n  rate: 20",
			"warmup: 0s\nduration: 1s\nseed: 1\nrate:\n  shape: constant\n  unit: batches/s\n  arrivals: poisson\n  rate: 1",
			[]string{`t.yaml:8: rate: the schedule of seed 1 puts no batch in the measured window (1s from 0s)`}, nil},
		{"batch size 0", "batch_size: 50", "batch_size: 0",
			[]string{`t.yaml:3: batch_size: must be at least 1, got 0`}, nil},
		{"batch size missing", "batch_size: 50\n", "",
			[]string{`t.yaml: batch_size: must be at least 1, got 0`}, nil},
		{"warmup longer than duration", "warmup: 1s", "warmup: 6s",
			[]string{`t.yaml:5: warmup: must not be longer than duration (5s), got 6s`}, nil},
		{"bad path", "[cdc, poll-100ms]", "[cdc, poll-fast]",
			[]string{`t.yaml:11: paths[1]: want "cdc", "debezium", "debezium-<label>"`, `"poll-fast"`}, driver.ErrPath},
		{"setting misspelt", "[cdc, poll-100ms]", "[cdc, debezium-tuned]\nsettings:\n  debezium-tuned:\n    pol.interval.ms: 10",
			[]string{`t.yaml:14: settings.debezium-tuned.pol.interval.ms: unknown setting "pol.interval.ms" (did you mean "poll.interval.ms"?)`}, connectorkeys.ErrUnknown},
		{"producer setting without its prefix", "[cdc, poll-100ms]", "[debezium]\nsettings:\n  debezium: {linger.ms: 0}",
			[]string{`settings.debezium.linger.ms: unknown setting "linger.ms": a producer setting is written "producer.override.linger.ms"`}, connectorkeys.ErrUnknown},
		{"setting cdcbench owns", "[cdc, poll-100ms]", "[debezium]\nsettings:\n  debezium: {slot.name: mine}",
			[]string{`settings.debezium.slot.name: set by cdcbench: "slot.name" (each path gets a fresh slot`}, connectorkeys.ErrReserved},
		{"settings for a path not run", "[cdc, poll-100ms]", "[cdc, debezium]\nsettings:\n  debezum: {poll.interval.ms: 10}",
			[]string{`settings.debezum: names no path of this scenario (paths: "cdc", "debezium"); did you mean "debezium"?`}, nil},
		{"settings for the relay", "[cdc, poll-100ms]", "[cdc]\nsettings:\n  cdc: {poll.interval.ms: 10}",
			[]string{`settings.cdc: settings are for Debezium paths`}, nil},
		{"a setting without a value", "[cdc, poll-100ms]", "[debezium]\nsettings:\n  debezium: {poll.interval.ms: \"\"}",
			[]string{`settings.debezium.poll.interval.ms: has no value`}, nil},
		{"poll interval too short", "[cdc, poll-100ms]", "[poll-500us]",
			[]string{`t.yaml:11: paths[0]:`, "at least 1ms"}, driver.ErrPath},
		{"duplicate path", "[cdc, poll-100ms]", "[poll-1s, cdc, poll-1000ms]",
			[]string{`t.yaml:11: paths[2]: "poll-1000ms" repeats paths[0]`}, nil},
		{"a list inside paths", "[cdc, poll-100ms]", "[cdc, [poll-1s]]",
			[]string{`t.yaml:11: paths[1]: want a string, got a list`}, nil},
		{"two lists inside paths", "[cdc, poll-100ms]", "[[cdc], poll-1s, [poll-2s]]",
			[]string{`t.yaml:11: paths[0]: want a string, got a list`, `t.yaml:11: paths[2]: want a string, got a list`}, nil},
		{"no paths", "[cdc, poll-100ms]", "[]",
			[]string{`t.yaml:11: paths: at least one path`}, nil},
		{"unit missing", "  unit: batches/s\n", "",
			[]string{`t.yaml:7: rate.unit: required`, `"rows/s"`}, nil},
		{"unknown unit", "unit: batches/s", "unit: rows/min",
			[]string{`t.yaml:9: rate.unit: must be one of`, `"rows/min"`}, nil},
		{"unknown shape", "shape: constant", "shape: square",
			[]string{`t.yaml:8: rate.shape: must be one of`, `"square"`}, nil},
		{"field of another shape", "  rate: 20", "  rate: 20\n  peak: 50",
			[]string{`t.yaml:11: rate.peak: not used by shape "constant"`}, nil},
		{"sine amplitude above mean", "  shape: constant\n  unit: batches/s\n  rate: 20",
			"  shape: sine\n  unit: batches/s\n  mean: 20\n  amplitude: 30\n  period: 2s",
			[]string{`t.yaml:11: rate.amplitude: must not exceed mean (20)`}, nil},
		{"step without stages", "  shape: constant\n  unit: batches/s\n  rate: 20", "  shape: step\n  unit: batches/s",
			[]string{`t.yaml:7: rate.stages: a step shape needs at least one stage`}, nil},
		{"step stages short of the schedule", "  shape: constant\n  unit: batches/s\n  rate: 20",
			"  shape: step\n  unit: batches/s\n  stages:\n    - {rate: 5, duration: 2s}\n    - {rate: 5, duration: 1s}",
			[]string{`t.yaml:10: rate.stages: stages last 3s in all; they must cover warmup + duration (6s)`}, nil},
		{"stage duration wrong in a flow mapping", "  shape: constant\n  unit: batches/s\n  rate: 20",
			"  shape: step\n  unit: batches/s\n  stages:\n    - {rate: 5, duration: six}",
			[]string{`t.yaml:11: rate.stages[0].duration: want a duration`, `"six"`}, nil},
		{"burst peak fills its period", "  shape: constant\n  unit: batches/s\n  rate: 20",
			"  shape: burst\n  unit: batches/s\n  base: 1\n  peak: 5\n  period: 1s\n  length: 1s",
			[]string{`t.yaml:13: rate.length: must be shorter than period (1s), got 1s`}, nil},
		{"unknown arrivals", "  rate: 20", "  rate: 20\n  arrivals: bursty",
			[]string{`t.yaml:11: rate.arrivals: must be one of "even", "poisson", got "bursty"`}, nil},
		{"fraud rate too high", "name: t", "name: t\nfraud_rate: 0.6",
			[]string{`t.yaml:3: fraud_rate: must be within [0, 0.5], got 0.6`}, nil},
		{"too many connections", "name: t", "name: t\nconnections: 65",
			[]string{`t.yaml:3: connections: must be within 1..64, got 65`}, nil},
		{"unknown insert", "name: t", "name: t\ninsert: upsert",
			[]string{`t.yaml:3: insert: must be one of "copy", "values", got "upsert"`}, nil},
		{"unknown poll mode", "name: t", "name: t\npoll: {mode: eager}",
			[]string{`t.yaml:3: poll.mode: must be one of "safe", "naive", got "eager"`}, nil},
		{"unknown outlier rule", "name: t", "name: t\noutlier:\n  rule: mean2x",
			[]string{`t.yaml:4: outlier.rule: must be one of "mean3x", "sigma3", got "mean2x"`}, nil},
		{"no partitions", "name: t", "name: t\npartitions: 0",
			[]string{`t.yaml:3: partitions: must be at least 1, got 0`}, nil},
		{"no users", "name: t", "name: t\nusers: 0",
			[]string{`t.yaml:3: users: must be within 1..`}, nil},
		{"threshold no score reaches", "name: t", "name: t\nvelocity: {threshold: 100}",
			[]string{`t.yaml:3: velocity.threshold: must be within 0..99`}, nil},
		{"description on two lines", "description: a test", "description: \"a\\ntest\"",
			[]string{`t.yaml:4: description: must be one line`}, nil},
		{"bad name", "name: t", "name: a/b",
			[]string{`t.yaml:2: name: may hold only`}, nil},
		{"syntax error", "paths: [cdc, poll-100ms]", "paths: [cdc, poll-100ms",
			[]string{`t.yaml:11: did not find expected ',' or ']' at the end of the file, while parsing a flow sequence that starts at line 11, column 8`}, nil},
		{"syntax error inside", "  unit: batches/s", " unit: batches/s",
			[]string{`t.yaml:9: did not find expected key at column 2, while parsing a block mapping that starts at line 2, column 1`}, nil},
		{"not a mapping", valid, "- a\n- b\n",
			[]string{`t.yaml:1: want a mapping of fields, got a list`}, nil},
		{"empty", valid, "",
			[]string{`t.yaml: empty scenario file`}, nil},
		{"two documents", valid, valid + "---\nname: u\n",
			[]string{`t.yaml:12: more than one YAML document`}, nil},
		{"two documents, the first wrong", valid, strings.Replace(valid, "batch_size: 50", "batch_size: fifty", 1) + "---\nname: u\n",
			[]string{`t.yaml:3: batch_size: want an integer, got a string "fifty"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse("t.yaml", []byte(edit(t, tc.old, tc.new)))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			var fe *scenarios.FieldError
			if !errors.As(err, &fe) || fe.File != "t.yaml" {
				t.Errorf("error %v is not a *FieldError of t.yaml", err)
			}
		})
	}
}

// TestParseReportsEverythingOnce checks that all problems show together,
// sorted by line, and that a value that failed to decode is not reported a
// second time by Validate.
func TestParseReportsEverythingOnce(t *testing.T) {
	t.Parallel()
	doc := strings.NewReplacer(
		"batch_size: 50", "batch_size: fifty",
		"warmup: 1s", "warmup: 9s",
		"[cdc, poll-100ms]", "[cdc, poll-fast]",
		"  unit: batches/s\n", "",
	).Replace(valid) + "colour: blue\n"
	_, err := scenarios.Parse("t.yaml", []byte(doc))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	want := []string{
		`t.yaml:3: batch_size: want an integer, got a string "fifty"`,
		`t.yaml:5: warmup: must not be longer than duration (5s), got 9s`,
		`t.yaml:7: rate.unit: required: one of "rows/s", "batches/s"`,
		`t.yaml:10: paths[1]: want "cdc", "debezium", "debezium-<label>" such as "debezium-tuned", "debezium-server", "debezium-server-<label>" such as "debezium-server-tuned", "flink-cdc", "flink-cdc-<label>" such as "flink-cdc-tuned", "poll-<interval>" such as "poll-100ms", or "spark-<interval>" such as "spark-1s", got "poll-fast": the interval is a Go duration such as 100ms or 1s`,
		`t.yaml:11: unknown field "colour"`,
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDuplicateKeys checks that a repeated key is reported once and that
// the mapping the decoder then skips draws no complaints about its leftovers.
func TestDuplicateKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"top level", "name: t", "name: t\nname: u",
			[]string{`t.yaml:3: duplicate field "name" (first at line 2)`}},
		{"nested", "  rate: 20", "  rate: 20\n  shape: ramp\nconnections: 0",
			[]string{
				`t.yaml:11: duplicate field "rate.shape" (first at line 8)`,
				`t.yaml:12: connections: must be within 1..64, got 0`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scenarios.Parse("t.yaml", []byte(edit(t, tc.old, tc.new)))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, err := scenarios.Parse("dir/minimal.yaml", []byte(edit(t, "name: t\n", "")))
	if err != nil {
		t.Fatal(err)
	}
	want := scenarios.Spec{
		Name: "minimal", Description: "a test",
		Duration: scenarios.Duration(5 * time.Second), Warmup: scenarios.Duration(time.Second),
		DrainTimeout: scenarios.Duration(30 * time.Second), BatchSize: 50,
		Rate:        scenarios.RateSpec{Shape: "constant", Unit: "batches/s", Arrivals: "even", Rate: 20},
		Connections: 1, Insert: "copy", Users: 9000, FraudRate: 0.002,
		Paths:      []string{"cdc", "poll-100ms"},
		Poll:       scenarios.PollSpec{Mode: "safe", Limit: 10000},
		Partitions: 1, Key: "id", AgentInstances: 1,
		Outlier: scenarios.OutlierSpec{Rule: "mean3x", History: 50, MinHistory: 3, Factor: 3, MinAmount: 500},
		Velocity: scenarios.VelocitySpec{
			Window: scenarios.Duration(time.Minute), MaxCount: 5, HighAmount: 4000, Threshold: 70},
		Objective:         scenarios.ObjectiveSpec{P99: scenarios.Duration(250 * time.Millisecond)},
		ScheduleTolerance: scenarios.Duration(time.Second),
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse gave\n%+v\nwant\n%+v", s, want)
	}
	var zero scenarios.Spec
	zero.ApplyDefaults()
	zero.Name, zero.Description, zero.Duration, zero.Warmup, zero.BatchSize = want.Name, want.Description, want.Duration, want.Warmup, want.BatchSize
	zero.Rate.Shape, zero.Rate.Unit, zero.Rate.Rate = "constant", "batches/s", 20
	if !reflect.DeepEqual(zero, want) {
		t.Errorf("ApplyDefaults gave\n%+v\nwant\n%+v", zero, want)
	}
	if got, want := s.Outlier.MinAmountCents(), int64(50000); got != want {
		t.Errorf("MinAmountCents() = %d, want %d", got, want)
	}
	if got, want := s.Velocity.HighAmountCents(), int64(400000); got != want {
		t.Errorf("HighAmountCents() = %d, want %d", got, want)
	}

	t.Run("explicit zeros in a file are kept", func(t *testing.T) {
		s, err := scenarios.Parse("t.yaml", []byte(valid+"fraud_rate: 0\nvelocity: {max_count: 0, threshold: 0}\noutlier: {min_amount: 0}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if s.FraudRate != 0 || s.Velocity.MaxCount != 0 || s.Velocity.Threshold != 0 || s.Outlier.MinAmount != 0 {
			t.Errorf("explicit zeros replaced by defaults: %+v %+v %+v", s.FraudRate, s.Velocity, s.Outlier)
		}
		if s.Velocity.HighAmount != 4000 || s.Outlier.History != 50 {
			t.Errorf("fields not in the file lost their defaults: %+v %+v", s.Velocity, s.Outlier)
		}
	})
}

// TestValidateNamesFields checks Validate on a Spec built in Go: no file, no
// line, but every field named.
func TestValidateNamesFields(t *testing.T) {
	t.Parallel()
	var s scenarios.Spec
	s.ApplyDefaults()
	var fields []string
	for _, err := range s.Validate() {
		var fe *scenarios.FieldError
		if !errors.As(err, &fe) || fe.File != "" || fe.Line != 0 {
			t.Fatalf("%v is not a bare *FieldError", err)
		}
		if !strings.HasPrefix(err.Error(), fe.Field+": ") {
			t.Errorf("%q does not start with its field", err)
		}
		fields = append(fields, fe.Field)
	}
	want := []string{"name", "description", "duration", "batch_size", "rate.unit", "rate.shape"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("invalid fields %v, want %v", fields, want)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	specs := scenarios.List()
	extra, err := scenarios.Parse("extra.yaml", []byte(`name: extra
description: every shape field and odd durations
warmup: 1500ms
duration: 1h0m30s
batch_size: 7
seed: 18446744073709551615
rate:
  shape: step
  unit: rows/s
  arrivals: poisson
  stages: [{rate: 70, duration: 1s}, {rate: 0, duration: 500ms}, {rate: 7.5, duration: 1h0m30s}]
paths: [poll-1m30s, cdc, poll-2ms]
fraud_rate: 0
agent_delay: 3ms
outlier: {rule: sigma3, factor: 2.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(specs, extra) {
		t.Run(s.Name, func(t *testing.T) {
			out, err := s.YAML()
			if err != nil {
				t.Fatal(err)
			}
			back, err := scenarios.Parse(s.Name+".yaml", out)
			if err != nil {
				t.Fatalf("YAML() output does not parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, s) {
				t.Errorf("round trip changed the spec:\n%+v\n%+v\n%s", s, back, out)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {150 * time.Millisecond, "150ms"}, {time.Minute, "1m"}, {90 * time.Second, "1m30s"},
		{time.Hour, "1h"}, {time.Hour + 30*time.Second, "1h0m30s"}, {time.Hour + time.Minute, "1h1m"},
		{2*time.Minute + 500*time.Millisecond, "2m0.5s"},
	} {
		got := scenarios.Duration(tc.d).String()
		if got != tc.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.d {
			t.Errorf("%q parses back to %v, %v", got, back, err)
		}
	}
}

// TestParsedPaths: a scenario's paths parse against the registered kinds.
func TestParsedPaths(t *testing.T) {
	t.Parallel()
	s, err := scenarios.Builtin("smoke")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := s.ParsedPaths()
	if err != nil || len(paths) != 2 || paths[1] != (driver.Path{Kind: "poll", Param: "100ms"}) {
		t.Errorf("ParsedPaths() = %v, %v", paths, err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(file, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, arg, wantName string
		is                  error
	}{
		{"built-in", "steady", "steady", nil},
		{"file", file, "t", nil},
		{"missing file", filepath.Join(dir, "nope.yaml"), "", os.ErrNotExist},
		{"yaml suffix is a file", "steady.yaml.yaml", "", os.ErrNotExist},
		{"unknown name", "stead", "", scenarios.ErrUnknownScenario},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scenarios.Resolve(tc.arg)
			if tc.is != nil {
				if !errors.Is(err, tc.is) {
					t.Fatalf("Resolve(%q) error %v, want %v", tc.arg, err, tc.is)
				}
				return
			}
			if err != nil || s.Name != tc.wantName {
				t.Fatalf("Resolve(%q) = %q, %v; want %q", tc.arg, s.Name, err, tc.wantName)
			}
		})
	}
	_, err := scenarios.Builtin("brust")
	if err == nil || !strings.Contains(err.Error(), `unknown scenario "brust" (did you mean "burst"?)`) {
		t.Errorf("Builtin error %v does not suggest burst", err)
	}
	_, err = scenarios.Builtin("stead")
	// Every built-in by name, in order: the directory's files.
	files, _ := filepath.Glob("*.yaml")
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(f, ".yaml"))
	}
	if err == nil || len(names) < 10 || !strings.Contains(err.Error(), strings.Join(names, ", ")) {
		t.Errorf("Builtin error %v does not list the built-ins", err)
	}
}

// TestReadme keeps the user reference honest: its example parses, and it
// documents every field a file can hold.
func TestReadme(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	_, after, ok := strings.Cut(readme, "```yaml\n")
	example, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal("README has no yaml example")
	}
	if _, err := scenarios.Parse("README.md example", []byte(example)); err != nil {
		t.Errorf("the README example does not parse: %v", err)
	}
	var fields func(prefix string, typ reflect.Type)
	fields = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(scenarios.RateSpec{}) {
				fields(prefix+name+".", f.Type) // poll.mode, not poll
				continue
			}
			documented := strings.Contains(readme, "`"+prefix+name+"`")
			if prefix == "rate." { // the shape table names them bare: `base`, `stages: [...]`
				documented = documented || strings.Contains(readme, "`"+name)
			}
			if !documented {
				t.Errorf("README does not document %q", prefix+name)
			}
			if f.Type == reflect.TypeOf(scenarios.RateSpec{}) {
				fields("rate.", f.Type)
			}
		}
	}
	fields("", reflect.TypeOf(scenarios.Spec{}))
}

// TestFileSizeLimit refuses files above MaxFileBytes before parsing them,
// naming the limit, and reads no more than the limit of a huge one.
func TestFileSizeLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	padded := func(size int) []byte { // valid, then a comment up to size bytes
		b := []byte(valid + "\n#")
		return append(b, strings.Repeat("x", size-len(b))...)
	}
	for _, tc := range []struct {
		name  string
		write func(path string) error
		is    error
	}{
		{"at the limit", func(p string) error { return os.WriteFile(p, padded(scenarios.MaxFileBytes), 0o644) }, nil},
		{"one byte over", func(p string) error { return os.WriteFile(p, padded(scenarios.MaxFileBytes+1), 0o644) }, scenarios.ErrTooLarge},
		{"a 1 GB description", func(p string) error {
			// Sparse: a gigabyte on paper, nothing on disk.
			if err := os.WriteFile(p, []byte("description: x"), 0o644); err != nil {
				return err
			}
			return os.Truncate(p, 1<<30)
		}, scenarios.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := tc.write(path); err != nil {
				t.Fatal(err)
			}
			_, err := scenarios.Resolve(path)
			if tc.is == nil {
				if err != nil {
					t.Fatalf("Resolve = %v, want it parsed", err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), "1048576 bytes (1 MiB)") || !strings.HasPrefix(err.Error(), path+": ") {
				t.Fatalf("Resolve = %v, want %v naming the file and the limit", err, tc.is)
			}
		})
	}
	if _, err := scenarios.Parse("big.yaml", padded(scenarios.MaxFileBytes+1)); !errors.Is(err, scenarios.ErrTooLarge) {
		t.Errorf("Parse of %d bytes = %v, want ErrTooLarge", scenarios.MaxFileBytes+1, err)
	}
}

// TestAliasErrorsOnce: an alias repeats its anchor's bad value, and the
// file's error says so once, at the right index, without contradicting
// itself.
func TestAliasErrorsOnce(t *testing.T) {
	t.Parallel()
	data := strings.Replace(valid, "[cdc, poll-100ms]", "[&x [cdc], *x, *x, *x, *x, *x, *x, *x, *x]", 1)
	_, err := scenarios.Parse("t.yaml", []byte(data))
	if err == nil {
		t.Fatal("parsed")
	}
	msg := err.Error()
	if n := strings.Count(msg, "want a string"); n != 1 || !strings.Contains(msg, "t.yaml:11: paths[0]: want a string, got a list") {
		t.Errorf("%d messages about the alias, want 1 about paths[0]:\n%s", n, msg)
	}
}

// TestLimits: a rate or a length no run can mean is refused, naming the
// limit and the override, and the override lets it through.
func TestLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, field string
	}{
		{"rate", "rate: {shape: constant, unit: rows/s, rate: 1e12}\nbatch_size: 50\nduration: 5s", "rate"},
		{"batches", "rate: {shape: burst, unit: batches/s, base: 10, peak: 50000, period: 10s, length: 1s}\nbatch_size: 50\nduration: 5s", "rate"},
		{"sine peak", "rate: {shape: sine, unit: rows/s, mean: 1500000, amplitude: 600000, period: 10s}\nbatch_size: 50\nduration: 5s", "rate"},
		{"duration", "rate: {shape: constant, unit: rows/s, rate: 1000}\nbatch_size: 50\nduration: 100000h", "duration"},
		// Lifting the limits must not lift the need to finish: arrivals
		// nanoseconds apart, drawn up to the window, never ended.
		{"rate 1e308", "rate: {shape: constant, unit: rows/s, rate: 1e308, arrivals: poisson}\nbatch_size: 50\nduration: 5s", "rate"},
		{"a warm-up at 1e15, a window at 5 rows/s", "rate: {shape: step, unit: rows/s, stages: [{rate: 1e15, duration: 1s}, {rate: 5, duration: 5s}]}\nbatch_size: 1\nwarmup: 1s\nduration: 5s", "rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := "name: t\ndescription: limits\n" + tc.body + "\n"
			_, err := scenarios.Parse("t.yaml", []byte(body))
			if err == nil || !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), "no_limits") {
				t.Fatalf("Parse = %v, want a %s error naming the limit's override", err, tc.field)
			}
			done := make(chan error, 1)
			go func() {
				_, err := scenarios.Parse("t.yaml", []byte(body+"no_limits: true\n"))
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("with no_limits: %v", err)
				}
			case <-time.After(time.Minute): // a spin, not a slow answer
				t.Fatal("validation with no_limits still running after a minute")
			}
		})
	}
}

// TestDeepNestingShortMessage: a value nested thousands of levels deep is
// reported in a line, at the element that should have been a string (the
// decoder's column says which), not in a path of kilobytes.
func TestDeepNestingShortMessage(t *testing.T) {
	t.Parallel()
	data := strings.Replace(valid, "[cdc, poll-100ms]", strings.Repeat("[", 5000)+strings.Repeat("]", 5000), 1)
	_, err := scenarios.Parse("t.yaml", []byte(data))
	if err == nil {
		t.Fatal("parsed")
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if len(err.Error()) > 1000 || first != "t.yaml:11: paths[0]: want a string, got a list" {
		t.Errorf("%d bytes; first line %q", len(err.Error()), first)
	}
}
