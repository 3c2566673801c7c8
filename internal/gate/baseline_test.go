package gate_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/result"
)

func TestNewBaseline(t *testing.T) {
	invalid := runs("r", 4, 4)
	invalid[1].Valid, invalid[1].InvalidReasons = false, []string{"lost rows"}
	mixed := runs("r", 4, 4)
	mixed[1].Scenario = "burst"
	elsewhere := runs("r", 4, 4)
	elsewhere[1].Machine.Cores = 4
	tests := []struct {
		name string
		runs []gate.Run
		want string
	}{
		{"no runs", nil, "gate: no runs"},
		{"an invalid run", invalid, "gate: baseline: run r-2 is invalid ([lost rows]); record a baseline from valid runs only"},
		{"two scenarios", mixed, `gate: baseline: runs of scenarios "smoke" and "burst"; a baseline holds one scenario`},
		{"two machines", elsewhere, "gate: baseline: run r-1 ran on ci-1 (Test CPU @ 2.0GHz, 2 cores, 8000 MB), run r-2 on ci-1 (Test CPU @ 2.0GHz, 4 cores, 8000 MB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gate.NewBaseline(tt.runs, testTime); err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	b, err := gate.NewBaseline(runs("r", 4, 5, 6), testTime)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "baseline-smoke.json")
	if err := b.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := gate.ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Errorf("read back\n%+v\nwrote\n%+v", got, b)
	}
	if got.Machine != testMachine || got.Scenario != "smoke" || got.Version != gate.BaselineVersion || !got.RecordedAt.Equal(testTime) {
		t.Errorf("baseline header = %+v", got)
	}
	// A baseline stands wherever runs are expected.
	loaded, err := gate.LoadRuns(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, b.Runs) {
		t.Errorf("LoadRuns(baseline) = %+v", loaded)
	}
}

func TestReadBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "no such file or directory"},
		{"not json", write("bad.json", "{"), "unexpected end of JSON input"},
		{"future version", write("v2.json", `{"baseline_version": 2, "runs": [{}]}`), "has baseline_version 2; this cdcbench reads 1"},
		{"no runs", write("empty.json", `{"baseline_version": 1, "runs": []}`), "gate: no runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := gate.ReadBaseline(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadRuns(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "smoke-20261126T082554Z")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := smoke("x", 4, 50).Write(dir); err != nil {
		t.Fatal(err)
	}
	got, err := gate.LoadRuns(dir, filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Label != "smoke-20261126T082554Z" || got[1].Label != got[0].Label || got[0].RunID != "id-x" {
		t.Errorf("runs = %+v", got)
	}
	if !reflect.DeepEqual(got[0], gate.FromResult("smoke-20261126T082554Z", smoke("x", 4, 50))) {
		t.Errorf("loaded run differs from FromResult of the written result")
	}
	if _, err := gate.LoadRuns(filepath.Join(parent, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: err = %v", err)
	}
}

func TestSameMachine(t *testing.T) {
	m := result.Machine{Hostname: "a", CPU: "Xeon", Cores: 2, MemoryMB: 8000}
	tests := []struct {
		name  string
		other func(*result.Machine)
		want  bool
	}{
		{"identical", func(*result.Machine) {}, true},
		{"another hostname", func(o *result.Machine) { o.Hostname = "runner-7" }, true},
		{"memory within 2%", func(o *result.Machine) { o.MemoryMB = 7900 }, true},
		{"memory off by 5%", func(o *result.Machine) { o.MemoryMB = 7600 }, false},
		{"another CPU", func(o *result.Machine) { o.CPU = "EPYC" }, false},
		{"more cores", func(o *result.Machine) { o.Cores = 4 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := m
			tt.other(&o)
			if got := gate.SameMachine(m, o); got != tt.want {
				t.Errorf("SameMachine = %v, want %v", got, tt.want)
			}
		})
	}
}
