package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/internal/changeevent"
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
		Usage:     "run both agents over Debezium message values, one JSON document per line",
		ArgsUsage: "FILE|-",
		Description: `Reads Kafka message values as Debezium publishes them (with or without the schema
wrapper), one per line, decodes each, runs both agents in order, and prints one JSON
line per message: the decoded transaction or the reason it was skipped, and any alert.

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
				f, err := os.Open(name)
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
			return replay(in, c.App.Writer, dets)
		},
	}
}

func replay(in io.Reader, out io.Writer, dets []agents.Detector) error {
	dec := changeevent.NewDecoder()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20) // schema-wrapped values run to kilobytes
	var ev changeevent.Event
	for n := 1; sc.Scan(); n++ {
		line := replayLine{Line: n}
		if err := dec.Decode(sc.Bytes(), &ev); err != nil {
			var se *changeevent.SkipError
			if !errors.As(err, &se) {
				return fmt.Errorf("replay: line %d: %w", n, err)
			}
			line.Skip, line.Detail = se.Reason.String(), se.Detail
		} else {
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
	if err := sc.Err(); err != nil {
		return fmt.Errorf("replay: read: %w", err)
	}
	return nil
}
