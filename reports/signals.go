package reports

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/result"
)

// The rule that names what moved with a path's tail. It is deliberately
// plain: one span of the run (the slice with the worst p99, or the whole
// measured window), the peak of each internal signal in it, and a
// threshold per signal tied to the run's p99 objective, so that a reader
// can redo it from result.json by hand.
//
//   - Debezium's queue counts as full in a sample with at most fullQueue of
//     its capacity free; it is named when full in at least one sample.
//   - A delay (Debezium behind the source, a record's wait in Connect's
//     producer, the producer's request latency, the broker's produce p99,
//     a JVM's GC pause time in one second) is named when its peak reaches
//     delayShare of the objective.
//   - A thread of a process (Debezium's streaming thread in Connect) is
//     named when it used at least busyThread of a core in a second: one
//     thread's ceiling, which the process's CPU does not show.
//   - An agent group's consumer lag is named when its lowest value in the
//     span is more rows than the span's offered rate delivers in one
//     second plus one objective: the lag is of committed offsets, which
//     the agents commit every 5 s (franz-go's default), so its peaks are
//     the commit interval's rows, and a sample a second after a commit
//     still holds a second of rows; only a trough above that is a backlog.
//
// Signals are named in the order a row meets them, source to agent.
const (
	fullQueue  = 0.10
	delayShare = 0.25
	busyThread = 0.9
)

// defaultObjective stands in for a scenario without objective.p99.
const defaultObjective = 100 * time.Millisecond

// delaySignals are the delays the rule looks at, in trip order, with how
// the line names them: the peak for %s, the series' source for SOURCE.
var delaySignals = []struct{ signal, text string }{
	{"wal_sync_avg_ms", "the database's WAL fsyncs, which every commit waits for, took up to %s ms on average in a second"},
	{"debezium_ms_behind_source", "Debezium was up to %s ms behind the source"},
	{"producer_record_queue_time_avg_ms", "Connect's producer held a record up to %s ms on average before sending it"},
	{"producer_request_latency_avg_ms", "Connect's produce requests took up to %s ms on average"},
	{"broker_produce_time_p99_ms", "the broker's produce p99 reached %s ms"},
	{"gc_pause_ms_per_s", "SOURCE GC paused up to %s ms in a second"},
}

// tailSpan is the span of path p the rule looks at, in seconds from the
// schedule's start: the slice with the worst e2e p99, or the measured
// window; with what it offered and its worst p99.
type tailSpan struct {
	from, to, rate, p99 float64
	slice               bool
}

func worstSpan(p result.Path, warmupS float64) tailSpan {
	best := tailSpan{from: warmupS, to: warmupS + p.MeasuredSeconds, rate: p.TargetRowsPerS}
	for _, a := range p.Agents {
		best.p99 = max(best.p99, a.E2E.P99)
	}
	worst := -1.0
	for i := range p.Slices {
		sl := &p.Slices[i]
		if len(sl.E2E) == 0 {
			continue
		}
		if w := worstP99(sl); w > worst {
			worst = w
			best = tailSpan{from: sl.FromS, to: sl.ToS, rate: sl.TargetRowsPerS, p99: w, slice: true}
		}
	}
	return best
}

// tailLine is the summary's line for p: what moved with its tail, or that
// no sampled signal did; "" for a path without metrics.
func tailLine(p result.Path, warmupS float64, objective time.Duration) string {
	if len(p.Metrics) == 0 {
		return ""
	}
	if objective <= 0 {
		objective = defaultObjective
	}
	sp := worstSpan(p, warmupS)
	where := fmt.Sprintf("over the measured window (%s rows/s, worst p99 %s ms)", thousands(sp.rate), trim(sp.p99))
	if sp.slice {
		where = fmt.Sprintf("at %s rows/s (seconds %s–%s, its worst p99 %s ms)", thousands(sp.rate), trim(sp.from), trim(sp.to), trim(sp.p99))
	}
	moved := movedSignals(p, sp, objective)
	if len(moved) == 0 {
		return fmt.Sprintf("%s %s: no sampled signal passed its threshold (queue ≥ %.0f%% full, a thread ≥ %.1f core, a delay ≥ %s ms, a lag trough ≥ %s ms of rows)",
			p.Name, where, 100*(1-fullQueue), busyThread, trim(delayShare*ms64(objective)), thousands(1000+ms64(objective)))
	}
	return fmt.Sprintf("%s %s: %s", p.Name, where, strings.Join(moved, "; "))
}

// tailLines are the tail lines of res's paths that have metrics.
func tailLines(res *result.Result) []string {
	var lines []string
	for _, p := range res.Paths {
		if l := tailLine(p, warmupOf(res).Seconds(), objective(res)); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// movedSignals applies the rule to p's series within sp.
func movedSignals(p result.Path, sp tailSpan, objective time.Duration) []string {
	var out []string
	for _, s := range seriesBySignal(p, "debezium_queue_remaining") {
		total := p.Metric(source(s.Name) + ".debezium_queue_total")
		if total == nil {
			continue
		}
		full, capacity := 0, 0.0
		for i, sec := range s.Seconds {
			c, ok := valueAt(total, sec)
			if sec < sp.from || sec >= sp.to || !ok || c <= 0 {
				continue
			}
			capacity = c
			if s.Values[i] <= fullQueue*c {
				full++
			}
		}
		if full > 0 {
			out = append(out, fmt.Sprintf("Debezium's queue (%s records) was full in %d s", thousands(capacity), full))
		}
	}
	for _, s := range seriesBySignal(p, "thread_cores.") {
		if peak, ok := peakIn(s, sp); ok && peak >= busyThread {
			out = append(out, fmt.Sprintf("%s's thread %s used up to %.2f of a core (one thread's ceiling)", source(s.Name), strings.TrimPrefix(signal(s.Name), "thread_cores."), peak))
		}
	}
	limit := delayShare * ms64(objective)
	for _, d := range delaySignals {
		for _, s := range seriesBySignal(p, d.signal) {
			if peak, ok := peakIn(s, sp); ok && peak >= limit {
				out = append(out, strings.ReplaceAll(fmt.Sprintf(d.text, trim(peak)), "SOURCE", source(s.Name)))
			}
		}
	}
	lagLimit := sp.rate * (1 + objective.Seconds())
	for _, s := range seriesBySignal(p, "lag.") {
		if low, ok := lowIn(s, sp); ok && lagLimit > 0 && low >= lagLimit {
			out = append(out, fmt.Sprintf("agent %s stayed at least %s records behind", strings.TrimPrefix(signal(s.Name), "lag."), thousands(low)))
		}
	}
	return out
}

// seriesBySignal is p's series of a signal (or, ending in '.', a family
// of them) from any source: a run's own exporters and --metrics-url's.
func seriesBySignal(p result.Path, sig string) []*result.MetricSeries {
	var out []*result.MetricSeries
	for i := range p.Metrics {
		s := signal(p.Metrics[i].Name)
		if s == sig || (strings.HasSuffix(sig, ".") && strings.HasPrefix(s, sig)) {
			out = append(out, &p.Metrics[i])
		}
	}
	return out
}

// source and signal split a series name, "connect.gc_pause_ms_per_s".
func source(name string) string { s, _, _ := strings.Cut(name, "."); return s }
func signal(name string) string { _, s, _ := strings.Cut(name, "."); return s }

// peakIn is the largest value of s within sp.
func peakIn(s *result.MetricSeries, sp tailSpan) (float64, bool) {
	peak, ok := math.Inf(-1), false
	for i, sec := range s.Seconds {
		if sec >= sp.from && sec < sp.to {
			peak, ok = max(peak, s.Values[i]), true
		}
	}
	return peak, ok
}

// lowIn is the smallest value of s within sp.
func lowIn(s *result.MetricSeries, sp tailSpan) (float64, bool) {
	low, ok := math.Inf(1), false
	for i, sec := range s.Seconds {
		if sec >= sp.from && sec < sp.to {
			low, ok = min(low, s.Values[i]), true
		}
	}
	return low, ok
}

// valueAt is s's sample nearest to sec, within a second.
func valueAt(s *result.MetricSeries, sec float64) (float64, bool) {
	best, v := 1.0, 0.0
	ok := false
	for i, t := range s.Seconds {
		if d := math.Abs(t - sec); d <= best {
			best, v, ok = d, s.Values[i], true
		}
	}
	return v, ok
}

func ms64(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// trim writes v with no more than one decimal, none for 100 or more.
func trim(v float64) string {
	if math.Abs(v) >= 100 {
		return thousands(v)
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
}

// thousands writes v rounded, with commas: 12,500.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	if v < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// objective is the scenario's objective.p99, 0 when result.json does not
// say.
func objective(res *result.Result) time.Duration {
	m, _ := res.Scenario.(map[string]any)
	o, _ := m["objective"].(map[string]any)
	s, _ := o["p99"].(string)
	d, _ := time.ParseDuration(s)
	return d
}
