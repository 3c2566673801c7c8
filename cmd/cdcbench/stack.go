package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/scenarios"
)

func stackCommand() *cli.Command {
	return &cli.Command{
		Name:  "stack",
		Usage: "manage the stack on its own",
		Subcommands: []*cli.Command{{
			Name:  "up",
			Usage: "start PostgreSQL, Kafka and the WAL relay and keep them up until Ctrl-C",
			Description: `Starts the same stack a run uses, with an empty transactions table whose inserts
flow through the relay to the change topic, prints where everything is, and waits.
Poke at it from another terminal:

  psql "$DSN" -c "INSERT INTO transactions (user_id, amount, card_type, merchant_id) VALUES (1001, 42.50, 'VISA', 7)"
  kcat -b BROKER -C -t dbserver1.public.transactions

Ctrl-C removes the slot and publication and stops everything it started.`,
			Flags: append([]cli.Flag{
				&cli.IntFlag{Name: "partitions", Value: 1, Usage: "partitions of the change topic (in-process Kafka)"},
			}, stackFlags()...),
			// Before checks the flags before anything starts, and for a
			// parse-only check of a documented command line.
			Before: func(c *cli.Context) error {
				if _, err := chooseStack(c, c.Int("partitions")); err != nil {
					return usageError{err}
				}
				return nil
			},
			Action: func(c *cli.Context) error {
				choice, err := chooseStack(c, c.Int("partitions"))
				if err != nil {
					return usageError{err}
				}
				st, cdc, err := startStack(c, choice)
				if err != nil {
					return err
				}
				defer st.Close(context.WithoutCancel(c.Context))
				d, err := driver.New(scenarios.Path{Kind: scenarios.PathCDC}, driver.Config{CDC: cdc})
				if err != nil {
					return err
				}
				err = driver.Serve(c.Context, st, d, fmt.Sprintf("stack_%d", os.Getpid()), choice.DropExisting, func() {
					w := c.App.Writer
					fmt.Fprintf(w, "PostgreSQL  %s\n", stack.Redact(st.DSN()))
					fmt.Fprintf(w, "Kafka       %s\n", strings.Join(st.Brokers(), ","))
					fmt.Fprintf(w, "topic       %s (alerts: %s)\n", stack.ChangeTopic, stack.AlertTopic)
					dsn := stack.Redact(st.DSN())
					fmt.Fprintf(w, "\ntry:  psql '%s' -c \"INSERT INTO transactions (user_id, amount, card_type, merchant_id) VALUES (1001, 42.50, 'VISA', 7)\"\n", dsn)
					if dsn != st.DSN() {
						fmt.Fprintln(w, "      (the password is shown as xxxxx: put yours in, or set PGPASSWORD and leave it out)")
					}
					fmt.Fprintf(w, "      kcat -b %s -C -t %s\n\nup; Ctrl-C stops it\n", st.Brokers()[0], stack.ChangeTopic)
				})
				if c.Context.Err() != nil && err == nil {
					fmt.Fprintln(c.App.ErrWriter, "stopped; slot, publication and private cluster removed")
				}
				return err
			},
		}},
	}
}
