package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/relay"
	"github.com/cdcbench/cdcbench/internal/schedule"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/table"
	"github.com/cdcbench/cdcbench/internal/wait"
	"github.com/cdcbench/cdcbench/producer"
)

// perfPublication is the publication both the relay and pg_recvlogical
// stream; its name, like the slots', carries stack.Prefix so that
// `cdcbench clean` finds it if perf is killed.
const perfPublication = stack.Prefix + "perf"

// relayConfig sizes the relay comparison.
type relayConfig struct {
	dsn, replDSN string
	// profile, if set, receives a CPU profile of the first relay run.
	profile     string
	rows        int // inserted once, decoded by each run
	reps        int
	latencyRate float64       // rows/s of the latency run
	latencyFor  time.Duration // its length
}

// compareRelay measures the relay's throughput (rows decoded from the slot
// and acknowledged by kfake) against pg_recvlogical decoding the same WAL
// with pgoutput, each from a slot of its own created before the rows were
// inserted, and then both consumers' commit-to-event latency at a modest
// rate.
func compareRelay(ctx context.Context, cfg relayConfig, w io.Writer) (_ []check, err error) {
	const sec = "3 relay"
	admin, err := pgx.Connect(ctx, cfg.dsn)
	if err != nil {
		return nil, fmt.Errorf("relay: connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	var slots []string
	defer func() {
		for _, s := range slots {
			err = errors.Join(err, relay.DropSlot(context.WithoutCancel(ctx), cfg.replDSN, s))
		}
		_, derr := admin.Exec(context.WithoutCancel(ctx), "DROP PUBLICATION IF EXISTS "+perfPublication)
		err = errors.Join(err, derr)
	}()
	newSlot := func(name string) (string, error) {
		name = stack.Prefix + "perf_" + name
		if err := relay.CreateSlot(ctx, cfg.replDSN, name); err != nil {
			return "", err
		}
		slots = append(slots, name)
		return name, nil
	}
	for _, sql := range []string{"TRUNCATE transactions", "CREATE PUBLICATION " + perfPublication + " FOR TABLE transactions"} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("relay: %s: %w", sql, err)
		}
	}
	relaySlots, recvSlots := make([]string, cfg.reps), make([]string, cfg.reps)
	for i := range cfg.reps {
		if relaySlots[i], err = newSlot(fmt.Sprintf("relay_%d", i)); err != nil {
			return nil, err
		}
		if recvSlots[i], err = newSlot(fmt.Sprintf("recv_%d", i)); err != nil {
			return nil, err
		}
	}
	sched, batches := flatOut(cfg.rows / copyBatch)
	rows := int64(batches * copyBatch)
	wl := producer.WorkloadConfig{BatchSize: copyBatch, Users: 10_000, Conns: 1, FraudRate: 0.01, Seed: 1}
	if _, err := runProducer(ctx, cfg.dsn, wl, sched, rows); err != nil {
		return nil, err
	}
	var endLSN string
	if err := admin.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&endLSN); err != nil {
		return nil, fmt.Errorf("relay: current LSN: %w", err)
	}
	fmt.Fprintf(w, "  inserted %s rows in %d transactions of %d; each run decodes them from its own slot, up to %s\n",
		num(float64(rows)), batches, copyBatch, endLSN)

	var ours, theirs []float64
	for rep := range cfg.reps {
		order := []string{"relay", "pg_recvlogical"}
		if rep%2 == 1 {
			order = []string{"pg_recvlogical", "relay"}
		}
		for _, tool := range order {
			var d time.Duration
			if tool == "relay" {
				prof := ""
				if rep == 0 {
					prof = cfg.profile
				}
				d, err = relayThroughput(ctx, cfg, relaySlots[rep], rows, prof)
			} else {
				d, err = recvThroughput(ctx, cfg, recvSlots[rep], endLSN, rows)
			}
			if err != nil {
				return nil, err
			}
			rate := float64(rows) / d.Seconds()
			if tool == "relay" {
				ours = append(ours, rate)
			} else {
				theirs = append(theirs, rate)
			}
			fmt.Fprintf(w, "  run %d: %-14s %s rows in %6.0f ms = %s rows/s\n", rep+1, tool, num(float64(rows)), ms(d), num(rate))
		}
	}
	tp := paired(sec, "relay throughput (decoded, acked by kfake)", ours, theirs, "rows/s", "pg_recvlogical", 0.8)
	if !tp.met {
		tp.why = "pg_recvlogical only copies pgoutput's bytes to its output; the relay also decodes every tuple, " +
			"encodes a Debezium envelope (~3 kB with its schema) and produces it to kfake, which runs in the same process"
	}
	if cfg.profile != "" {
		if shares, err := printSplit(w, cfg.profile, "  CPU of the first relay run by component ("+cfg.profile+"):", 0); err == nil && !tp.met {
			tp.why += "; largest shares of the relay run's CPU: " + largest(shares, 0)
		}
	}
	printCheck(w, tp)
	checks := []check{tp}

	// Latency at a modest rate, both consumers live at once on the same
	// commits.
	for _, s := range slots {
		if err := relay.DropSlot(ctx, cfg.replDSN, s); err != nil {
			return checks, err
		}
	}
	slots = nil
	if _, err := admin.Exec(ctx, "TRUNCATE transactions"); err != nil {
		return checks, fmt.Errorf("relay: truncate: %w", err)
	}
	relaySlot, err := newSlot("relay_latency")
	if err != nil {
		return checks, err
	}
	recvSlot, err := newSlot("recv_latency")
	if err != nil {
		return checks, err
	}
	lc, err := measureLatency(ctx, cfg, admin, relaySlot, recvSlot, w)
	return append(checks, lc...), err
}

func (cfg relayConfig) relay(slot string, brokers []string) relay.Config {
	return relay.Config{ReplicationDSN: cfg.replDSN, Slot: slot, Publication: perfPublication, Brokers: brokers,
		Topic: stack.ChangeTopic, Name: "dbserver1", Database: "postgres", Schema: "public", Table: "transactions"}
}

// newKafka starts a fresh kfake broker configured as the embedded stack's,
// so that no run inherits another's records.
func newKafka() (*kfake.Cluster, error) {
	kf, err := kfake.NewCluster(stack.KafkaOptions(1)...)
	if err != nil {
		return nil, fmt.Errorf("relay: kfake: %w", err)
	}
	return kf, nil
}

// relayThroughput runs a relay on slot until kfake acknowledged rows events
// and returns the time from connecting to the last acknowledgement.
func relayThroughput(ctx context.Context, cfg relayConfig, slot string, rows int64, profile string) (_ time.Duration, err error) {
	kf, err := newKafka()
	if err != nil {
		return 0, err
	}
	defer kf.Close()
	if profile != "" {
		stop, err := startCPUProfile(profile)
		if err != nil {
			return 0, err
		}
		defer func() { err = errors.Join(err, stop()) }()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := relay.New(ctx, cfg.relay(slot, kf.ListenAddrs()))
	if err != nil {
		return 0, err
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for r.Stats().Events < rows {
		select {
		case err := <-done:
			stop()
			return 0, fmt.Errorf("relay: stopped after %d of %d events: %w", r.Stats().Events, rows, err)
		case <-tick.C:
		}
	}
	d := time.Since(start)
	stop()
	if err := <-done; err != nil {
		return 0, err
	}
	if st := r.Stats(); st.Events != rows || st.Skipped != 0 {
		return 0, fmt.Errorf("relay: %d events and %d skipped changes, want %d and 0", st.Events, st.Skipped, rows)
	}
	return d, nil
}

// recvThroughput runs pg_recvlogical on slot up to endLSN and returns its
// wall time, start-up and connection included as the relay's are.
func recvThroughput(ctx context.Context, cfg relayConfig, slot, endLSN string, rows int64) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var lat commitLatencies
	start := time.Now()
	rl, err := startRecvLogical(ctx, cfg.dsn, slot, perfPublication, endLSN, lat.onMsg)
	if err != nil {
		return 0, err
	}
	if err := rl.Wait(); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if n := lat.inserts.Load(); n != rows {
		return 0, fmt.Errorf("pg_recvlogical: streamed %d inserts up to %s, want %d", n, endLSN, rows)
	}
	return d, nil
}

// measureLatency runs the relay (with a consumer reading its events from
// kfake) and pg_recvlogical side by side while the producer writes
// cfg.latencyRate rows/s, and compares their commit-to-event medians.
func measureLatency(ctx context.Context, cfg relayConfig, admin *pgx.Conn, relaySlot, recvSlot string, w io.Writer) ([]check, error) {
	const sec = "3 relay"
	kf, err := newKafka()
	if err != nil {
		return nil, err
	}
	defer kf.Close()
	r, err := relay.New(ctx, cfg.relay(relaySlot, kf.ListenAddrs()))
	if err != nil {
		return nil, err
	}
	rctx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan error, 1)
	go func() { relayDone <- r.Run(rctx) }()
	defer func() {
		stopRelay()
		<-relayDone
	}()

	var recv commitLatencies
	rl, err := startRecvLogical(ctx, cfg.dsn, recvSlot, perfPublication, "", recv.onMsg)
	if err != nil {
		return nil, err
	}
	recvStopped := false
	defer func() {
		if !recvStopped {
			_ = rl.Stop()
		}
	}()

	ev, err := newEventReader(ctx, kf.ListenAddrs())
	if err != nil {
		return nil, err
	}
	defer ev.close()

	// A probe row must reach both before anything is measured.
	if _, err := admin.Exec(ctx, "INSERT INTO transactions (id, user_id, amount, card_type, merchant_id, created_at) "+
		"VALUES ($1, $2, 1.00, 'VISA', 1, now() AT TIME ZONE 'utc')", table.ProbeID, table.ProbeUserID); err != nil {
		return nil, fmt.Errorf("relay: probe: %w", err)
	}
	if err := wait.Until(ctx, time.Now().Add(30*time.Second), time.Millisecond, func() (bool, error) {
		return recv.inserts.Load() >= 1 && ev.count() >= 1, nil
	}); err != nil {
		return nil, fmt.Errorf("relay: the probe row did not reach the relay's topic and pg_recvlogical within 30s: %w", err)
	}
	recv.record.Store(true)
	ev.startRecording()

	const batch = 50
	wl := producer.WorkloadConfig{BatchSize: batch, Users: 10_000, Conns: 1, FraudRate: 0.01, Seed: 1}
	sched := schedule.Constant{PerSecond: cfg.latencyRate / batch, Length: cfg.latencyFor}
	fmt.Fprintf(w, "  latency: %s rows/s in batches of %d for %v, relay and pg_recvlogical on the same commits\n",
		num(cfg.latencyRate), batch, cfg.latencyFor)
	p, err := producer.New(ctx, producer.Config{DSN: cfg.dsn, Insert: producer.InsertCopy, Workload: wl, Schedule: sched})
	if err != nil {
		return nil, err
	}
	st, err := p.Run(ctx, time.Now(), nil)
	p.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	if err := wait.Until(ctx, time.Now().Add(30*time.Second), time.Millisecond, func() (bool, error) {
		return recv.inserts.Load() >= st.Rows+1 && ev.count() >= st.Rows+1, nil
	}); err != nil {
		return nil, fmt.Errorf("relay: 30s after %d rows pg_recvlogical saw %d, the topic %d: %w", st.Rows+1, recv.inserts.Load(), ev.count(), err)
	}
	recvStopped = true
	if err := rl.Stop(); err != nil {
		return nil, err
	}
	envelope, received, err := ev.stop()
	if err != nil {
		return nil, err
	}

	rp, pp, kp := percentiles(envelope), percentiles(recv.samples), percentiles(received)
	fmt.Fprintf(w, "  %-44s p50 %6.3f ms  p90 %6.3f  p99 %6.3f  (%d rows)\n", "relay commit→event (envelope ts_us − source.ts_us)", rp[0], rp[1], rp[2], len(envelope))
	fmt.Fprintf(w, "  %-44s p50 %6.3f ms  p90 %6.3f  p99 %6.3f  (%d rows)\n", "pg_recvlogical commit→message read from its pipe", pp[0], pp[1], pp[2], len(recv.samples))
	fmt.Fprintf(w, "  %-44s p50 %6.3f ms  p90 %6.3f  p99 %6.3f  (%d rows)\n", "relay commit→consumer receive (via kfake)", kp[0], kp[1], kp[2], len(received))

	diff := rp[0] - pp[0]
	c := check{section: sec, name: fmt.Sprintf("relay commit→event p50 at %s rows/s", num(cfg.latencyRate)),
		figure: fmt.Sprintf("%.3f ms (pg_recvlogical %.3f ms, %+.3f ms)", rp[0], pp[0], diff),
		target: "≤ pg_recvlogical + 1 ms", ratio: rp[0] / pp[0], ratioOf: "pg_recvlogical", met: diff <= 1}
	if !c.met {
		c.why = "the relay takes a commit's events more than 1 ms later than pg_recvlogical; both read the same commits at the same time"
	}
	printCheck(w, c)
	return []check{c, infoCheck(sec, "relay commit→consumer receive p50 (incl. kfake)", fmt.Sprintf("%.3f ms", kp[0]))}, nil
}

// eventReader consumes the change topic and samples each event's
// commit-to-event time from its envelope and commit-to-receive time from
// the clock.
type eventReader struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu        sync.Mutex
	n         int64
	recording bool
	envelope  []time.Duration
	received  []time.Duration
	err       error
}

func newEventReader(ctx context.Context, brokers []string) (*eventReader, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(stack.ChangeTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, fmt.Errorf("relay: consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &eventReader{cl: cl, cancel: cancel, done: make(chan struct{})}
	go e.run(ctx)
	return e, nil
}

func (e *eventReader) run(ctx context.Context) {
	defer close(e.done)
	dec := changeevent.NewDecoder()
	var ev changeevent.Event
	for ctx.Err() == nil {
		fs := e.cl.PollFetches(ctx)
		now := time.Now().UnixMicro()
		e.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			if err := dec.Decode(rec.Value, &ev); err != nil {
				e.err = errors.Join(e.err, err)
				return
			}
			e.n++
			if e.recording {
				e.envelope = append(e.envelope, time.Duration(ev.EventTsUs-ev.SourceTsUs)*time.Microsecond)
				e.received = append(e.received, time.Duration(now-ev.SourceTsUs)*time.Microsecond)
			}
		})
		e.mu.Unlock()
	}
}

func (e *eventReader) count() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *eventReader) startRecording() {
	e.mu.Lock()
	e.recording = true
	e.mu.Unlock()
}

// stop ends the consumer and returns its samples, or the first event it
// could not decode.
func (e *eventReader) stop() (envelope, received []time.Duration, err error) {
	e.close()
	if e.err != nil {
		return nil, nil, fmt.Errorf("relay: decoding the change topic: %w", e.err)
	}
	return e.envelope, e.received, nil
}

func (e *eventReader) close() {
	e.once.Do(func() {
		e.cancel()
		<-e.done
		e.cl.Close()
	})
}

// percentiles returns p50, p90 and p99 in milliseconds (nearest rank).
func percentiles(ds []time.Duration) [3]float64 {
	if len(ds) == 0 {
		return [3]float64{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var out [3]float64
	for i, q := range []float64{0.50, 0.90, 0.99} {
		k := int(q*float64(len(s))+0.999999) - 1
		out[i] = ms(s[max(0, min(k, len(s)-1))])
	}
	return out
}
