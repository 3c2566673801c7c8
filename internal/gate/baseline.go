package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/result"
)

// BaselineVersion is the format version of baseline files; ReadBaseline
// refuses other versions rather than misread them.
const BaselineVersion = 1

// ErrForeignBaseline means the baseline was recorded on a different kind of
// machine: its latencies say nothing about this one's.
var ErrForeignBaseline = errors.New("gate: the baseline was recorded on another machine")

// ErrNoRuns means a baseline or a gate was given no runs.
var ErrNoRuns = errors.New("gate: no runs")

// Baseline is the figures of repeated runs of one scenario on one machine,
// the reference of relative rules ("e2e p50 <= 1.2 x baseline"). It keeps
// every run rather than an average, so that a change can be tested for
// significance against the spread of the runs.
type Baseline struct {
	Version    int            `json:"baseline_version"`
	RecordedAt time.Time      `json:"recorded_at"`
	Scenario   string         `json:"scenario"`
	Machine    result.Machine `json:"machine"`
	Runs       []Run          `json:"runs"`
}

// NewBaseline makes a baseline of runs. The runs must be valid (an invalid
// run's latencies are not a reference), of one scenario and of one machine.
func NewBaseline(runs []Run, now time.Time) (*Baseline, error) {
	if len(runs) == 0 {
		return nil, ErrNoRuns
	}
	b := &Baseline{Version: BaselineVersion, RecordedAt: now.UTC(), Scenario: runs[0].Scenario, Machine: runs[0].Machine, Runs: runs}
	for _, r := range runs {
		switch {
		case !r.Valid:
			return nil, fmt.Errorf("gate: baseline: run %s is invalid (%v); record a baseline from valid runs only", r.Label, r.InvalidReasons)
		case r.Scenario != b.Scenario:
			return nil, fmt.Errorf("gate: baseline: runs of scenarios %q and %q; a baseline holds one scenario", b.Scenario, r.Scenario)
		case !SameMachine(r.Machine, b.Machine):
			return nil, fmt.Errorf("gate: baseline: run %s ran on %s, run %s on %s", runs[0].Label, describeMachine(b.Machine), r.Label, describeMachine(r.Machine))
		}
	}
	return b, nil
}

// Write saves b as indented JSON at path, to be committed beside the gate
// file.
func (b *Baseline) Write(path string) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("gate: baseline: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("gate: baseline: %w", err)
	}
	return nil
}

// MaxBaselineBytes bounds a baseline file: it holds a few runs' figures,
// tens of kilobytes each.
const MaxBaselineBytes = 64 << 20

// ReadBaseline loads a baseline file written by Write (a regular file of
// at most MaxBaselineBytes).
func ReadBaseline(path string) (*Baseline, error) {
	data, err := inputfile.Read(path, MaxBaselineBytes)
	if err != nil {
		return nil, fmt.Errorf("gate: baseline: %w", err)
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("gate: baseline: %s: %w", path, err)
	}
	if b.Version != BaselineVersion {
		return nil, fmt.Errorf("gate: baseline: %s has baseline_version %d; this cdcbench reads %d", path, b.Version, BaselineVersion)
	}
	if len(b.Runs) == 0 {
		return nil, fmt.Errorf("gate: baseline: %s: %w", path, ErrNoRuns)
	}
	return &b, nil
}

// SameMachine reports whether a and b look like the same kind of machine:
// same CPU model and core count, and memory within 2% (the kernel's
// reservations move MemTotal a little between boots). The hostname is
// ignored, since CI runners of one type have random names.
func SameMachine(a, b result.Machine) bool {
	if a.CPU != b.CPU || a.Cores != b.Cores {
		return false
	}
	hi := math.Max(float64(a.MemoryMB), float64(b.MemoryMB))
	return hi == 0 || math.Abs(float64(a.MemoryMB-b.MemoryMB)) <= 0.02*hi
}

func describeMachine(m result.Machine) string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	return fmt.Sprintf("%s (%s, %d cores, %d MB)", m.Hostname, cpu, m.Cores, m.MemoryMB)
}
