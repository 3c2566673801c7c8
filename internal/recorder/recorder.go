// Package recorder keeps the latency histograms of one run: for every path x
// agent, one HdrHistogram per stage of an event's trip. It sits on the hot
// path (every event records several stages), so Record takes a mutex and a
// histogram increment and nothing else.
//
// Values are microseconds from 1 µs to one hour at 3 significant digits: fine
// enough for a 2 ms CDC median, wide enough for a stalled soak. A value above
// the range is counted as an overflow and a negative one as negative: neither
// is dropped silently, and either makes a run invalid.
package recorder

import (
	"fmt"
	"io"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Stage is one measured span of an event's trip from the producer's schedule
// to an agent's verdict. Timestamps, in order: intended send (created_at),
// actual send, commit ack, [WAL commit, change event, log append], agent
// receive, verdict.
type Stage uint8

// Stages. E2E = ScheduleLag + InsertCommit + CommitReceive + Agent.
const (
	// E2E runs from the intended send time to the agent's verdict: coordinated
	// omission corrected, the figure to quote.
	E2E Stage = iota
	// E2EUncorrected runs from the actual send time, as a closed-loop tool
	// would report it; shown beside E2E so a stall's effect is visible.
	E2EUncorrected
	// Alert is E2E for the events that raised an alert only.
	Alert
	// ScheduleLag runs from intended to actual send: the producer falling behind.
	ScheduleLag
	// InsertCommit runs from send to the commit acknowledgement.
	InsertCommit
	// CommitReceive runs from the commit ack to the agent receiving the row:
	// delivery, the part CDC and polling differ in.
	CommitReceive
	// CommitEvent runs from the WAL commit time (source.ts) to the change
	// event's creation (relay decode or Debezium's ts); on a Spark path
	// from the commit ack to Spark's read returning the row. Not polling.
	CommitEvent
	// EventReceive runs from the change event's creation to the agent
	// receiving it (Kafka produce, broker, fetch; a Spark read's rows
	// crossing from the JVM). Not polling.
	EventReceive
	// EventAppend runs from the change event's creation to the broker
	// appending it to the topic's log, and AppendReceive from there to the
	// agent receiving it: EventReceive split in two, where the topic stamps
	// records with their log-append time (message.timestamp.type=LogAppendTime).
	EventAppend
	AppendReceive
	// Agent runs from receive to verdict, including any --agent-delay.
	Agent
	// NumStages counts the stages.
	NumStages
)

var stageNames = [NumStages]string{"e2e", "e2e_uncorrected", "alert", "schedule_lag", "insert_commit", "commit_receive", "commit_event", "event_receive", "event_append", "append_receive", "agent"}

// String returns the stage's name as used in result.json and file names.
func (s Stage) String() string {
	if s < NumStages {
		return stageNames[s]
	}
	return fmt.Sprintf("stage(%d)", uint8(s))
}

// Histogram range, in microseconds.
const (
	LowestUs  = 1
	HighestUs = 3600 * 1000 * 1000
	SigFigs   = 3
)

// Set holds one path x agent's histograms: per stage a cumulative one for
// the run and an interval one that Rotate hands out and replaces, for
// latency-over-time logs. hdrhistogram-go has no Java-style Recorder, so the
// interval histograms are swapped under the lock instead. Record is safe for
// concurrent use; Rotate must be called from one goroutine at a time.
type Set struct {
	mu       sync.Mutex
	h        [NumStages]*hdrhistogram.Histogram
	iv       [NumStages]*hdrhistogram.Histogram
	spare    [NumStages]*hdrhistogram.Histogram // owned by Rotate
	negative [NumStages]int64
	overflow [NumStages]int64
}

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(LowestUs, HighestUs, SigFigs) }

// NewSet returns an empty Set.
func NewSet() *Set {
	s := &Set{}
	for i := range s.h {
		s.h[i], s.iv[i], s.spare[i] = newHistogram(), newHistogram(), newHistogram()
	}
	return s
}

// Rotate ends the current interval: it swaps in empty interval histograms
// and calls fn with each stage's finished one that holds samples. fn must
// not keep h, which is reset and reused afterwards.
func (s *Set) Rotate(fn func(st Stage, h *hdrhistogram.Histogram) error) error {
	s.mu.Lock()
	taken := s.iv
	s.iv = s.spare
	s.mu.Unlock()
	var err error
	for st, h := range taken {
		if h.TotalCount() > 0 && err == nil {
			err = fn(Stage(st), h)
		}
		h.Reset()
	}
	s.spare = taken
	return err
}

// Record adds one sample of us microseconds to stage st.
func (s *Set) Record(st Stage, us int64) {
	s.mu.Lock()
	switch {
	case us < 0:
		s.negative[st]++
	case us > HighestUs:
		s.overflow[st]++
	default:
		// Zero is a legitimate sub-microsecond span: record it as such.
		_ = s.h[st].RecordValue(us)
		_ = s.iv[st].RecordValue(us)
	}
	s.mu.Unlock()
}

// Histogram returns a copy of stage st's histogram, safe to read while
// recording goes on.
func (s *Set) Histogram(st Stage) *hdrhistogram.Histogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	return hdrhistogram.Import(s.h[st].Export())
}

// Summary is a stage's distribution in milliseconds, as result.json holds it.
type Summary struct {
	Count    int64   `json:"count"`
	P50      float64 `json:"p50"`
	P90      float64 `json:"p90"`
	P99      float64 `json:"p99"`
	P999     float64 `json:"p999"`
	Max      float64 `json:"max"`
	Mean     float64 `json:"mean"`
	Negative int64   `json:"negative,omitempty"`
	Overflow int64   `json:"overflow,omitempty"`
}

// Summary returns stage st's percentiles.
func (s *Set) Summary(st Stage) Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarize(s.h[st], s.negative[st], s.overflow[st])
}

func summarize(h *hdrhistogram.Histogram, negative, overflow int64) Summary {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	sum := Summary{Count: h.TotalCount(), Negative: negative, Overflow: overflow}
	if sum.Count > 0 {
		v := h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
		sum.P50, sum.P90, sum.P99, sum.P999 = ms(v[0]), ms(v[1]), ms(v[2]), ms(v[3])
		sum.Max = ms(h.Max())
		sum.Mean = h.Mean() / 1000
	}
	return sum
}

// WriteHGRM writes stage st in HdrHistogram's percentile distribution layout
// with values in milliseconds, the format the HdrHistogram plotter reads.
func (s *Set) WriteHGRM(w io.Writer, st Stage) error {
	h := s.Histogram(st)
	if _, err := h.PercentilesPrint(w, 5, 1000); err != nil {
		return fmt.Errorf("recorder: write %s percentiles: %w", st, err)
	}
	return nil
}

// Single is one histogram with the same range and accounting as a Set's
// stages, for places that need many cheap histograms (one per stage of a
// ramp, say) rather than every stage of one path.
type Single struct {
	mu       sync.Mutex
	h        *hdrhistogram.Histogram
	negative int64
	overflow int64
}

// NewSingle returns an empty Single.
func NewSingle() *Single { return &Single{h: newHistogram()} }

// Record adds one sample of us microseconds.
func (s *Single) Record(us int64) {
	s.mu.Lock()
	switch {
	case us < 0:
		s.negative++
	case us > HighestUs:
		s.overflow++
	default:
		_ = s.h.RecordValue(us)
	}
	s.mu.Unlock()
}

// Histogram returns a copy of the histogram, safe to read while recording
// goes on.
func (s *Single) Histogram() *hdrhistogram.Histogram {
	s.mu.Lock()
	defer s.mu.Unlock()
	return hdrhistogram.Import(s.h.Export())
}

// Summary returns the percentiles.
func (s *Single) Summary() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return summarize(s.h, s.negative, s.overflow)
}
