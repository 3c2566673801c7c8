package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/stack"
	"github.com/cdcbench/cdcbench/reports"
)

func cleanCommand() *cli.Command {
	return &cli.Command{
		Name:  "clean",
		Usage: "find and remove what crashed runs left behind",
		Description: `Lists replication slots and publications named cdcbench_* in every database of the
server given by --pg-dsn, and private cluster and Kafka directories (cdcbench-pg-*,
cdcbench-kafka-*, the local stack's cdcbench-jvm-*, and the work dirs of the Spark,
Flink CDC and Debezium Server paths, cdcbench-spark-*, cdcbench-flinkcdc-* and
cdcbench-dbzserver-*, in the temp dir), then removes those no live run owns, killing any
Kafka, Connect or capture JVM still running from a removed dir and stopping a PostgreSQL server still running on a cluster dir
whose owner is gone, or on one already removed (restarted from outside with pg_ctl).
A leaked slot retains WAL until the disk fills, so run this after
a run was killed.

What belongs to a live run is listed as "in use" and never touched: a slot with a
consumer, the publication such a slot reads, slots and publications in a database a
run (or stack up) is connected to, a directory whose owner process still runs.

  cdcbench clean --dry-run                       # private cluster and Kafka dirs only
  cdcbench clean --pg-dsn postgres://...         # also slots and publications`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pg-dsn", Usage: "also look for slots and publications on this server", EnvVars: []string{"CDCBENCH_PG_DSN"}},
			&cli.BoolFlag{Name: "dry-run", Usage: "list, do not remove"},
		},
		Action: func(c *cli.Context) error {
			// What could not be inspected (a database that refuses the
			// connection) does not keep the rest from being cleaned; the
			// command still fails at the end with why, so scripts notice.
			ls, findErr := stack.FindLeftovers(c.Context, c.String("pg-dsn"))
			w := c.App.Writer
			if len(ls) == 0 {
				if findErr == nil {
					fmt.Fprintln(w, "nothing left behind")
				}
				return findErr
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, l := range ls {
				state := "left behind"
				if l.Live {
					state = "in use"
				}
				where := l.Name
				if l.Database != "" {
					where += " (database " + l.Database + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Kind, where, state, l.Detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if c.Bool("dry-run") {
				fmt.Fprintln(w, "dry run: nothing removed")
				return findErr
			}
			if err := stack.RemoveLeftovers(c.Context, c.String("pg-dsn"), ls); err != nil {
				return errors.Join(findErr, err)
			}
			fmt.Fprintln(w, cleanSummary(ls))
			return findErr
		},
	}
}

// cleanSummary says what clean removed and what it kept, by kind: "removed
// all but active slots" read as if slots had been involved when only a
// directory was.
func cleanSummary(ls []stack.Leftover) string {
	var kinds []string
	removed, kept := map[string]int{}, map[string]int{}
	for _, l := range ls {
		if removed[l.Kind]+kept[l.Kind] == 0 {
			kinds = append(kinds, l.Kind)
		}
		if l.Live {
			kept[l.Kind]++
		} else {
			removed[l.Kind]++
		}
	}
	list := func(n map[string]int) string {
		var parts []string
		for _, k := range kinds {
			if n[k] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n[k], reports.Plural(n[k], k)))
			}
		}
		return strings.Join(parts, ", ")
	}
	s := "removed " + list(removed)
	if len(removed) == 0 {
		s = "removed nothing"
	}
	if len(kept) > 0 {
		s += "; kept " + list(kept) + " in use by live runs (never removed)"
	}
	return s
}
