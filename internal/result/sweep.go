package result

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
)

// SweepFile is the index of a sweep directory: which cells it has, where
// their result directories are and how each ended. Each cell's figures
// are in its own result.json; the index repeats only the headline.
const SweepFile = "sweep.json"

// SweepSchemaVersion is sweep.json's schema version (reports/README.md).
const SweepSchemaVersion = 1

// Cell statuses. A cell is written to the index before it starts and again
// when it ends, so that a sweep killed outright still says which cell it
// was in.
const (
	CellNotRun      = "not run"     // the sweep stopped before it
	CellRunning     = "running"     // started, never finished: the process died
	CellValid       = "valid"       // ran, and its result is valid
	CellInvalid     = "invalid"     // ran, and its result is invalid
	CellInterrupted = "interrupted" // Ctrl-C during the cell: what it measured is written, invalid
	CellFailed      = "failed"      // could not run (Error says why); the sweep stopped
)

// Sweep is sweep.json.
type Sweep struct {
	SchemaVersion int       `json:"schema_version"`
	Version       string    `json:"cdcbench_version"`
	ScenarioName  string    `json:"scenario_name"`
	StartedAt     time.Time `json:"started_at"`
	// UpdatedAt is when the index was last written: after the last cell
	// that ended, or when the sweep stopped.
	UpdatedAt time.Time `json:"updated_at"`
	// Fields are the swept fields in the sweep's order; every cell's
	// Values are in this order.
	Fields []string `json:"fields"`
	// EstimateS is the time the whole sweep was estimated to take before
	// it started, in seconds.
	EstimateS float64     `json:"estimate_s"`
	Cells     []SweepCell `json:"cells"`
}

// SweepCell is one cell of a sweep.
type SweepCell struct {
	Index  int      `json:"index"` // 1-based, in the order the cells ran
	Values []string `json:"values"`
	Label  string   `json:"label"` // "rate=5000, batch_size=10"
	// Dir is the cell's result directory relative to the sweep directory,
	// set once its result.json is written.
	Dir            string   `json:"dir,omitempty"`
	Status         string   `json:"status"`
	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons,omitempty"`
	Error          string   `json:"error,omitempty"`
	// Paths are the headline figures of each path, for a reader of the
	// index alone; the report reads result.json.
	Paths []Headline `json:"paths,omitempty"`
}

// Headline is a path's e2e p50 and p99, each the highest over the path's
// agents: the slower agent is the one a deployment waits for.
type Headline struct {
	Path  string  `json:"path"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// HeadlineOf is p's headline. An agent that measured no row is left out;
// its zeros would read as 0 ms (such a run is invalid anyway).
func HeadlineOf(p Path) Headline {
	h := Headline{Path: p.Name}
	for _, a := range p.Agents {
		if a.E2E.Count > 0 {
			h.P50Ms = max(h.P50Ms, a.E2E.P50)
			h.P99Ms = max(h.P99Ms, a.E2E.P99)
		}
	}
	return h
}

// Write saves s as dir/sweep.json, through a temporary file renamed over
// it: the index is rewritten after every cell, and a sweep killed while
// writing must keep the previous one rather than half a file.
func (s *Sweep) Write(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("result: sweep: %w", err)
	}
	tmp, err := os.CreateTemp(dir, SweepFile+".*")
	if err != nil {
		return fmt.Errorf("result: sweep: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, SweepFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("result: sweep: %w", err)
	}
	return nil
}

// IsSweep reports whether dir holds a sweep index.
func IsSweep(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SweepFile))
	return err == nil
}

// ReadSweep loads dir/sweep.json (a regular file of at most
// MaxResultBytes), refusing a schema it does not know.
func ReadSweep(dir string) (*Sweep, error) {
	path := filepath.Join(dir, SweepFile)
	b, err := inputfile.Read(path, MaxResultBytes)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	var s Sweep
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("result: %s is not a cdcbench sweep index: %w", path, err)
	}
	if s.SchemaVersion == 0 || s.SchemaVersion > SweepSchemaVersion {
		return nil, fmt.Errorf("result: %s has schema_version %d; this cdcbench reads 1..%d", path, s.SchemaVersion, SweepSchemaVersion)
	}
	for _, c := range s.Cells {
		if len(c.Values) != len(s.Fields) {
			return nil, fmt.Errorf("result: %s: cell %d has %d values for %d fields", path, c.Index, len(c.Values), len(s.Fields))
		}
		if c.Dir != "" && !filepath.IsLocal(c.Dir) {
			// The report reads what the index points at: nothing outside.
			return nil, fmt.Errorf("result: %s: cell %d's dir %q is not inside the sweep directory", path, c.Index, c.Dir)
		}
	}
	return &s, nil
}
