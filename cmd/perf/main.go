// Command perf measures cdcbench's own overhead, so that users can trust
// that the harness is never the bottleneck of what it measures. Each figure
// is measured in one run on one machine and, where PostgreSQL has a tool for
// the same job, side by side with that tool: cdcbench's producer against
// psql's \copy, its relay against pg_recvlogical. Targets are ratios or
// limits from issue 8; every figure is printed with its target and ratio,
// and a final table says which targets were met.
//
// Run it with `make perf`, which runs the hot-path micro-benchmarks first and
// passes their output with -bench, or with `go run ./perf`. perf/README.md
// explains each measurement and what the profiles showed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

type options struct {
	benchFile string
	out       string
	only      string
	copyRows  int
	relayRows int
	reps      int
	// child runs one scenario in this process (re-executed by the parent)
	// and writes its figures as JSON into out.
	child string
}

func run() error {
	var o options
	flag.StringVar(&o.benchFile, "bench", "", "`file` with the output of the hot-path benchmarks (empty: run them)")
	flag.StringVar(&o.out, "out", "", "`dir` for profiles and run results (default results/perf-<UTC time>)")
	flag.StringVar(&o.only, "only", "", "run only these sections, e.g. 1,2 (1 hot path, 2 producer, 3 relay, 4 and 5 harness CPU and start-up, 6 burst profiles)")
	flag.IntVar(&o.copyRows, "copy-rows", 200_000, "rows per producer and psql run")
	flag.IntVar(&o.relayRows, "relay-rows", 200_000, "rows the relay and pg_recvlogical each decode")
	flag.IntVar(&o.reps, "reps", 5, "runs per tool and setting, in back-to-back pairs; the median pair ratio is judged")
	flag.StringVar(&o.child, "child", "", "internal: run scenario `kind` (steady or burst) in this process")
	flag.Parse()

	if strings.Trim(o.only, "123456, ") != "" {
		return fmt.Errorf("-only takes section numbers 1 to 6, got %q", o.only)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.child != "" {
		return runChild(ctx, o.child, o.out)
	}
	if o.out == "" {
		o.out = filepath.Join("results", "perf-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	w := io.Writer(os.Stdout)
	fmt.Fprintf(w, "cdcbench perf: output in %s; load average %s\n", o.out, bench.LoadAverage())

	var checks []check
	// A section that fails is reported as a target without a figure, and
	// the others still run: one broken measurement must not hide the rest.
	sections := []struct {
		want bool
		name string
		run  func() ([]check, error)
	}{
		{o.want(1), "1 hot path", func() ([]check, error) { return hotPathSection(o.benchFile, w) }},
		{o.want(2) || o.want(3), "2-3 database", func() ([]check, error) { return databaseSections(ctx, o, w) }},
		{o.want(4) || o.want(5) || o.want(6), "4-6 scenarios", func() ([]check, error) { return scenarioSections(ctx, o, w) }},
	}
	for _, s := range sections {
		if !s.want {
			continue
		}
		cs, err := s.run()
		checks = append(checks, cs...)
		if err != nil {
			fmt.Fprintf(w, "  => failed: %v\n", err)
			checks = append(checks, failed(s.name, "section failed", "a figure", err))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	section(w, "summary")
	fmt.Fprintf(w, "load average at the end: %s\n", bench.LoadAverage())
	if missed := printTable(w, checks); missed > 0 {
		return fmt.Errorf("%d targets not met", missed)
	}
	return nil
}

// hotPathSection judges the micro-benchmarks.
func hotPathSection(benchFile string, w io.Writer) ([]check, error) {
	section(w, "1. hot path: go test -bench (GOMAXPROCS=1)")
	res, err := loadBench(benchFile, w)
	if err != nil {
		return nil, err
	}
	cs := hotPathChecks(res)
	for _, c := range cs {
		if !c.info {
			printCheck(w, c)
		}
	}
	return cs, nil
}

func (o options) want(n int) bool {
	if o.only == "" {
		return true
	}
	for _, c := range o.only {
		if c == rune('0'+n) {
			return true
		}
	}
	return false
}

// databaseSections runs the producer and relay comparisons on one private
// cluster, which is stopped before the scenario runs start their own.
func databaseSections(ctx context.Context, o options, w io.Writer) (_ []check, err error) {
	for _, tool := range []string{"psql", "pg_recvlogical"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("the comparison needs PostgreSQL's %s (Debian: apt-get install postgresql-client): %w", tool, err)
		}
	}
	cl, err := pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{
		// Autovacuum would wake up on the freshly loaded table in the
		// middle of some runs and not others; it is noise to both tools.
		"autovacuum": "off",
		// Two slots per relay repetition, all made before the rows.
		"max_replication_slots": fmt.Sprint(2*o.reps + 2),
		"max_wal_senders":       fmt.Sprint(2*o.reps + 2),
	}})
	if err != nil {
		return nil, fmt.Errorf("private cluster: %w", err)
	}
	defer func() { err = errors.Join(err, cl.Stop(context.WithoutCancel(ctx))) }()
	fmt.Fprintf(w, "private cluster: PostgreSQL %s on port %d\n", cl.Version(), cl.Port())
	if err := createTable(ctx, cl.DSN()); err != nil {
		return nil, err
	}
	var checks []check
	if o.want(2) {
		section(w, fmt.Sprintf("2. producer: COPY in batches of %d vs psql \\copy of the same batches", copyBatch))
		cs, err := compareCopy(ctx, copyConfig{dsn: cl.DSN(), dir: filepath.Join(o.out, "copy"), rows: o.copyRows,
			profile: filepath.Join(o.out, "producer-cpu.pprof"),
			reps:    o.reps, conns: []int{1, 2, 4}, workers: 10_000}, w)
		checks = append(checks, cs...)
		if err != nil {
			return checks, err
		}
	}
	if o.want(3) {
		section(w, "3. relay: WAL → kfake vs pg_recvlogical on the same slot type and publication")
		cs, err := compareRelay(ctx, relayConfig{dsn: cl.DSN(), replDSN: cl.ReplicationDSN(), rows: o.relayRows,
			profile: filepath.Join(o.out, "relay-cpu.pprof"),
			reps:    o.reps, latencyRate: 1000, latencyFor: 10 * time.Second}, w)
		checks = append(checks, cs...)
		if err != nil {
			return checks, err
		}
	}
	return checks, nil
}

// scenarioSections runs the steady scenario for the harness's CPU and
// start-up time and the burst scenario for its profiles, each in a child
// process of its own.
func scenarioSections(ctx context.Context, o options, w io.Writer) ([]check, error) {
	var checks []check
	if o.want(4) || o.want(5) {
		section(w, fmt.Sprintf("4. harness CPU at %s rows/s (steady, cdc path, 30 s measured) and 5. start-up", num(steadyRate)))
		cs, err := steadySections(ctx, o.out, w)
		checks = append(checks, cs...)
		if err != nil {
			return checks, err
		}
	}
	if o.want(6) {
		section(w, "6. profiles of one burst run (CPU and allocations)")
		cs, err := burstSection(ctx, o.out, w)
		checks = append(checks, cs...)
		if err != nil {
			return checks, err
		}
	}
	return checks, nil
}

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n== %s ==\n", title)
}
