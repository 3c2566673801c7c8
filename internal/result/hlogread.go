package result

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// TagSeries is one path x agent's stage as latency.hlog holds it: the figures
// of every interval, for latency over time, and all intervals merged, for the
// percentile spectrum.
type TagSeries struct {
	Path, Agent string
	Intervals   []IntervalStat
	Merged      *hdrhistogram.Histogram
}

// IntervalStat is one interval's figures in milliseconds.
type IntervalStat struct {
	StartMs       int64 // absolute, ms since the epoch
	Count         int64
	P50, P99, Max float64
}

// MaxHlogBytes bounds an interval log: a line per second per
// path/agent/stage, about 60 MB an hour for three paths.
const MaxHlogBytes = 1 << 30

// keepTag reports whether a line tagged tag (what follows "Tag=") is one of
// stage's.
func keepTag(tag []byte, stage string) bool {
	tag, _, _ = bytes.Cut(tag, []byte(","))
	return bytes.HasSuffix(tag, []byte("/"+stage))
}

// ReadStage reads the interval histograms of one stage (e.g. "e2e") from an
// interval log whose tags are path/agent/stage, in the order the tags first
// appear. Lines of other stages are dropped before decoding: a decoded
// histogram of cdcbench's range takes about 200 KB, and a long run's log has
// thousands of lines per stage.
func ReadStage(r io.Reader, stage string) ([]*TagSeries, error) {
	// Line by line: only the stage's lines are held, not the whole log.
	br := bufio.NewReader(r)
	var kept bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		if tag, ok := bytes.CutPrefix(line, []byte("Tag=")); !ok || keepTag(tag, stage) {
			kept.Write(line)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("hlog: %w", err)
		}
	}
	lr := hdrhistogram.NewHistogramLogReader(&kept)
	byTag := map[string]*TagSeries{}
	var order []*TagSeries
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
			s = &TagSeries{Path: parts[0], Agent: parts[1], Merged: h.Clone()}
			byTag[h.Tag()] = s
			order = append(order, s)
		} else if dropped := s.Merged.Merge(h); dropped > 0 {
			return nil, fmt.Errorf("hlog: merging %s dropped %d values: its intervals differ in range", h.Tag(), dropped)
		}
		v := h.ValueAtPercentilesSlice([]float64{50, 99})
		s.Intervals = append(s.Intervals, IntervalStat{
			StartMs: h.StartTimeMs(),
			Count:   h.TotalCount(),
			P50:     UsToMs(v[0]),
			P99:     UsToMs(v[1]),
			Max:     UsToMs(h.Max()),
		})
	}
}

// UsToMs converts the log's microseconds to milliseconds, the unit of
// result.json and the reports.
func UsToMs(us int64) float64 { return float64(us) / 1000 }
