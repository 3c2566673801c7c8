package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/changeevent"
	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/txn"
	"github.com/cdcbench/cdcbench/scenarios"
)

// replayLine is what replay prints for one input message.
type replayLine struct {
	Line   int             `json:"line"`
	Tx     *replayTx       `json:"tx,omitempty"`
	Skip   string          `json:"skip,omitempty"`
	Detail string          `json:"detail,omitempty"`
	Alerts []replayAlert   `json:"alerts,omitempty"`
	Event  *changeeventOut `json:"event,omitempty"`
}

type replayTx struct {
	ID         int64  `json:"id"`
	UserID     int32  `json:"user_id"`
	Amount     string `json:"amount"`
	CardType   string `json:"card_type"`
	MerchantID int32  `json:"merchant_id"`
	CreatedAt  string `json:"created_at"`
}

type changeeventOut struct {
	Op         string `json:"op"`
	Snapshot   bool   `json:"snapshot"`
	SourceTsUs int64  `json:"source_ts_us,omitempty"`
	EventTsUs  int64  `json:"event_ts_us,omitempty"`
	LSN        int64  `json:"lsn,omitempty"`
	TxID       int64  `json:"tx_id,omitempty"`
}

type replayAlert struct {
	Agent string `json:"agent"`
	Score int64  `json:"score"`
}

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "run both agents over Debezium message values: a stream of JSON documents, one per line or pretty-printed",
		ArgsUsage: "FILE|-",
		Description: `Reads Kafka message values as Debezium publishes them (with or without the schema
wrapper) as a stream of JSON values in any layout (one per line as kcat prints them,
or pretty-printed), decodes each, runs both agents in order, and prints one JSON line
per message: the line it starts on, the decoded transaction or the reason it was
skipped, and any alert. A broken value is skipped as not_json and the stream goes on;
the last line, on stderr, counts what was decoded and skipped.

  kcat -b localhost:9094 -C -t dbserver1.public.transactions -e | cdcbench replay -`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "outlier-rule", Value: scenarios.RuleMean3x, Usage: "mean3x (the seed's rule) or sigma3"},
		},
		Before: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{errors.New("replay: want one FILE, or - for standard input")}
			}
			return nil
		},
		Action: func(c *cli.Context) error {
			var in io.Reader = os.Stdin
			if name := c.Args().First(); name != "-" {
				// A file of any size (values are bounded one by one),
				// but a regular one: a pipe is what - is for.
				f, err := inputfile.Open(name, math.MaxInt64)
				if err != nil {
					return usageError{fmt.Errorf("replay: %w", err)}
				}
				defer f.Close()
				in = f
			}
			cfg := agents.Config{Outlier: agents.DefaultOutlier(), Velocity: agents.DefaultVelocity()}
			cfg.Outlier.Rule = c.String("outlier-rule")
			var dets []agents.Detector
			for _, name := range agents.Names {
				d, err := agents.New(name, cfg)
				if err != nil {
					return usageError{err}
				}
				dets = append(dets, d)
			}
			return replay(in, c.App.Writer, c.App.ErrWriter, dets)
		},
	}
}

// replayCounts is what replay saw, for its closing line.
type replayCounts struct {
	decoded int
	skipped map[string]int
}

func (c replayCounts) String() string {
	total := 0
	for _, n := range c.skipped {
		total += n
	}
	s := fmt.Sprintf("replay: %d decoded, %d skipped", c.decoded, total)
	if total > 0 {
		s += " (" + countList(c.skipped) + ")"
	}
	return s
}

// countList is "bad_value 2, not_json 1": counts by reason, in the order of
// the reasons' names, so that two runs print the same line.
func countList[N int | int64](counts map[string]N) string {
	parts := make([]string, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// replay decodes every JSON value of in, runs dets over each transaction
// and writes one JSON line per value to out; the counts go to summary at
// the end, also after a read error.
func replay(in io.Reader, out, summary io.Writer, dets []agents.Detector) (err error) {
	dec := changeevent.NewDecoder()
	enc := json.NewEncoder(out)
	vr := newValueReader(in)
	counts := replayCounts{skipped: map[string]int{}}
	defer func() { fmt.Fprintln(summary, counts) }()
	var ev changeevent.Event
	for {
		value, n, err := vr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("replay: line %d: %w", n, err)
		}
		line := replayLine{Line: n}
		if err := dec.Decode(value, &ev); err != nil {
			var se *changeevent.SkipError
			if !errors.As(err, &se) {
				return fmt.Errorf("replay: line %d: %w", n, err)
			}
			line.Skip, line.Detail = se.Reason.String(), se.Detail
			counts.skipped[line.Skip]++
		} else {
			counts.decoded++
			tx := ev.Tx
			line.Tx = &replayTx{ID: tx.ID, UserID: tx.UserID, Amount: string(txn.AppendAmount(nil, tx.AmountCents)), CardType: tx.Card.String(),
				MerchantID: tx.MerchantID, CreatedAt: tx.Created().Format("2006-01-02T15:04:05.000000")}
			line.Event = &changeeventOut{Op: string(ev.Op), Snapshot: ev.Snapshot, SourceTsUs: ev.SourceTsUs, EventTsUs: ev.EventTsUs, LSN: ev.LSN, TxID: ev.TxID}
			for _, d := range dets {
				if a, ok := d.Observe(&tx); ok {
					line.Alerts = append(line.Alerts, replayAlert{Agent: d.Name(), Score: a.Score})
				}
			}
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	}
}

// maxValue bounds one value: schema-wrapped envelopes run to kilobytes.
const maxValue = 64 << 20

// valueReader splits a stream into JSON values whatever their layout: one
// per line as kcat prints them, pretty-printed over many lines as they are
// usually shown, or several on one line. It finds where an object or array
// ends by counting brackets outside strings and leaves parsing to the
// decoder, so that a broken value is skipped as not_json instead of ending
// the stream. A "{" or "[" at the start of a line while a value is still
// open starts a new value: pretty-printers indent nested values, so the
// open one was truncated. Anything else (a scalar, garbage) runs to the end
// of its line. Blank lines separate nothing.
type valueReader struct {
	r    *bufio.Reader
	line int // of the next byte
	// pending is a byte read but not yet consumed: the opening bracket of
	// the value after a truncated one.
	pending    byte
	hasPending bool
}

func newValueReader(r io.Reader) *valueReader {
	return &valueReader{r: bufio.NewReaderSize(r, 1<<16), line: 1}
}

func (vr *valueReader) readByte() (byte, error) {
	if vr.hasPending {
		vr.hasPending = false
		return vr.pending, nil
	}
	b, err := vr.r.ReadByte()
	if err == nil && b == '\n' {
		vr.line++
	}
	return b, err
}

// next returns the next value and the line it starts on; io.EOF at the end.
func (vr *valueReader) next() ([]byte, int, error) {
	var b byte
	var err error
	for {
		if b, err = vr.readByte(); err != nil {
			return nil, vr.line, err
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			break
		}
	}
	start := vr.line
	value := []byte{b}
	if b != '{' && b != '[' {
		for {
			if b, err = vr.readByte(); err != nil || b == '\n' {
				return bytes.TrimRight(value, " \t\r"), start, ignoreEOF(err)
			}
			if value = append(value, b); len(value) > maxValue {
				return nil, start, fmt.Errorf("a value longer than %d MB", maxValue>>20)
			}
		}
	}
	depth, inString, escaped, lineStart := 1, false, false, false
	for depth > 0 {
		if b, err = vr.readByte(); err != nil {
			return value, start, ignoreEOF(err) // truncated: the decoder says not_json
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			case b == '\n':
				// JSON strings hold no raw newline: the value is broken.
				inString = false
			}
		case lineStart && (b == '{' || b == '['):
			vr.pending, vr.hasPending = b, true
			return bytes.TrimRight(value, " \t\r\n"), start, nil
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
		case b == '}' || b == ']':
			depth--
		}
		lineStart = b == '\n'
		if value = append(value, b); len(value) > maxValue {
			return nil, start, fmt.Errorf("a value longer than %d MB", maxValue>>20)
		}
	}
	return value, start, nil
}

// ignoreEOF: a value that ends the stream is still a value.
func ignoreEOF(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}
