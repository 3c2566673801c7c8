package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"gonum.org/v1/plot"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/result"
)

// ErrNotResult reports a directory that holds no result.json this cdcbench
// can read: a typo, a parent directory, or a run that never finished.
var ErrNotResult = errors.New("not a cdcbench result directory")

// FilesDir is the directory beside report out that holds its charts:
// REPORT.md's go into REPORT.files/, so report and charts move together
// and two reports in one directory do not overwrite each other's charts.
func FilesDir(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".files"
}

// run is one result directory, loaded.
type run struct {
	n   int    // 1-based position in the report
	dir string // as given
	res *result.Result
	// e2e holds the e2e stage of latency.hlog per path x agent; hasLog is
	// false for a directory without the log (cdcbench before the log
	// existed), whose latency charts are then left out.
	e2e    []*result.TagSeries
	hasLog bool
	charts []chart
	// cell names the sweep cell the run is ("cell 2/4: rate=5000"), ""
	// for a run of its own.
	cell string
}

// name is how the report names r's scenario: with its sweep cell, which
// tells a sweep's runs apart.
func (r *run) name() string {
	if r.cell == "" {
		return r.res.ScenarioName
	}
	return r.res.ScenarioName + " (" + r.cell + ")"
}

// chart is one SVG written beside the report.
type chart struct {
	file  string // relative to the report, slash-separated
	title string
	read  string // the "how to read this" line
}

// Write reads every result directory in dirs and writes a markdown report
// to out and its SVG charts into FilesDir(out). A sweep directory (one
// holding sweep.json) stands for its cells' result directories, with a
// section of its own before them. Table figures are copied from
// result.json as they are; the charts are drawn from latency.hlog
// (latency) and result.json's timelines (rates), a sweep's from its
// cells' result.json. A directory that is not a result fails with an
// error wrapping ErrNotResult, before anything is written.
func Write(dirs []string, out string) error {
	if len(dirs) == 0 {
		return fmt.Errorf("reports: no result directories given: %w", ErrNotResult)
	}
	var runs []*run
	var sweeps []*sweep
	for _, dir := range dirs {
		if result.IsSweep(dir) {
			sw, err := loadSweep(dir)
			if err != nil {
				return err
			}
			sweeps = append(sweeps, sw)
			runs = append(runs, sw.runs()...)
			continue
		}
		r, err := load(dir)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	for i, r := range runs {
		r.n = i + 1
	}
	files := FilesDir(out)
	if err := os.MkdirAll(files, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	for _, sw := range sweeps {
		if err := sw.drawCharts(files); err != nil {
			return fmt.Errorf("reports: %s: %w", sw.dir, err)
		}
	}
	for _, r := range runs {
		if err := r.drawCharts(files); err != nil {
			return fmt.Errorf("reports: %s: %w", r.dir, err)
		}
	}
	var b bytes.Buffer
	writeMarkdown(&b, sweeps, runs)
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	return nil
}

// load reads dir's result.json and, when present, its latency.hlog.
func load(dir string) (*run, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("reports: %w: %w", ErrNotResult, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("reports: %s: %w: not a directory", dir, ErrNotResult)
	}
	res, err := result.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w: %w", dir, ErrNotResult, err)
	}
	r := &run{dir: dir, res: res}
	hlog := filepath.Join(dir, result.HlogFile)
	r.e2e, err = readStage(hlog, "e2e")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return nil, err
	}
	if cmds := commandAgents(res); len(cmds) > 0 {
		// An agent command's series is its alerts' latency: all cdcbench
		// sees of it.
		alerts, err := readStage(hlog, "alert")
		if err != nil {
			return nil, err
		}
		for _, s := range alerts {
			if cmds[s.Path+"/"+s.Agent] {
				r.e2e = append(r.e2e, s)
			}
		}
	}
	r.hasLog = true
	return r, nil
}

// readStage reads one stage's series from the interval log at hlog, a
// pass over the file each: only that stage's lines are held.
func readStage(hlog, stage string) ([]*result.TagSeries, error) {
	f, err := inputfile.Open(hlog, result.MaxHlogBytes)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer f.Close()
	series, err := result.ReadStage(f, stage)
	if err != nil {
		return nil, fmt.Errorf("reports: %s: %w", hlog, err)
	}
	return series, nil
}

// commandAgents lists the agent commands of res as path/agent.
func commandAgents(res *result.Result) map[string]bool {
	out := map[string]bool{}
	for _, p := range res.Paths {
		for _, e := range p.ExternalAgents {
			if e.AgentCommand != nil {
				out[p.Name+"/"+e.Name] = true
			}
		}
	}
	return out
}

// slug prefixes r's chart files: scenario and run id, unique per run, with
// anything but letters, digits, '.', '_' and '-' replaced, as a scenario
// file may name itself anything.
func (r *run) slug() string { return fileSafe(r.res.ScenarioName + "-" + r.res.RunID) }

// fileSafe replaces anything in s but letters, digits, '.', '_' and '-',
// for chart file names.
func fileSafe(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '.' || c == '_' || c == '-' || unicode.IsLetter(c) || unicode.IsDigit(c) {
			return c
		}
		return '-'
	}, s)
}

// drawCharts writes r's charts into dir and records them for the markdown.
func (r *run) drawCharts(dir string) error {
	link := strings.ReplaceAll(filepath.Base(dir), " ", "%20") + "/"
	// add writes p as dir/<slug>-<kind>.svg and records it, linked from
	// the markdown beside dir.
	add := func(kind string, p *plot.Plot, title, read string) error {
		name := r.slug() + "-" + kind + ".svg"
		if err := saveSVG(p, filepath.Join(dir, name)); err != nil {
			return err
		}
		r.charts = append(r.charts, chart{file: link + name, title: title, read: read})
		return nil
	}
	faultNote := ""
	for _, path := range r.res.Paths {
		if len(faultSpans(path, 0)) > 0 {
			faultNote = " Orange shading marks an injected fault."
		}
	}
	keys := newChartKeys(r.res.Paths, r.e2e)
	if len(r.res.Paths) > 0 {
		p, err := rateChart(keys, r.res.Paths, r.warmup().Seconds())
		if err != nil {
			return err
		}
		if err := add("rate", p, "Offered and committed rows per second",
			"the dashed line is the schedule, each solid line what one path's producer got committed; a solid line below the dashed one means the producer could not keep up, and every latency figure of that stretch is suspect."+faultNote); err != nil {
			return err
		}
	}
	if len(r.e2e) == 0 {
		return nil
	}
	commandNote := ""
	if len(commandAgents(r.res)) > 0 {
		commandNote = " Your own agents are lighter still, their lines the latency of their alerts: all cdcbench sees of them."
	}
	p, err := spectrumChart(keys, r.e2e)
	if err != nil {
		return err
	}
	if err := add("percentiles", p, "End-to-end latency by percentile",
		"each line is one path x agent over the whole measured window, the x axis stretched towards the tail (90%, 99%, 99.9%, …) as HdrHistogram's plotter draws it; a line that bends up steeply at the right has a heavy tail. In every chart the colour is the path and the shade the agent (full: outlier, lighter: velocity)."+commandNote); err != nil {
		return err
	}
	for _, path := range r.res.Paths {
		var series []*result.TagSeries
		for _, s := range r.e2e {
			if s.Path == path.Name {
				series = append(series, s)
			}
		}
		if len(series) == 0 {
			continue
		}
		p, err := latencyChart(keys, path.Name, series, faultSpans(path, r.warmup().Seconds()))
		if err != nil {
			return err
		}
		if err := add("latency-"+path.Name, p, "End-to-end latency over time: "+path.Name,
			"one point per one-second interval, in the path's colour, one shade per agent: thick = p50, dashed = p99, dotted = max of that interval; a rise that outlasts a burst or a fault in the rate chart is a backlog draining."+faultNote); err != nil {
			return err
		}
		for _, c := range metricCharts {
			mp, err := c.plot(path, r.warmup().Seconds(), p.X.Max)
			if err != nil {
				return err
			}
			if mp == nil {
				continue
			}
			if err := add(c.kind+"-"+path.Name, mp, "Inside the pipeline, "+c.title+": "+path.Name, c.read); err != nil {
				return err
			}
		}
	}
	return nil
}

// warmup is the scenario's warm-up, 0 when result.json does not say.
func (r *run) warmup() time.Duration { return warmupOf(r.res) }

// warmupOf is res's scenario's warm-up, 0 when result.json does not say.
func warmupOf(res *result.Result) time.Duration {
	m, ok := res.Scenario.(map[string]any)
	if !ok {
		return 0
	}
	s, ok := m["warmup"].(string)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}
