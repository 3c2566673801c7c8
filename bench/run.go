package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/metrics"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/table"
)

// Config is one run.
type Config struct {
	Plan       Plan
	Stack      stack.Stack
	ResultsDir string // parent of the run's directory
	// DirName names the run's directory under ResultsDir (a sweep's
	// "cell-02-rate-5000"); empty is "<scenario>-<UTC start>".
	DirName string
	Version string
	// CDC selects the CDC path's driver.
	CDC driver.CDC
	// DropExisting lets a run drop a transactions table it did not create
	// (always true on the private cluster, which holds nothing else).
	DropExisting bool
	// Log receives progress lines; nil is quiet.
	Log io.Writer
	// Terminal makes progress one line updated in place every second (Log
	// is a terminal) instead of a plain line every 10 s (a log file, CI).
	Terminal bool
	// Live shows the run's series while it lasts; nil shows nothing.
	Live Live
	// MetricsURLs are the user's own Prometheus exporters (--metrics-url),
	// sampled on every path beside the stack's.
	MetricsURLs []string
	// OnMetrics, when set, receives every path's metric samples as they
	// are taken (metrics.Config.OnSample), for a live page.
	OnMetrics func(path string, t time.Time, s []metrics.Sample)
}

// run is the state shared by a run's paths.
type run struct {
	cfg       Config
	id        string
	dir       string // the result directory, where agent commands' output goes
	alerts    *kgo.Client
	intervals *result.IntervalLog
	logMu     sync.Mutex
	// createdTable is set once the run made the table: later paths may
	// drop their predecessor's.
	createdTable bool

	// death is the stack's process that died under the run (Watched), and
	// stopPath ends the path running then; both under deathMu.
	deathMu  sync.Mutex
	death    error
	stopPath func(error)
}

// watchStack follows the stack's processes until done is closed: the first
// that dies ends the path running and every path after it.
func (r *run) watchStack(done <-chan struct{}) {
	w, ok := r.cfg.Stack.(stack.Watched)
	if !ok {
		return
	}
	go func() {
		select {
		case err := <-w.Deaths():
			r.logf("%v", err)
			r.deathMu.Lock()
			r.death = err
			stop := r.stopPath
			r.deathMu.Unlock()
			if stop != nil {
				stop(err)
			}
		case <-done:
		}
	}()
}

// died returns the stack's death, if one was seen.
func (r *run) died() error {
	r.deathMu.Lock()
	defer r.deathMu.Unlock()
	return r.death
}

// onDeath makes stop the function that ends the path now running, or
// none (nil); a death seen before is passed to it at once.
func (r *run) onDeath(stop func(error)) {
	r.deathMu.Lock()
	r.stopPath = stop
	death := r.death
	r.deathMu.Unlock()
	if stop != nil && death != nil {
		stop(death)
	}
}

// Run executes every path of cfg.Plan in turn and writes the result
// directory. It returns the result and its directory even when the run is
// invalid; an error means the run could not be carried out, and what was
// measured until then is still written, marked invalid. cfg.Plan comes
// from PlanFrom, which validated it.
func Run(ctx context.Context, cfg Config) (*result.Result, string, error) {
	r := &run{cfg: cfg, id: runID()}
	if err := r.validateDrivers(ctx); err != nil {
		return nil, "", err
	}
	start := time.Now().UTC()
	name := cfg.DirName
	if name == "" {
		name = cfg.Plan.Name + "-" + start.Format(DirTimeFormat)
	}
	dir, err := ResultDir(cfg.ResultsDir, name)
	if err != nil {
		return nil, "", err
	}
	r.dir = dir
	res := &result.Result{
		SchemaVersion: result.SchemaVersion, Version: cfg.Version, RunID: r.id, StartedAt: start,
		ScenarioName: cfg.Plan.Name, Scenario: cfg.Plan.Spec, Machine: machine(),
		Stack: result.StackResult{StackInfo: cfg.Stack.Info()},
		// Producer, relay and agents run in this process: one clock, no skew.
		Clock: "one host: every timestamp is read from the cdcbench process's clock",
	}
	// What the cdc path captures with; a run without one (Debezium paths
	// only) named the relay it never ran.
	for _, p := range cfg.Plan.Paths {
		if p != driver.CDCPath {
			continue
		}
		if res.Stack.CDC, err = cfg.CDC.Describe(ctx); err != nil {
			return nil, "", fmt.Errorf("bench: %w", err)
		}
		break
	}
	r.alerts, err = kgo.NewClient(kgo.SeedBrokers(cfg.Stack.Brokers()...), kgo.DefaultProduceTopic(stack.AlertTopic))
	if err != nil {
		return nil, "", fmt.Errorf("bench: alert producer: %w", err)
	}
	defer r.alerts.Close()
	if r.intervals, err = result.CreateIntervalLog(filepath.Join(dir, result.HlogFile), start); err != nil {
		return nil, "", err
	}

	watching := make(chan struct{})
	defer close(watching)
	r.watchStack(watching)

	var runErr error
	var sets []pathSets
	var skipped []string
	for i, ps := range cfg.Plan.Paths {
		r.logf("path %s: starting", ps)
		p, s, err := r.runPath(ctx, ps)
		res.Paths = append(res.Paths, p)
		sets = append(sets, s)
		if err != nil {
			runErr = fmt.Errorf("path %s: %w", ps, err)
			if r.died() != nil {
				// What is left of the stack cannot carry a path.
				for _, rest := range cfg.Plan.Paths[i+1:] {
					skipped = append(skipped, fmt.Sprintf("path %s: not run: the stack lost a process during path %s", rest, ps))
					r.logf("%s", skipped[len(skipped)-1])
				}
			}
			break
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = r.alerts.Flush(fctx)
	cancel()
	if err := r.intervals.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("bench: interval log: %w", err)
	}
	if errors.Is(runErr, table.ErrExists) {
		// Refused before anything was produced: a result directory would
		// be an INVALID run with empty tables, which reads as a failed
		// measurement rather than a run that never started.
		if err := os.RemoveAll(dir); err != nil {
			return nil, "", errors.Join(runErr, fmt.Errorf("bench: results directory: %w", err))
		}
		return nil, "", runErr
	}
	res.FinishedAt = time.Now().UTC()
	judge(res, runErr)
	res.InvalidReasons = append(res.InvalidReasons, skipped...)
	if err := writeHistograms(dir, sets); err != nil && runErr == nil {
		runErr = err
	}
	if err := res.Write(dir); err != nil && runErr == nil {
		runErr = err
	}
	return res, dir, runErr
}

// driverConfig configures the driver of path ps.
func (r *run) driverConfig(ps driver.Path) driver.Config {
	p := r.cfg.Plan
	return driver.Config{CDC: r.cfg.CDC, PollMode: p.PollMode, PollLimit: p.PollLimit, Settings: p.Settings[ps.String()]}
}

// validateDrivers has every driver that can check its configuration do so
// before anything is produced: a setting Kafka Connect refuses stops the
// run in seconds, with Connect's message, instead of after the paths
// before it ran.
func (r *run) validateDrivers(ctx context.Context) error {
	for _, ps := range r.cfg.Plan.Paths {
		d, err := driver.New(ps, r.driverConfig(ps))
		if err != nil {
			return fmt.Errorf("path %s: %w", ps, err)
		}
		if v, ok := d.(driver.Validator); ok {
			if err := v.Validate(ctx, r.cfg.Stack, "cdcbench-"+r.id+"-"+ps.String()); err != nil {
				return fmt.Errorf("path %s: %w", ps, err)
			}
		}
	}
	return nil
}

// DirTimeFormat is the UTC start time in result directory names.
const DirTimeFormat = "20060102T150405Z"

// ResultDir creates parent/name, or name-2, name-3, ... when runs start in
// the same second: a result directory is never reused.
func ResultDir(parent, name string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("bench: results directory: %w", err)
	}
	for i := 1; ; i++ {
		dir := filepath.Join(parent, name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("bench: results directory: %w", err)
		}
	}
}

// judge decides validity: a run whose numbers cannot be trusted says so.
func judge(res *result.Result, runErr error) {
	var reasons []string
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			reasons = append(reasons, "interrupted")
		} else {
			reasons = append(reasons, "error: "+runErr.Error())
		}
	}
	for _, p := range res.Paths {
		for _, why := range p.InvalidReasons {
			reasons = append(reasons, p.Name+": "+why)
		}
		// Whatever the other rules say: an agent that measured no row has
		// no latency to report, and its zeros would read as 0 ms.
		for _, a := range p.Agents {
			if a.E2E.Count == 0 {
				reasons = append(reasons, fmt.Sprintf("%s: %s: no rows measured (%d produced)", p.Name, a.Name, p.RowsProduced))
			}
		}
	}
	if len(res.Paths) == 0 && runErr == nil {
		reasons = append(reasons, "no path ran")
	}
	res.InvalidReasons = reasons
	res.Valid = len(reasons) == 0
}

func (r *run) logf(format string, args ...any) {
	if r.cfg.Log == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	clear := ""
	if r.cfg.Terminal {
		clear = "\r\033[K" // over the progress line
	}
	fmt.Fprintf(r.cfg.Log, "%s%s %s\n", clear, time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// progress shows line: in place on a terminal, as a log line otherwise.
func (r *run) progress(line string) {
	if r.cfg.Log == nil {
		return
	}
	if !r.cfg.Terminal {
		r.logf("%s", line)
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.cfg.Log, "\r\033[K%s", line)
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pathSets holds a path's recorders for the histogram files.
type pathSets struct {
	path   string
	agents []string
	sets   []*recorder.Set
}

func writeHistograms(dir string, all []pathSets) error {
	for _, ps := range all {
		for i, s := range ps.sets {
			for st := recorder.Stage(0); st < recorder.NumStages; st++ {
				if s.Summary(st).Count == 0 {
					continue
				}
				name := filepath.Join(dir, fmt.Sprintf("%s.%s.%s.hgrm", ps.path, ps.agents[i], st))
				f, err := os.Create(name)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				err = s.WriteHGRM(f, st)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("bench: %s: %w", name, err)
				}
			}
		}
	}
	return nil
}

// publishAlert sends an alert to fraud.alerts, off the measured path.
func (r *run) publishAlert(rec AlertRecord) {
	rec.Run = r.id
	b, _ := json.Marshal(rec)
	r.alerts.Produce(context.Background(), &kgo.Record{Key: []byte(rec.Agent), Value: b}, nil)
}
