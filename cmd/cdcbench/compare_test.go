package main

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/internal/golden"
	"github.com/cdcbench/cdcbench/internal/result"
)

func TestCompareSides(t *testing.T) {
	tests := []struct {
		args    []string
		a, b    []string
		wantErr string
	}{
		{args: []string{"x", "y"}, a: []string{"x"}, b: []string{"y"}},
		{args: []string{"x1", "x2", "x3", "vs", "y1", "y2"}, a: []string{"x1", "x2", "x3"}, b: []string{"y1", "y2"}},
		{args: []string{"x"}, wantErr: "compare: want two runs A B, or two sets A1 A2... vs B1 B2...; got 1 arguments"},
		{args: []string{"x", "y", "z"}, wantErr: "got 3 arguments"},
		{args: []string{"x", "vs"}, wantErr: `runs on both sides of one "vs"`},
		{args: []string{"x", "vs", "y", "vs", "z"}, wantErr: `runs on both sides of one "vs"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a, b, err := compareSides(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(a, tt.a) || !slices.Equal(b, tt.b) {
				t.Errorf("= %v, %v, %v; want %v, %v", a, b, err, tt.a, tt.b)
			}
		})
	}
}

func TestCompareChange(t *testing.T) {
	tests := []struct {
		name string
		a, b []float64
		want string
	}{
		{"one run a side: untested", []float64{4}, []float64{4.5}, "+12.5% (n=1+1)"},
		{"significant", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, "+166.7% (p=0.008 n=5+5)"},
		{"not significant", []float64{4, 4.4, 3.9}, []float64{4.2, 4.1, 4.5}, "~ (p=0.400 n=3+3)"},
		{"faster", []float64{10, 11, 12, 13}, []float64{5, 5.5, 6, 6.5}, "-50.0% (p=0.029 n=4+4)"},
		{"zero median", []float64{0}, []float64{1}, "n/a (n=1+1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := compareChange(tt.a, tt.b, 0.05)
			if err != nil || got != tt.want {
				t.Errorf("compareChange = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCompareOutput(t *testing.T) {
	dir := t.TempDir()
	var a, b []string
	for i, cdc := range []float64{4.0, 4.1, 3.9, 4.2} {
		a = append(a, writeSmoke(t, dir, "base-"+string(rune('1'+i)), cdc))
	}
	for i, cdc := range []float64{6.0, 6.2, 5.9, 6.1} {
		b = append(b, writeSmoke(t, dir, "new-"+string(rune('1'+i)), cdc, func(r *result.Result) {
			r.Paths = r.Paths[:1] // B has no poll path
		}))
	}
	tests := []struct {
		golden string
		args   []string
	}{
		{"compare-sets", append(append(append([]string{"compare"}, a...), "vs"), b...)},
		{"compare-sets-markdown", append(append(append([]string{"compare", "--markdown"}, a...), "vs"), b...)},
		{"compare-two-stages", []string{"compare", "--stages", a[0], b[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, stderr, code := cdcbench(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit code %d: %s", code, stderr)
			}
			golden.Check(t, tt.golden+".golden", []byte(out))
		})
	}
}

func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	run := writeSmoke(t, dir, "run", 4)
	for name, args := range map[string][]string{
		"missing A":   {"compare", filepath.Join(dir, "nope"), run},
		"missing B":   {"compare", run, filepath.Join(dir, "nope")},
		"bad alpha":   {"compare", "--alpha", "5", run, run},
		"one operand": {"compare", run},
	} {
		t.Run(name, func(t *testing.T) {
			if _, stderr, code := cdcbench(t, args...); code != 2 {
				t.Errorf("exit code %d (%s), want 2", code, stderr)
			}
		})
	}
}

func TestCompareRunsNotes(t *testing.T) {
	one := func(label string, mutate func(*gate.Run)) gate.Run {
		r := gate.Run{Label: label, Scenario: "smoke", Machine: gateMachine, Valid: true}
		mutate(&r)
		return r
	}
	a := []gate.Run{one("a", func(*gate.Run) {})}
	b := []gate.Run{one("b", func(r *gate.Run) {
		r.Scenario, r.Valid, r.InvalidReasons, r.Machine.Cores = "burst", false, []string{"lost rows"}, 8
	})}
	cmp, err := compareRuns(a, b, 0.05, false)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := cmp.writeText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"note: run b is INVALID: lost rows",
		"note: A is scenario smoke, B is burst",
		"note: A ran on Test CPU (2 cores), B on Test CPU (8 cores): the change includes the machine",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
