package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/producer"
)

// copyBatch is the batch size the producer is compared at.
const copyBatch = 500

// copyConfig sizes the producer comparison.
type copyConfig struct {
	dsn string
	dir string // for psql's batch files and scripts
	// profile, if set, receives a CPU profile of the whole comparison:
	// perf itself idles while psql runs, so it is the producer's.
	profile string
	rows    int // per run
	reps    int // runs per tool and connection count, alternating
	conns   []int
	workers int // Users of the workload
}

func (c copyConfig) workload(conns int) producer.WorkloadConfig {
	return producer.WorkloadConfig{BatchSize: copyBatch, Users: c.workers, Conns: conns, FraudRate: 0.01, Seed: 1}
}

// flatOut is a schedule whose batches are all due within 10 ms: far above
// what any database takes, so the producer runs at capacity and its queues,
// not the schedule, pace it.
func flatOut(batches int) (schedule.Schedule, int) {
	s := schedule.Constant{PerSecond: float64(batches) / 0.010, Length: 10 * time.Millisecond}
	n := 0
	for a := schedule.NewArrivals(s, false, 1); ; n++ {
		if _, ok := a.Next(); !ok {
			break
		}
	}
	return s, n
}

// compareCopy measures cdcbench's producer against psql's \copy of the same
// rows in the same batches on the same table, at each connection count
// (cfg.conns, ascending, starting at 1). It judges the first and the last
// count against psql (≥ 90%: one connection, and scaling to the largest
// count, as issue 8 asks) and shows the counts in between.
func compareCopy(ctx context.Context, cfg copyConfig, w io.Writer) (_ []check, err error) {
	const sec = "2 producer"
	admin, err := pgx.Connect(ctx, cfg.dsn)
	if err != nil {
		return nil, fmt.Errorf("producer: connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if cfg.profile != "" {
		stop, err := startCPUProfile(cfg.profile)
		if err != nil {
			return nil, err
		}
		defer func() { err = errors.Join(err, stop()) }()
	}
	overhead, err := psqlOverhead(ctx, cfg.dsn)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "  psql start-up and connect: %.1f ms, %.1f ms CPU (subtracted from each psql process)\n", ms(overhead.wall), ms(overhead.cpu))

	// The batch files are tens of MB, derived from the seed: not worth keeping.
	defer func() { err = errors.Join(err, os.RemoveAll(cfg.dir)) }()

	var checks []check
	prodMedian := map[int]float64{}
	for _, conns := range cfg.conns {
		sched, batches := flatOut(cfg.rows / copyBatch)
		rows := int64(batches * copyBatch)
		scripts, err := writeCopyScripts(filepath.Join(cfg.dir, fmt.Sprintf("copy-%dconn", conns)), cfg.workload(conns), batches)
		if err != nil {
			return nil, err
		}
		var prod, psql, prodCPU, psqlCPU []float64
		for rep := 0; rep < cfg.reps; rep++ {
			// Alternate which tool goes first, so that neither always meets
			// the cluster right after the other's checkpoint.
			order := []string{"producer", "psql"}
			if rep%2 == 1 {
				order = []string{"psql", "producer"}
			}
			for _, tool := range order {
				if err := emptyTable(ctx, admin); err != nil {
					return nil, err
				}
				var r clientRun
				if tool == "producer" {
					r, err = runProducer(ctx, cfg.dsn, cfg.workload(conns), sched, rows)
				} else {
					r, err = runPsql(ctx, cfg.dsn, scripts)
					r.wall -= overhead.wall
					// A short process's CPU time is counted in scheduler
					// ticks, so the start-up estimate can exceed what a run
					// was charged: never below zero.
					r.cpu = max(0, r.cpu-time.Duration(len(scripts))*overhead.cpu)
				}
				if err != nil {
					return nil, err
				}
				if err := countRows(ctx, admin, rows); err != nil {
					return nil, fmt.Errorf("producer: after %s: %w", tool, err)
				}
				rate := float64(rows) / r.wall.Seconds()
				usPerRow := float64(r.cpu) / float64(time.Microsecond) / float64(rows)
				if tool == "producer" {
					prod, prodCPU = append(prod, rate), append(prodCPU, usPerRow)
				} else {
					psql, psqlCPU = append(psql, rate), append(psqlCPU, usPerRow)
				}
				fmt.Fprintf(w, "  %d conn, run %d: %-8s %s rows in %4.0f ms = %s rows/s; client CPU %.2f µs/row\n",
					conns, rep+1, tool, num(float64(rows)), ms(r.wall), num(rate), usPerRow)
			}
		}
		prodMedian[conns] = median(prod)
		name := fmt.Sprintf("producer COPY, batch %d, %d conn", copyBatch, conns)
		c := paired(sec, name, prod, psql, "rows/s", "psql", 0.9)
		if conns > 1 {
			c.name += fmt.Sprintf(" (×%.2f of 1 conn)", prodMedian[conns]/prodMedian[cfg.conns[0]])
		}
		// Issue 8 asks for 90% of psql on one connection and for scaling
		// until the database saturates with 4, read as keeping up with psql
		// at the largest count; counts in between are shown, not judged.
		if conns != cfg.conns[0] && conns != cfg.conns[len(cfg.conns)-1] {
			c.info, c.target = true, "- (shown, not judged)"
		}
		if !c.met && !c.info {
			c.why = fmt.Sprintf("on %d cores the client's CPU is taken from the database's backends: the producer used %.2f µs of CPU per row, "+
				"psql %.2f µs (median); the producer's CPU profile is producer-cpu.pprof, perf/README.md says where it goes",
				runtime.NumCPU(), median(prodCPU), median(psqlCPU))
		}
		printCheck(w, c)
		checks = append(checks, c, infoCheck(sec, fmt.Sprintf("  client CPU per row, %d conn", conns),
			fmt.Sprintf("producer %.2f µs, psql %.2f µs", median(prodCPU), median(psqlCPU))))
	}
	return checks, nil
}

// clientRun is what one load of the rows took the client: the wall time
// until the last commit and the client's own CPU time.
type clientRun struct {
	wall, cpu time.Duration
}

// runProducer runs cdcbench's producer flat out and returns the span from
// the first batch's send to the last commit acknowledgement, and the CPU
// this process spent meanwhile (it does nothing else then).
func runProducer(ctx context.Context, dsn string, wl producer.WorkloadConfig, sched schedule.Schedule, rows int64) (clientRun, error) {
	p, err := producer.New(ctx, producer.Config{DSN: dsn, Insert: producer.InsertCopy, Workload: wl, Schedule: sched})
	if err != nil {
		return clientRun{}, err
	}
	defer p.Close(context.WithoutCancel(ctx))
	cpu := processCPU()
	st, err := p.Run(ctx, time.Now(), nil)
	cpu = processCPU() - cpu
	if err != nil {
		return clientRun{}, err
	}
	if st.Rows != rows {
		return clientRun{}, fmt.Errorf("producer: sent %d rows, want %d", st.Rows, rows)
	}
	return clientRun{wall: st.LastCommit.Sub(st.FirstSend), cpu: cpu}, nil
}

// writeCopyScripts writes the producer's batches (same generator, same
// seed, same split over connections) as one file per batch and, per
// connection, a psql script that \copy-s its batches in order: each \copy is
// a COPY FROM STDIN in its own transaction, as the producer sends them.
func writeCopyScripts(dir string, wl producer.WorkloadConfig, batches int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	gen := producer.NewGenerator(wl)
	rows := make([]txn.Row, wl.BatchSize)
	scripts := make([]bytes.Buffer, wl.Conns)
	cols := strings.Join(table.Columns, ", ")
	at := time.Now().UnixMicro()
	var buf []byte
	for i := 0; i < batches; i++ {
		b, conn := gen.Next(at, rows)
		buf = producer.AppendCopyRows(buf[:0], rows)
		name := filepath.Join(dir, fmt.Sprintf("batch-%06d.tsv", b))
		if err := os.WriteFile(name, buf, 0o644); err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		fmt.Fprintf(&scripts[conn], "\\copy transactions (%s) FROM '%s'\n", cols, name)
	}
	var names []string
	for i := range scripts {
		name := filepath.Join(dir, fmt.Sprintf("conn-%d.sql", i))
		if err := os.WriteFile(name, scripts[i].Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		names = append(names, name)
	}
	return names, nil
}

// runPsql runs one psql per script at once and returns the wall time until
// the last one exits and their CPU time.
func runPsql(ctx context.Context, dsn string, scripts []string) (clientRun, error) {
	start := time.Now()
	runs := make([]clientRun, len(scripts))
	errs := make([]error, len(scripts))
	var wg sync.WaitGroup
	for i, s := range scripts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], errs[i] = psql(ctx, dsn, "-f", s)
		}()
	}
	wg.Wait()
	r := clientRun{wall: time.Since(start)}
	for i, err := range errs {
		if err != nil {
			return clientRun{}, err
		}
		r.cpu += runs[i].cpu
	}
	return r, nil
}

// psql runs psql with args and returns its wall and CPU time.
func psql(ctx context.Context, dsn string, args ...string) (clientRun, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "psql", append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn}, args...)...)
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return clientRun{}, fmt.Errorf("psql %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return clientRun{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// psqlOverhead is the median wall and CPU time of a psql that connects and
// runs an empty statement: what a psql run costs besides its \copy-s.
func psqlOverhead(ctx context.Context, dsn string) (clientRun, error) {
	var walls, cpus []float64
	for i := 0; i < 5; i++ {
		r, err := psql(ctx, dsn, "-c", ";")
		if err != nil {
			return clientRun{}, fmt.Errorf("producer: %w", err)
		}
		walls, cpus = append(walls, float64(r.wall)), append(cpus, float64(r.cpu))
	}
	return clientRun{wall: time.Duration(median(walls)), cpu: time.Duration(median(cpus))}, nil
}

// createTable creates the seed's table, as a run does.
func createTable(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("create table: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, table.Schema); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	return nil
}

// emptyTable truncates the table and checkpoints, so that every run starts
// from the same state and no run pays for another's dirty pages.
func emptyTable(ctx context.Context, conn *pgx.Conn) error {
	for _, sql := range []string{"TRUNCATE transactions", "CHECKPOINT"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("producer: %s: %w", sql, err)
		}
	}
	return nil
}

func countRows(ctx context.Context, conn *pgx.Conn, want int64) error {
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM transactions").Scan(&n); err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	if n != want {
		return fmt.Errorf("the table holds %d rows, want %d", n, want)
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
