// Package metrics samples the pipeline's own signals once a second while a
// path runs: the JMX exporters of the JVMs (Debezium's queue and lag,
// Connect's source task and producer, the broker's produce time, GC and
// heap; package jmxexporter), any exporter the user names (--metrics-url),
// the WAL the path's replication slot retains, and the consumer lag of
// its agents' groups. Beside the latency they say why a path fell behind,
// which the latency alone cannot.
//
// A Sampler keeps its series for result.json and hands each second's
// samples to Config.OnSample as they are taken, for a live consumer.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcbench/cdcbench/internal/proccost"
	"github.com/cdcbench/cdcbench/internal/result"
)

// Every is how often a Sampler samples: the resolution of the latency
// intervals it is charted beside.
const Every = time.Second

// scrapeTimeout bounds one source's sample, so that a JVM that does not
// answer (stopped by a fault, paused in GC) costs one missing point, not
// the samples after it.
const scrapeTimeout = 800 * time.Millisecond

// Target is an exporter serving Prometheus's text format.
type Target struct {
	// Name starts its series' names: "connect", "broker", "external-1".
	Name string
	URL  string
}

// Sample is one series' value at one sampling time.
type Sample struct {
	Series string // "connect.debezium_queue_remaining"
	Value  float64
}

// Config configures New. Every source is optional.
type Config struct {
	Targets []Target
	// DB, with Slot, samples the WAL the slot retains: from its
	// restart_lsn (database.slot_retained_bytes) and from its
	// confirmed_flush_lsn (database.slot_unconfirmed_bytes); with or
	// without a slot, the server's WAL fsyncs (database.wal_sync_*, from
	// pg_stat_wal). The sampler uses the connection alone while it runs.
	DB   *pgx.Conn
	Slot string
	// Brokers, with Groups, samples each consumer group's lag, summed over
	// its partitions (kafka.lag.<Label>).
	Brokers []string
	Groups  []Group
	// Processes are this machine's processes whose threads' CPU is sampled
	// (a JVM's streaming thread at a full core is a ceiling no per-process
	// figure shows): <name>.busiest_thread_cores, and
	// <name>.thread_cores.<thread name> for each thread name that used at
	// least threadFloor of a core in the second (threads of one name
	// summed).
	Processes []Process
	// Origin is the time the series' seconds are counted from.
	Origin time.Time
	// OnSample, when set, receives each sampling's time and samples as
	// they are taken, from the sampler's goroutine: a live page's feed.
	// It must return quickly; the samples are its own.
	OnSample func(t time.Time, s []Sample)
}

// Process is a process of this machine, by its current pids (none while
// it is down).
type Process struct {
	Name string
	PIDs func() []int
}

// threadFloor is the CPU, in cores, below which a thread name gets no
// sample in a second: a JVM has a hundred threads, nearly all idle.
const threadFloor = 0.05

// Group is a consumer group and the label its lag series carries.
type Group struct{ Name, Label string }

// Sampler samples Config's sources until its Run ends.
type Sampler struct {
	cfg    Config
	http   *http.Client
	kafka  *kgo.Client
	prev   map[string]counter   // a rate signal's previous counter
	ticks  map[threadKey]int64  // each thread's CPU ticks at the last sample
	ticked time.Time            // when ticks were read
	errors map[string]*failures // by source
	wal    walSyncs             // pg_stat_wal's at the last sample

	mu     sync.Mutex
	series map[string]*result.MetricSeries
	cpu    time.Duration // the sampling thread's CPU time
}

// failures counts a source's failed samples and keeps the last error.
type failures struct {
	n    int
	last error
}

type threadKey struct {
	process  string
	pid, tid int
}

type counter struct {
	at    time.Time
	value float64
}

// New checks cfg and connects to the broker when it samples lag.
func New(cfg Config) (*Sampler, error) {
	var errs []error
	for i, p := range cfg.Processes {
		if p.Name == "" || p.PIDs == nil {
			errs = append(errs, fmt.Errorf("metrics: process %d: a name and its pids are needed", i+1))
		}
	}
	for i, t := range cfg.Targets {
		if t.Name == "" || t.URL == "" {
			errs = append(errs, fmt.Errorf("metrics: target %d: a name and a URL are needed (%q, %q)", i+1, t.Name, t.URL))
		}
	}
	if (cfg.DB == nil) != (cfg.Slot == "") {
		errs = append(errs, errors.New("metrics: the slot's WAL needs both a connection and a slot name"))
	}
	if len(cfg.Groups) > 0 && len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("metrics: consumer lag needs the brokers"))
	}
	if cfg.Origin.IsZero() {
		errs = append(errs, errors.New("metrics: no origin for the series' seconds"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Sampler{cfg: cfg, http: &http.Client{Timeout: scrapeTimeout}, prev: map[string]counter{}, ticks: map[threadKey]int64{},
		errors: map[string]*failures{}, series: map[string]*result.MetricSeries{}}
	if len(cfg.Groups) > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
		if err != nil {
			return nil, fmt.Errorf("metrics: kafka client: %w", err)
		}
		s.kafka = cl
	}
	return s, nil
}

// Run samples every source once a second until ctx ends. It runs on an
// OS thread of its own, so that its CPU time (CPU) is the sampler's alone:
// the machine cost reports it.
func (s *Sampler) Run(ctx context.Context) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s.kafka != nil {
		defer s.kafka.Close()
	}
	t0 := threadCPU()
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		s.sample(ctx, time.Now())
		s.mu.Lock()
		s.cpu = threadCPU() - t0
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// CPU is the CPU time the sampling has used so far (its thread's user and
// system time; the HTTP client's network reads run on other threads and
// are not in it).
func (s *Sampler) CPU() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cpu
}

// threadCPU is the calling thread's user and system CPU time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sample takes one sample of every source, keeps it and hands it on.
func (s *Sampler) sample(ctx context.Context, now time.Time) {
	var out []Sample
	for _, t := range s.cfg.Targets {
		got, err := s.scrape(ctx, t, now)
		s.note(t.Name, err)
		out = append(out, got...)
	}
	if len(s.cfg.Processes) > 0 {
		out = append(out, s.threads(now)...)
	}
	if s.cfg.DB != nil {
		got, err := s.slotWAL(ctx)
		s.note("database", err)
		out = append(out, got...)
		got, err = s.walSync(ctx, now)
		s.note("database", err)
		out = append(out, got...)
	}
	if s.kafka != nil {
		got, err := s.lag(ctx)
		s.note("kafka", err)
		out = append(out, got...)
	}
	if ctx.Err() != nil && len(out) == 0 {
		return
	}
	s.keep(now, out)
	if s.cfg.OnSample != nil && len(out) > 0 {
		s.cfg.OnSample(now, out)
	}
}

func (s *Sampler) note(source string, err error) {
	if err == nil {
		return
	}
	f := s.errors[source]
	if f == nil {
		f = &failures{}
		s.errors[source] = f
	}
	f.n++
	f.last = err
}

// scrape reads one exporter and selects its signals; a rate signal gives
// its first value at its second reading.
func (s *Sampler) scrape(ctx context.Context, t Target, now time.Time) ([]Sample, error) {
	rctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics: %s: %w", t.Name, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %s: %w", t.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s: %s answered %s", t.Name, t.URL, resp.Status)
	}
	fams, err := parse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("metrics: %s: %w", t.Name, err)
	}
	var out []Sample
	for _, r := range selectSignals(fams) {
		name := t.Name + "." + r.sig.name
		if !r.sig.rate {
			out = append(out, Sample{Series: name, Value: r.value})
			continue
		}
		prev, ok := s.prev[name]
		s.prev[name] = counter{at: now, value: r.value}
		if dt := now.Sub(prev.at).Seconds(); ok && dt > 0 && r.value >= prev.value {
			out = append(out, Sample{Series: name, Value: (r.value - prev.value) / dt * r.sig.scale})
		}
	}
	return out, nil
}

// threads is the CPU each process's threads used since the last sample,
// in cores: the busiest thread, and each thread name above threadFloor. A
// thread first seen now (or a process just restarted) gives its first
// figure at the next sample.
func (s *Sampler) threads(now time.Time) []Sample {
	dt := now.Sub(s.ticked).Seconds()
	first := s.ticked.IsZero()
	s.ticked = now
	ticks := make(map[threadKey]int64, len(s.ticks))
	var out []Sample
	for _, p := range s.cfg.Processes {
		byName := map[string]float64{}
		busiest, seen := 0.0, false
		for _, pid := range p.PIDs() {
			ts, err := proccost.ReadThreads(pid)
			if err != nil {
				s.note(p.Name, fmt.Errorf("metrics: %s threads: %w", p.Name, err))
				continue
			}
			for tid, th := range ts {
				k := threadKey{p.Name, pid, tid}
				ticks[k] = th.Ticks
				before, ok := s.ticks[k]
				if !ok || first || dt <= 0 {
					continue
				}
				cores := float64(th.Ticks-before) / proccost.TicksPerSecond / dt
				byName[th.Name] += cores
				busiest, seen = max(busiest, cores), true
			}
		}
		if !seen {
			continue
		}
		out = append(out, Sample{Series: p.Name + ".busiest_thread_cores", Value: busiest})
		for name, c := range byName {
			if c >= threadFloor {
				out = append(out, Sample{Series: p.Name + ".thread_cores." + name, Value: c})
			}
		}
	}
	s.ticks = ticks
	sort.Slice(out, func(i, j int) bool { return out[i].Series < out[j].Series })
	return out
}

// slotWAL is the WAL the slot holds back, in bytes.
func (s *Sampler) slotWAL(ctx context.Context) ([]Sample, error) {
	qctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	var retained, unconfirmed *float64
	err := s.cfg.DB.QueryRow(qctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8,
		pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8
		FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&retained, &unconfirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil // not created yet, or dropped
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: slot %s: %w", s.cfg.Slot, err)
	}
	var out []Sample
	if retained != nil {
		out = append(out, Sample{Series: "database.slot_retained_bytes", Value: *retained})
	}
	if unconfirmed != nil {
		out = append(out, Sample{Series: "database.slot_unconfirmed_bytes", Value: *unconfirmed})
	}
	return out, nil
}

// walSync is the autovacuum workers running now and the server's WAL
// fsyncs since the last sample, from
// pg_stat_wal (PostgreSQL 14 and later): how many a second and how long
// they took, in ms per second and on average. A commit waits for its
// fsync (synchronous_commit on), so a slow one delays every row of that
// moment on every path, before any capture could see it. The times need
// track_wal_io_timing, on in a private cluster; without it only the count
// is sampled. The first sample only sets the baseline.
func (s *Sampler) walSync(ctx context.Context, now time.Time) ([]Sample, error) {
	qctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	var syncs, ms, vacuums float64
	var timed bool
	err := s.cfg.DB.QueryRow(qctx, `SELECT wal_sync::float8, wal_sync_time::float8,
		current_setting('track_wal_io_timing')::bool,
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker')::float8
		FROM pg_stat_wal`).Scan(&syncs, &ms, &timed, &vacuums)
	if err != nil {
		return nil, fmt.Errorf("metrics: pg_stat_wal: %w", err)
	}
	// Autovacuum's workers compete with the commits for the disk and the
	// cores: an insert-only table is vacuumed and analysed as it grows.
	out := []Sample{{Series: "database.autovacuum_workers", Value: vacuums}}
	prev := s.wal
	s.wal = walSyncs{at: now, syncs: syncs, ms: ms}
	secs := now.Sub(prev.at).Seconds()
	if prev.at.IsZero() || secs <= 0 || syncs < prev.syncs {
		return out, nil
	}
	n := syncs - prev.syncs
	out = append(out, Sample{Series: "database.wal_syncs_per_s", Value: n / secs})
	if timed {
		out = append(out, Sample{Series: "database.wal_sync_ms_per_s", Value: (ms - prev.ms) / secs})
		if n > 0 {
			out = append(out, Sample{Series: "database.wal_sync_avg_ms", Value: (ms - prev.ms) / n})
		}
	}
	return out, nil
}

// walSyncs is pg_stat_wal's fsync counters at one sample.
type walSyncs struct {
	at        time.Time
	syncs, ms float64
}

// lag is each group's lag summed over its partitions; a group that does
// not exist (yet) gives no sample.
func (s *Sampler) lag(ctx context.Context) ([]Sample, error) {
	qctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	names := make([]string, len(s.cfg.Groups))
	for i, g := range s.cfg.Groups {
		names[i] = g.Name
	}
	lags, err := kadm.NewClient(s.kafka).Lag(qctx, names...)
	if err != nil {
		return nil, fmt.Errorf("metrics: consumer lag: %w", err)
	}
	var out []Sample
	for _, g := range s.cfg.Groups {
		l, ok := lags[g.Name]
		if !ok || l.Error() != nil || l.Lag == nil || l.State == "Dead" {
			continue
		}
		out = append(out, Sample{Series: "kafka.lag." + g.Label, Value: float64(l.Lag.Total())})
	}
	return out, nil
}

// keep appends the samples to their series.
func (s *Sampler) keep(now time.Time, samples []Sample) {
	sec := now.Sub(s.cfg.Origin).Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range samples {
		ser, ok := s.series[x.Series]
		if !ok {
			ser = &result.MetricSeries{Name: x.Series, Unit: Unit(x.Series)}
			s.series[x.Series] = ser
		}
		ser.Seconds = append(ser.Seconds, sec)
		ser.Values = append(ser.Values, x.Value)
	}
}

// Series are the series sampled so far, by name.
func (s *Sampler) Series() []result.MetricSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]result.MetricSeries, 0, len(s.series))
	for _, ser := range s.series {
		out = append(out, *ser)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Errors say, for each source that failed at least once, how often and
// its last error: why a series has gaps or is missing. Call it after Run.
func (s *Sampler) Errors() []string {
	var out []string
	for _, f := range s.errors {
		out = append(out, fmt.Sprintf("%d samples failed, the last: %v", f.n, f.last))
	}
	sort.Strings(out)
	return out
}
