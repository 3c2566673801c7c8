package main

import (
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
		Description: `Lists replication slots and publications named cdcbench_* on the server given by
--pg-dsn, and private cluster directories (cdcbench-pg-* in the temp dir) whose server
is no longer running, then removes them. A leaked slot retains WAL until the disk
fills, so run this after a run was killed. Active slots are listed but never dropped.

  cdcbench clean --dry-run                       # private cluster dirs only
  cdcbench clean --pg-dsn postgres://...         # also slots and publications`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pg-dsn", Usage: "also look for slots and publications on this server", EnvVars: []string{"CDCBENCH_PG_DSN"}},
			&cli.BoolFlag{Name: "dry-run", Usage: "list, do not remove"},
		},
		Action: func(c *cli.Context) error {
			ls, err := stack.FindLeftovers(c.Context, c.String("pg-dsn"))
			if err != nil {
				return err
			}
			w := c.App.Writer
			if len(ls) == 0 {
				fmt.Fprintln(w, "nothing left behind")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, l := range ls {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Kind, l.Name, l.Detail)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if c.Bool("dry-run") {
				fmt.Fprintln(w, "dry run: nothing removed")
				return nil
			}
			if err := stack.RemoveLeftovers(c.Context, c.String("pg-dsn"), ls); err != nil {
				return err
			}
			fmt.Fprintln(w, cleanSummary(ls))
			return nil
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
		if l.Active {
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
		s += "; kept " + list(kept) + " in use (active slots are never dropped)"
	}
	return s
}
