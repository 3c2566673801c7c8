package bench

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cdcbench/cdcbench/recorder"
)

// HlogFile is the run's interval histogram log, in HdrHistogram's log
// format (1.3), one tag per path/agent/stage and one interval per second.
// Values are microseconds: HistogramLogProcessor wants -outputValueUnitRatio 1000
// to print milliseconds.
const HlogFile = "latency.hlog"

// IntervalTick is the length of an interval in the log.
const IntervalTick = time.Second

// intervalLog writes interval histograms as the run goes, so a long run's
// history costs disk, not memory.
type intervalLog struct {
	mu   sync.Mutex
	f    *os.File
	w    *hdrhistogram.HistogramLogWriter
	base time.Time
}

func openIntervalLog(path string, base time.Time) (*intervalLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: interval log: %w", err)
	}
	// The log's header holds the base time in whole seconds; a base with a
	// fraction would shift every absolute time read back by up to a second.
	base = base.Truncate(time.Second)
	l := &intervalLog{f: f, w: hdrhistogram.NewHistogramLogWriter(f), base: base}
	ms := base.UnixMilli()
	l.w.SetBaseTime(ms)
	for _, step := range []func() error{
		l.w.OutputLogFormatVersion,
		func() error {
			return l.w.OutputComment("cdcbench interval log; values in microseconds; tags are path/agent/stage")
		},
		func() error { return l.w.OutputStartTime(ms) },
		func() error { return l.w.OutputBaseTime(ms) },
		l.w.OutputLegend,
	} {
		if err := step(); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("bench: interval log header: %w", err)
		}
	}
	return l, nil
}

// rotate ends the interval [from, to) of every set, writes it, and adds
// its e2e p99s to tl.
func (l *intervalLog) rotate(path string, names []string, sets []*recorder.Set, from, to time.Time, tl *latencyTimeline) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p99 := make([]float64, len(sets))
	for i, s := range sets {
		p99[i] = -1
		err := s.Rotate(func(st recorder.Stage, h *hdrhistogram.Histogram) error {
			if st == recorder.E2E {
				p99[i] = float64(h.ValueAtQuantile(99)) / 1000
			}
			h.SetTag(path + "/" + names[i] + "/" + st.String())
			h.SetStartTimeMs(from.UnixMilli())
			h.SetEndTimeMs(to.UnixMilli())
			return l.w.OutputIntervalHistogram(h)
		})
		if err != nil {
			return fmt.Errorf("bench: interval log: %w", err)
		}
	}
	tl.add(to, p99)
	return nil
}

func (l *intervalLog) close() error { return l.f.Close() }

// logIntervals rotates sets every IntervalTick until stop is closed, then
// once more for the last partial interval, and reports the first error.
func logIntervals(l *intervalLog, path string, names []string, sets []*recorder.Set, tl *latencyTimeline, stop <-chan struct{}) error {
	t := time.NewTicker(IntervalTick)
	defer t.Stop()
	from := time.Now()
	for {
		select {
		case now := <-t.C:
			if err := l.rotate(path, names, sets, from, now, tl); err != nil {
				return err
			}
			from = now
		case <-stop:
			return l.rotate(path, names, sets, from, time.Now(), tl)
		}
	}
}
