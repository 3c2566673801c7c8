package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/agents"
	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/source"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// kafkaRetry is how often an agent tries again to reach its brokers.
var kafkaRetry = 5 * time.Second

// waitForKafka returns once the brokers answer, saying on w that they do
// not and that it keeps trying, every kafkaRetry: the Kafka client retries
// silently, and an agent that printed "consuming" and then nothing, forever,
// looked as if it worked. It returns ctx's error when ctx ends first.
func waitForKafka(ctx context.Context, cl *kgo.Client, brokers []string, w io.Writer, agent string) error {
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, kafkaRetry)
		err := cl.Ping(pctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				fmt.Fprintf(w, "agent %s: reached Kafka at %s\n", agent, strings.Join(brokers, ","))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(w, "agent %s: cannot reach Kafka at %s (attempt %d: %v); retrying every %v, Ctrl-C stops\n",
			agent, strings.Join(brokers, ","), attempt, err, kafkaRetry)
		if err := wait.Sleep(ctx, kafkaRetry); err != nil {
			return err
		}
	}
}

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run one agent instance as its own process, in the agent's consumer group",
		Description: `Consumes the change topic in the agent's consumer group (one group per agent, as in
the seed's deployment), judges every transaction and publishes each alert to
fraud.alerts as JSON with the transaction id and the agent host's timestamps. Start
several on any hosts to scale an agent out over the topic's partitions; key the
change events by user_id (Debezium: message.key.columns=public.transactions:user_id)
so that each user's history stays in one instance.

  cdcbench agent --agent velocity --brokers kafka-1:9092,kafka-2:9092

A run collects these alerts with --external-agents outlier,velocity: it times them on
its own clock (receipt on fraud.alerts minus the row's intended send time), keeps the
agent host's figure beside it, and checks them against its oracle. Start the agents
with --from-now before the run, with the scenario's detector settings.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "agent", Usage: "outlier or velocity"},
			&cli.StringFlag{Name: "name", Usage: "the agent field of its alerts (default: --agent); an agent command observed on fraud.alerts is found by its name"},
			&cli.StringSliceFlag{Name: "brokers", Usage: "Kafka (host:port, repeatable or comma-separated)", EnvVars: []string{"KAFKA_BOOTSTRAP_SERVERS"}},
			&cli.StringFlag{Name: "group", Usage: "consumer group (default cdcbench-agent-<agent>)"},
			&cli.StringFlag{Name: "topic", Value: stack.ChangeTopic, Usage: "change topic"},
			&cli.StringFlag{Name: "alerts", Value: stack.AlertTopic, Usage: "topic the alerts go to"},
			&cli.StringFlag{Name: "outlier-rule", Value: agents.RuleMean3x, Usage: "mean3x (the seed's rule) or sigma3"},
			&cli.BoolFlag{Name: "from-now", Usage: "a new group starts at records produced from now on, not at the start of the topic"},
		},
		// Checked here, not with Required, which prints the whole help
		// page instead of the one line that says what is missing.
		Before: func(c *cli.Context) error {
			if c.String("agent") == "" || len(splitBrokers(c.StringSlice("brokers"))) == 0 {
				return usageError{errors.New("agent: want --agent outlier|velocity and --brokers host:port")}
			}
			return nil
		},
		Action: func(c *cli.Context) error {
			name := c.String("agent")
			cfg := agents.Config{Outlier: agents.DefaultOutlier(), Velocity: agents.DefaultVelocity()}
			cfg.Outlier.Rule = c.String("outlier-rule")
			det, err := agents.New(name, cfg)
			if err != nil {
				return usageError{err}
			}
			label := name
			if c.String("name") != "" {
				label = c.String("name")
			}
			brokers := splitBrokers(c.StringSlice("brokers"))
			group := c.String("group")
			if group == "" {
				group = "cdcbench-agent-" + name
			}
			host, _ := os.Hostname()
			inst := fmt.Sprintf("%s-%d", host, os.Getpid())
			kc := source.KafkaConfig{Brokers: brokers, Topic: c.String("topic"), Group: group}
			if c.Bool("from-now") {
				kc.Since = time.Now()
			}
			src, err := source.NewKafka(kc)
			if err != nil {
				return err
			}
			out, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(c.String("alerts")))
			if err != nil {
				return err
			}
			defer out.Close()
			if err := waitForKafka(c.Context, out, brokers, c.App.ErrWriter, name); err != nil {
				// Ctrl-C while waiting: the normal way to stop an agent.
				fmt.Fprintf(c.App.ErrWriter, "agent %s: stopped before Kafka answered\n", name)
				return nil
			}
			var events, alerts int64
			var mu sync.Mutex
			var produceErr error
			fmt.Fprintf(c.App.ErrWriter, "agent %s (%s) consuming %s in group %s; Ctrl-C stops\n", name, inst, c.String("topic"), group)
			runErr := src.Run(c.Context, func(d *source.Delivery) {
				events++
				a, ok := det.Observe(&d.Tx)
				if !ok {
					return
				}
				alerts++
				b, _ := json.Marshal(bench.AlertRecord{Agent: label, Instance: inst, TxID: a.TxID, UserID: a.UserID, Score: a.Score,
					CreatedAtUs: d.Tx.CreatedAt, ReceivedNs: d.ReceivedNs, VerdictNs: time.Now().UnixNano(), Clock: host})
				out.Produce(c.Context, &kgo.Record{Key: []byte(name), Value: b}, func(_ *kgo.Record, err error) {
					if err != nil && c.Context.Err() == nil {
						mu.Lock()
						produceErr = errors.Join(produceErr, err)
						mu.Unlock()
					}
				})
			})
			_ = out.Flush(c.Context)
			summary := fmt.Sprintf("agent %s: %d events, %d alerts", name, events, alerts)
			if skipped := src.Skipped(); len(skipped) > 0 {
				summary += ", skipped: " + countList(skipped)
			}
			fmt.Fprintln(c.App.ErrWriter, summary)
			mu.Lock()
			defer mu.Unlock()
			return errors.Join(runErr, produceErr)
		},
	}
}
