package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/jmxexporter"
	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/scenarios"
)

func stackCommand() *cli.Command {
	return &cli.Command{
		Name:  "stack",
		Usage: "manage the stack on its own",
		Subcommands: []*cli.Command{jvmDepsCommand(), {
			Name:  "up",
			Usage: "start PostgreSQL, Kafka and the WAL relay and keep them up until Ctrl-C",
			Description: `Starts the same stack a run uses, with an empty transactions table whose inserts
flow through the relay to the change topic, prints where everything is, and waits.
Poke at it from another terminal:

  psql "$DSN" -c "INSERT INTO transactions (user_id, amount, card_type, merchant_id) VALUES (1001, 42.50, 'VISA', 7)"
  kcat -b BROKER -C -t dbserver1.public.transactions

With --stack local the Kafka is a real Apache Kafka broker and a Kafka Connect
worker with the Debezium PostgreSQL connector runs beside it (no connector
registered: the relay feeds the topic); its REST API is printed too:

  curl -s CONNECT_URL/connector-plugins

Ctrl-C removes the slot and publication and stops everything it started.`,
			Flags: append([]cli.Flag{
				&cli.IntFlag{Name: "partitions", Value: 1, Usage: "partitions of the change topic (in-process Kafka)"},
			}, stackFlags()...),
			// Before checks the flags before anything starts, and for a
			// parse-only check of a documented command line.
			Before: func(c *cli.Context) error {
				if _, err := chooseStack(c, c.Int("partitions"), stackShape(c, scenarios.StackSpec{})); err != nil {
					return usageError{err}
				}
				return nil
			},
			Action: func(c *cli.Context) error {
				choice, err := chooseStack(c, c.Int("partitions"), stackShape(c, scenarios.StackSpec{}))
				if err != nil {
					return usageError{err}
				}
				st, cdc, err := bench.StartStack(c.Context, choice)
				if err != nil {
					return err
				}
				defer st.Close(context.WithoutCancel(c.Context))
				d, err := driver.New(driver.CDCPath, driver.Config{CDC: cdc})
				if err != nil {
					return err
				}
				err = driver.Serve(c.Context, st, d, fmt.Sprintf("stack_%d", os.Getpid()), choice.DropExisting, func() { printStack(c.App.Writer, st) })
				if c.Context.Err() != nil && err == nil {
					fmt.Fprintln(c.App.ErrWriter, "stopped; slot, publication and private cluster removed")
				}
				return err
			},
		}},
	}
}

// printStack says where everything is, with a command to try for each.
func printStack(w io.Writer, st stack.Stack) {
	info := st.Info()
	fmt.Fprintf(w, "PostgreSQL  %s (%s %s)\n", stack.Redact(st.DSN()), info.Postgres, info.PostgresVersion)
	fmt.Fprintf(w, "Kafka       %s (%s%s)\n", strings.Join(st.Brokers(), ","), info.Kafka, prefixed(" ", info.KafkaVersion))
	if info.ConnectURL != "" {
		fmt.Fprintf(w, "Connect     %s (Kafka Connect %s, Debezium %s)\n", info.ConnectURL, info.ConnectVersion, info.DebeziumVersion)
	}
	fmt.Fprintf(w, "topic       %s (alerts: %s)\n", stack.ChangeTopic, stack.AlertTopic)
	dsn := stack.Redact(st.DSN())
	fmt.Fprintf(w, "\ntry:  psql '%s' -c \"INSERT INTO transactions (user_id, amount, card_type, merchant_id) VALUES (1001, 42.50, 'VISA', 7)\"\n", dsn)
	if dsn != st.DSN() {
		fmt.Fprintln(w, "      (the password is shown as xxxxx: put yours in, or set PGPASSWORD and leave it out)")
	}
	fmt.Fprintf(w, "      kcat -b %s -C -t %s\n", st.Brokers()[0], stack.ChangeTopic)
	if info.ConnectURL != "" {
		fmt.Fprintf(w, "      curl -s %s/connector-plugins\n", info.ConnectURL)
	}
	fmt.Fprintf(w, "\nup; Ctrl-C stops it\n")
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// jvmDepsCommand fills the jar cache of the local stack (make jvm-deps), so
// that the first run does not download.
func jvmDepsCommand() *cli.Command {
	return &cli.Command{
		Name:  "jvm-deps",
		Usage: "download the local stack's Kafka, Kafka Connect and Debezium jars with mvn into the per-user cache (once)",
		Description: fmt.Sprintf(`Runs mvn on the embedded Maven projects that pin Apache Kafka %s and Debezium %s,
one per component, and keeps their jars in $XDG_CACHE_HOME/cdcbench/jvm/%s,
.../%s and .../%s (the Prometheus JMX exporter, attached to each JVM for its
metrics) (or ~/.cache/...). A complete component is only verified. Needs Java 17+
and Maven (scripts/ensure-java.sh installs them) and, the first time, Maven Central.`,
			jvmstack.KafkaVersion, jvmstack.DebeziumVersion, jvmstack.BrokerKey, jvmstack.ConnectKey, jmxexporter.Key),
		Action: func(c *cli.Context) error {
			t0 := time.Now()
			a, err := jvmstack.Resolve(c.Context, jvmstack.ResolveOptions{Progress: c.App.ErrWriter})
			if err != nil {
				return err
			}
			for _, r := range []*jvm.Resolved{a.Broker, a.Connect} {
				what := "verified"
				if r.Fresh {
					what = fmt.Sprintf("downloaded %.1f MB", float64(r.Downloaded)/1e6)
				}
				fmt.Fprintf(c.App.Writer, "jvm-deps: %s (%s, %.1f MB on disk)\n", r.Dir, what, float64(r.Size)/1e6)
			}
			fmt.Fprintf(c.App.Writer, "jvm-deps: done in %s\n", time.Since(t0).Round(100*time.Millisecond))
			return nil
		},
	}
}
