package scenarios_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/scenarios"
)

// sweepBase is a valid scenario to append a sweep to: rows/s, so that rate
// and batch_size interact, and two Debezium paths for settings.
const sweepBase = `name: s
description: a sweep
warmup: 1s
duration: 5s
batch_size: 10
rate:
  shape: constant
  unit: rows/s
  rate: 1000
paths: [cdc, debezium, debezium-tuned]
settings:
  debezium: {poll.interval.ms: "500", max.batch.size: "2048"}
`

func parseSweep(t *testing.T, sweep string) (scenarios.Spec, error) {
	t.Helper()
	return scenarios.Parse("t.yaml", []byte(sweepBase+sweep))
}

func TestSweepCells(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sweep  string
		labels []string
		check  func(t *testing.T, cells []scenarios.Cell)
	}{
		{
			name:   "cartesian product, the first field slowest",
			sweep:  "sweep:\n  - {field: rate, values: [1000, 5000]}\n  - {field: batch_size, values: [10, 50, 100]}\n",
			labels: []string{"rate=1000, batch_size=10", "rate=1000, batch_size=50", "rate=1000, batch_size=100", "rate=5000, batch_size=10", "rate=5000, batch_size=50", "rate=5000, batch_size=100"},
			check: func(t *testing.T, cells []scenarios.Cell) {
				if c := cells[4]; c.Index != 5 || c.Spec.Rate.Rate != 5000 || c.Spec.BatchSize != 50 {
					t.Errorf("cell 5: index %d, rate %v, batch_size %d", c.Index, c.Spec.Rate.Rate, c.Spec.BatchSize)
				}
			},
		},
		{
			name:   "integers and durations",
			sweep:  "sweep:\n  - {field: connections, values: [1, 4]}\n  - {field: partitions, values: [3]}\n  - {field: duration, values: [5s, 1m]}\n",
			labels: []string{"connections=1, partitions=3, duration=5s", "connections=1, partitions=3, duration=1m", "connections=4, partitions=3, duration=5s", "connections=4, partitions=3, duration=1m"},
			check: func(t *testing.T, cells []scenarios.Cell) {
				if c := cells[3].Spec; c.Connections != 4 || c.Partitions != 3 || c.Duration != scenarios.Duration(time.Minute) || c.Warmup != scenarios.Duration(time.Second) {
					t.Errorf("cell 4: %d connections, %d partitions, duration %v, warmup %v", c.Connections, c.Partitions, c.Duration, c.Warmup)
				}
			},
		},
		{
			name:   "settings: set, replaced, and default removes the key",
			sweep:  "sweep:\n  - {field: settings.debezium.poll.interval.ms, values: [default, \"10\"]}\n  - {field: settings.debezium-tuned.producer.override.linger.ms, values: [5]}\n",
			labels: []string{"settings.debezium.poll.interval.ms=default, settings.debezium-tuned.producer.override.linger.ms=5", "settings.debezium.poll.interval.ms=10, settings.debezium-tuned.producer.override.linger.ms=5"},
			check: func(t *testing.T, cells []scenarios.Cell) {
				want := []map[string]map[string]string{
					{"debezium": {"max.batch.size": "2048"}, "debezium-tuned": {"producer.override.linger.ms": "5"}},
					{"debezium": {"max.batch.size": "2048", "poll.interval.ms": "10"}, "debezium-tuned": {"producer.override.linger.ms": "5"}},
				}
				for i, c := range cells {
					if !reflect.DeepEqual(c.Spec.Settings, want[i]) {
						t.Errorf("cell %d settings %v, want %v", c.Index, c.Spec.Settings, want[i])
					}
				}
				// Each cell owns its maps.
				cells[0].Spec.Settings["debezium"]["max.batch.size"] = "1"
				if got := cells[1].Spec.Settings["debezium"]["max.batch.size"]; got != "2048" {
					t.Errorf("cells share their settings: cell 2 sees %q", got)
				}
			},
		},
		{
			name:   "the longest path that fits names the setting",
			sweep:  "sweep:\n  - {field: settings.debezium-tuned.poll.interval.ms, values: [\"1\"]}\n",
			labels: []string{"settings.debezium-tuned.poll.interval.ms=1"},
			check: func(t *testing.T, cells []scenarios.Cell) {
				if got := cells[0].Spec.Settings["debezium-tuned"]["poll.interval.ms"]; got != "1" {
					t.Errorf("settings %v", cells[0].Spec.Settings)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSweep(t, tc.sweep)
			if err != nil {
				t.Fatal(err)
			}
			cells, err := s.Cells()
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, c := range cells {
				labels = append(labels, c.Label())
				if c.Spec.Name != s.Name || c.Spec.Sweep != nil {
					t.Errorf("cell %d: name %q, sweep %v; want the scenario's name and no sweep", c.Index, c.Spec.Name, c.Spec.Sweep)
				}
				if errs := c.Spec.Validate(); len(errs) > 0 {
					t.Errorf("cell %d is invalid: %v", c.Index, errs)
				}
			}
			if !reflect.DeepEqual(labels, tc.labels) {
				t.Errorf("labels\n%q\nwant\n%q", labels, tc.labels)
			}
			tc.check(t, cells)
			// The scenario itself is untouched.
			if want := map[string]string{"poll.interval.ms": "500", "max.batch.size": "2048"}; !reflect.DeepEqual(s.Settings["debezium"], want) || len(s.Settings) != 1 {
				t.Errorf("the scenario's settings changed: %v", s.Settings)
			}
		})
	}
	t.Run("no sweep, no cells", func(t *testing.T) {
		s, err := parseSweep(t, "")
		if err != nil {
			t.Fatal(err)
		}
		if cells, err := s.Cells(); cells != nil || err != nil {
			t.Errorf("Cells() = %v, %v", cells, err)
		}
	})
	t.Run("an invalid spec has no cells", func(t *testing.T) {
		s, err := parseSweep(t, "sweep:\n  - {field: batch_size, values: [10]}\n")
		if err != nil {
			t.Fatal(err)
		}
		s.Sweep[0].Values = []string{"0"} // as a flag or Go code could
		if _, err := s.Cells(); err == nil || !strings.Contains(err.Error(), "cell 1 (batch_size=0): batch_size: must be at least 1") {
			t.Errorf("Cells() error %v", err)
		}
	})
}

func TestCellSlug(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		values []scenarios.FieldValue
		want   string
	}{
		{[]scenarios.FieldValue{{"rate", "5000"}, {"batch_size", "10"}}, "rate-5000_batch_size-10"},
		{[]scenarios.FieldValue{{"settings.debezium.poll.interval.ms", "default"}}, "poll.interval.ms-default"},
		{[]scenarios.FieldValue{{"settings.debezium.x", "a b/c"}}, "x-a-b-c"},
		{[]scenarios.FieldValue{{"duration", "1m"}, {"settings.debezium.k", strings.Repeat("é", 100)}}, "duration-1m_k-" + strings.Repeat("-", 46)},
	} {
		if got := (scenarios.Cell{Values: tc.values}).Slug(); got != tc.want {
			t.Errorf("Slug(%v) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func TestSweepParseErrors(t *testing.T) {
	t.Parallel()
	many := func(field string, n int) string {
		v := make([]string, n)
		for i := range v {
			v[i] = fmt.Sprint(i + 1)
		}
		return fmt.Sprintf("  - {field: %s, values: [%s]}\n", field, strings.Join(v, ", "))
	}
	// The sweep's first line is 13, its first item's 14.
	for _, tc := range []struct {
		name  string
		sweep string
		want  []string
		is    error
	}{
		{"unknown field", "sweep:\n  - {field: bach_size, values: [1]}\n",
			[]string{`t.yaml:14: sweep[0].field: unknown field "bach_size" (did you mean "batch_size"?)`}, scenarios.ErrUnknownField},
		{"unknown field without a guess", "sweep:\n  - field: users\n    values: [1]\n",
			[]string{`t.yaml:14: sweep[0].field: unknown field "users": a sweep varies rate, batch_size, connections, partitions, duration, settings.<path>.<key>`}, scenarios.ErrUnknownField},
		{"settings misspelt", "sweep:\n  - {field: setings.debezium.poll.interval.ms, values: [1]}\n",
			[]string{`t.yaml:14: sweep[0].field: unknown field "setings.debezium.poll.interval.ms" (did you mean "settings.debezium.poll.interval.ms"?)`}, scenarios.ErrUnknownField},
		{"a key misspelt", "sweep:\n  - {feild: rate, values: [1]}\n",
			[]string{`t.yaml:14: unknown field "sweep[0].feild" (did you mean "sweep[0].field"?)`, `t.yaml:14: sweep[0].field: required`}, scenarios.ErrUnknownField},
		{"a path not in paths", "sweep:\n  - {field: settings.debezum.poll.interval.ms, values: [1]}\n",
			[]string{`t.yaml:14: sweep[0].field: settings.debezum.poll.interval.ms: path "debezum" is not one of paths [cdc, debezium, debezium-tuned] (did you mean "debezium"?)`}, nil},
		{"a setting without a key", "sweep:\n  - {field: settings.debezium., values: [1]}\n",
			[]string{`t.yaml:14: sweep[0].field: settings.debezium.: want settings.<path>.<key>`}, nil},
		{"rate of another shape", "sweep:\n  - {field: rate, values: [1]}\n",
			[]string{`sweep[0].field: rate sweeps a constant shape's rate (rate.rate); shape "burst" has base, peak, period, length instead`}, nil},
		{"not an integer", "sweep:\n  - field: batch_size\n    values: [10, 2.5]\n",
			[]string{`t.yaml:15: sweep[0].values[1]: want an integer, got "2.5"`}, nil},
		{"not a rate", "sweep:\n  - field: rate\n    values: [fast]\n",
			[]string{`t.yaml:15: sweep[0].values[0]: want a rate in rows/s (a number), got "fast"`}, nil},
		{"a duration without a unit", "sweep:\n  - field: duration\n    values: [5]\n",
			[]string{`t.yaml:15: sweep[0].values[0]: want a duration with a unit such as "60s", got "5"`}, nil},
		{"default outside settings", "sweep:\n  - field: connections\n    values: [default]\n",
			[]string{`sweep[0].values[0]: "default" leaves a settings key unset; connections needs a value`}, nil},
		{"a value twice", "sweep:\n  - field: connections\n    values: [1, 2, 1]\n",
			[]string{`t.yaml:15: sweep[0].values[2]: "1" repeats values[0]`}, nil},
		{"a field twice", "sweep:\n  - {field: rate, values: [1000]}\n  - {field: rate, values: [2000]}\n",
			[]string{`t.yaml:15: sweep[1].field: "rate" repeats sweep[0]`}, nil},
		{"no values", "sweep:\n  - {field: rate, values: []}\n",
			[]string{`t.yaml:14: sweep[0].values: at least one value is required`}, nil},
		{"no fields", "sweep: []\n",
			[]string{`t.yaml:13: sweep: at least one field to sweep is required`}, nil},
		{"not a list", "sweep: {field: rate}\n",
			[]string{`t.yaml:13: sweep: want a list of fields to sweep ({field, values}), got a mapping`}, nil},
		{"an invalid cell", "sweep:\n  - {field: rate, values: [1000, 20]}\n  - {field: batch_size, values: [10, 50]}\n",
			[]string{`t.yaml:13: sweep: cell 4 (rate=20, batch_size=50): rate: offers 0.40 batches/s in the measured window (20 rows/s in batches of 50)`}, nil},
		{"many invalid cells", "sweep:\n" + many("connections", 70) + "\n",
			[]string{`sweep: cell 65 (connections=65): connections: must be within 1..64, got 65`, `t.yaml:13: sweep: 1 more of the 70 cells are invalid`}, nil},
		{"too many cells", "sweep:\n" + many("connections", 50) + many("batch_size", 30) + "\n",
			[]string{`t.yaml:13: sweep: more than 1000 cells (the axes' value counts multiply)`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := sweepBase
			if tc.name == "rate of another shape" {
				base = strings.Replace(base, "  shape: constant\n  unit: rows/s\n  rate: 1000\n", "  shape: burst\n  unit: rows/s\n  base: 1000\n  peak: 2000\n  period: 2s\n  length: 1s\n", 1)
			}
			_, err := scenarios.Parse("t.yaml", []byte(base+tc.sweep))
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
		})
	}
}

// TestSweepReadmeMessage: the message scenarios/README.md quotes is the
// one Parse gives.
func TestSweepReadmeMessage(t *testing.T) {
	t.Parallel()
	file := `name: mine
description: how does batch size move latency?
warmup: 1s
duration: 5s
batch_size: 500
rate:
  shape: constant
  unit: rows/s
  rate: 5000
paths: [cdc]
# The cell with rate 100 offers 0.2 batches of 500 rows per second.
sweep:
  - {field: rate, values: [5000, 100]}
  - {field: batch_size, values: [500]}
`
	_, err := scenarios.Parse("mine.yaml", []byte(file))
	want := "mine.yaml:12: sweep: cell 2 (rate=100, batch_size=500): rate: offers 0.20 batches/s "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want %q...", err, want)
	}
}

func TestSweepYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := parseSweep(t, "sweep:\n  - {field: rate, values: [1000, 2.5e3]}\n  - {field: settings.debezium.poll.interval.ms, values: [default, 10]}\n")
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := scenarios.Parse("s.yaml", out)
	if err != nil {
		t.Fatalf("YAML() output does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip changed the spec:\n%+v\n%+v\n%s", s, back, out)
	}
}
