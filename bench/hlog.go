package bench

import (
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cdcbench/cdcbench/internal/live"
	"github.com/cdcbench/cdcbench/internal/recorder"
	"github.com/cdcbench/cdcbench/internal/result"
)

// rotate ends the interval [from, to) of every set, writes it to l, adds
// its e2e p99s and its alert count to tl and shows its e2e p50s and p99s
// on show (when not nil).
func rotate(l *result.IntervalLog, path string, names []string, sets []*recorder.Set, from, to time.Time, tl *latencyTimeline, show Live) error {
	p99 := make([]float64, len(sets))
	var points []live.Point
	var alerts int64
	for i, s := range sets {
		p99[i] = -1
		err := s.Rotate(func(st recorder.Stage, h *hdrhistogram.Histogram) error {
			switch st {
			case recorder.E2E:
				p99[i] = float64(h.ValueAtQuantile(99)) / 1000
				if show != nil && h.TotalCount() > 0 {
					points = append(points, latencyPoints(path, names[i], to, h)...)
				}
			case recorder.Alert:
				alerts += h.TotalCount()
			}
			return l.Write(path+"/"+names[i]+"/"+st.String(), from, to, h)
		})
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	tl.add(to, p99, alerts)
	if len(points) > 0 {
		show.Add(points...)
	}
	return nil
}

// logIntervals rotates sets every IntervalTick until stop is closed, then
// once more for the last partial interval, and reports the first error.
func logIntervals(l *result.IntervalLog, path string, names []string, sets []*recorder.Set, tl *latencyTimeline, show Live, stop <-chan struct{}) error {
	t := time.NewTicker(result.IntervalTick)
	defer t.Stop()
	from := time.Now()
	for {
		select {
		case now := <-t.C:
			if err := rotate(l, path, names, sets, from, now, tl, show); err != nil {
				return err
			}
			from = now
		case <-stop:
			return rotate(l, path, names, sets, from, time.Now(), tl, show)
		}
	}
}
