package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// tagSeries is one path x agent's stage as latency.hlog holds it: the figures
// of every interval, for latency over time, and all intervals merged, for the
// percentile spectrum.
type tagSeries struct {
	path, agent string
	intervals   []intervalStat
	merged      *hdrhistogram.Histogram
}

// intervalStat is one interval's figures in milliseconds.
type intervalStat struct {
	startMs       int64 // absolute, ms since the epoch
	count         int64
	p50, p99, max float64
}

// readStage reads the interval histograms of one stage (e.g. "e2e") from an
// interval log whose tags are path/agent/stage, in the order the tags first
// appear. Lines of other stages are dropped before decoding: a decoded
// histogram of cdcbench's range takes about 200 KB, and a long run's log has
// thousands of lines per stage.
func readStage(r io.Reader, stage string) ([]*tagSeries, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("hlog: %w", err)
	}
	var kept bytes.Buffer
	for line := range bytes.Lines(raw) {
		if tag, ok := bytes.CutPrefix(line, []byte("Tag=")); ok {
			tag, _, _ = bytes.Cut(tag, []byte(","))
			if !bytes.HasSuffix(tag, []byte("/"+stage)) {
				continue
			}
		}
		kept.Write(line)
	}
	lr := hdrhistogram.NewHistogramLogReader(&kept)
	byTag := map[string]*tagSeries{}
	var order []*tagSeries
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("hlog: %w", err)
		}
		if h == nil {
			return order, nil
		}
		s := byTag[h.Tag()]
		if s == nil {
			parts := strings.Split(h.Tag(), "/")
			if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] != stage {
				return nil, fmt.Errorf("hlog: interval tagged %q, want path/agent/%s", h.Tag(), stage)
			}
			s = &tagSeries{path: parts[0], agent: parts[1], merged: h.Clone()}
			byTag[h.Tag()] = s
			order = append(order, s)
		} else if dropped := s.merged.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("hlog: merging %s dropped %d values: its intervals differ in range", h.Tag(), dropped)
		}
		v := h.ValueAtPercentilesSlice([]float64{50, 99})
		s.intervals = append(s.intervals, intervalStat{
			startMs: h.StartTimeMs(),
			count:   h.TotalCount(),
			p50:     usToMs(v[0]),
			p99:     usToMs(v[1]),
			max:     usToMs(h.Max()),
		})
	}
}

// usToMs converts the log's microseconds to the report's milliseconds.
func usToMs(us int64) float64 { return float64(us) / 1000 }
