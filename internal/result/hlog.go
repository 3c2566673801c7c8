package result

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HlogFile is the run's interval histogram log, in HdrHistogram's log
// format (1.3), one tag per path/agent/stage and one interval per second.
// Values are microseconds: HistogramLogProcessor wants -outputValueUnitRatio 1000
// to print milliseconds.
const HlogFile = "latency.hlog"

// IntervalTick is the length of an interval in the log.
const IntervalTick = time.Second

// IntervalLog writes interval histograms as the run goes, so a long run's
// history costs disk, not memory.
type IntervalLog struct {
	mu   sync.Mutex
	f    *os.File
	w    *hdrhistogram.HistogramLogWriter // the header lines
	enc  histEncoder                      // the interval lines
	line []byte
}

// CreateIntervalLog creates the log at path; base is the run's start, which
// the log's header records and interval times are relative to.
func CreateIntervalLog(path string, base time.Time) (*IntervalLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("result: interval log: %w", err)
	}
	// The log's header holds the base time in whole seconds; a base with a
	// fraction would shift every absolute time read back by up to a second.
	base = base.Truncate(time.Second)
	l := &IntervalLog{f: f, w: hdrhistogram.NewHistogramLogWriter(f)}
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
			return nil, fmt.Errorf("result: interval log header: %w", err)
		}
	}
	return l, nil
}

// Write appends the interval [from, to) of h under tag (path/agent/stage).
func (l *IntervalLog) Write(tag string, from, to time.Time, h *hdrhistogram.Histogram) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	base := l.w.BaseTime()
	var err error
	l.line, err = l.enc.appendLine(l.line[:0], tag, from.UnixMilli()-base, to.UnixMilli()-base, h)
	if err != nil {
		return fmt.Errorf("result: interval log: %w", err)
	}
	if _, err := l.f.Write(l.line); err != nil {
		return fmt.Errorf("result: interval log: %w", err)
	}
	return nil
}

// Close closes the log's file.
func (l *IntervalLog) Close() error { return l.f.Close() }

// histEncoder writes interval lines as hdrhistogram-go's HistogramLogWriter
// does (log format 1.3, V2 compressed encoding), but keeps its buffers and
// one zlib writer across histograms. The library builds a new
// best-compression zlib writer, about 1 MB, for every histogram it writes:
// that was half of the bytes a burst run allocated and a tenth of its CPU
// (issue 8). Two differences: zlib's default level (any level decodes the
// same), and tags are not checked for commas, spaces and line breaks
// (cdcbench's path, agent and stage names have none). What still allocates
// is Export's copy of the counts (~190 kB), the only way the library
// offers to read them. TestIntervalLineMatchesLibrary holds it to the
// library's fields and uncompressed bytes.
type histEncoder struct {
	raw []byte
	z   bytes.Buffer
	zw  *zlib.Writer
	bin []byte
}

// V2 encoding cookies with the word size bits (0x10) hdrhistogram-go and
// the Java implementation set.
const (
	v2Cookie           = hdrhistogram.V2EncodingCookieBase | 0x10
	v2CompressedCookie = hdrhistogram.V2CompressedEncodingCookieBase | 0x10
)

// appendLine appends "Tag=TAG,START,LENGTH,MAX,BASE64\n" for the interval
// [startMs, endMs) after the log's base time: seconds with six decimals,
// MAX scaled by 1e6 as the library's default log options scale it.
func (e *histEncoder) appendLine(dst []byte, tag string, startMs, endMs int64, h *hdrhistogram.Histogram) ([]byte, error) {
	snap := h.Export()
	counts := snap.Counts
	// The library encodes counts up to the bucket of the maximum (at least
	// one); that bucket is the last non-empty one.
	n := len(counts)
	for n > 1 && counts[n-1] == 0 {
		n--
	}
	counts = counts[:n]

	// Counts: ZigZag LEB128 (at most 9 bytes, the ninth holding 8 bits); a
	// run of zeros longer than one is written as its negated length.
	e.raw = append(e.raw[:0], make([]byte, 40)...)
	for i := 0; i < len(counts); {
		c := counts[i]
		i++
		if c == 0 {
			zeros := int64(1)
			for i < len(counts) && counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				c = -zeros
			}
		}
		e.raw = appendZigZag(e.raw, c)
	}
	ratio := snap.IntegerToDoubleConversionRatio
	if ratio == 0 {
		ratio = 1
	}
	hdr := e.raw[:40]
	binary.BigEndian.PutUint32(hdr[0:], uint32(v2Cookie))
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(e.raw)-40))
	binary.BigEndian.PutUint32(hdr[8:], 0) // normalizing index offset: counts are stored unrotated
	binary.BigEndian.PutUint32(hdr[12:], uint32(snap.SignificantFigures))
	binary.BigEndian.PutUint64(hdr[16:], uint64(snap.LowestTrackableValue))
	binary.BigEndian.PutUint64(hdr[24:], uint64(snap.HighestTrackableValue))
	binary.BigEndian.PutUint64(hdr[32:], math.Float64bits(ratio))

	e.z.Reset()
	if e.zw == nil {
		e.zw = zlib.NewWriter(&e.z)
	} else {
		e.zw.Reset(&e.z)
	}
	if _, err := e.zw.Write(e.raw); err != nil {
		return dst, fmt.Errorf("compress histogram: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return dst, fmt.Errorf("compress histogram: %w", err)
	}
	e.bin = binary.BigEndian.AppendUint32(e.bin[:0], uint32(v2CompressedCookie))
	e.bin = binary.BigEndian.AppendUint32(e.bin, uint32(e.z.Len()))
	e.bin = append(e.bin, e.z.Bytes()...)

	dst = append(dst, "Tag="...)
	dst = append(dst, tag...)
	dst = append(dst, ',')
	start, end := float64(startMs)/1000, float64(endMs)/1000
	dst = strconv.AppendFloat(dst, start, 'f', 6, 64)
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, end-start, 'f', 6, 64)
	dst = append(dst, ',')
	dst = strconv.AppendFloat(dst, float64(h.Max())/hdrhistogram.MsToNsRatio, 'f', 6, 64)
	dst = append(dst, ',')
	dst = base64.StdEncoding.AppendEncode(dst, e.bin)
	return append(dst, '\n'), nil
}

// appendZigZag appends v in the encoding's ZigZag LEB128-64b9B form.
func appendZigZag(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for i := 0; i < 8; i++ {
		if u < 0x80 {
			return append(dst, byte(u))
		}
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}
