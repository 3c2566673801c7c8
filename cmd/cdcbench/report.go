package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/reports"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write a markdown report with SVG charts for one or more result directories",
		ArgsUsage: "DIR...",
		Description: `Reads each result directory (result.json, latency.hlog) and writes a markdown
report for a review: run metadata and validity, e2e latency per path x agent,
delivery and alert accounting, where the time goes stage by stage, CDC versus each
polling interval, and charts. The charts are SVG files in a directory beside the
report named after it: -o REPORT.md puts them in REPORT.files/. A sweep's directory
(results/<scenario>-sweep-<time>/, holding sweep.json) stands for its cells: the
report opens with the sweep's table and charts of latency against the swept values.

  cdcbench report results/burst-20261126T082736Z -o burst.md
  cdcbench report results/smoke-*          # several runs side by side in REPORT.md

reports/README.md documents result.json and the histogram files.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "REPORT.md", Usage: "markdown file to write; charts go into its .files directory"},
		},
		Before: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usageError{errors.New("report: want at least one result directory")}
			}
			return nil
		},
		Action: func(c *cli.Context) error {
			dirs := c.Args().Slice()
			out := c.String("output")
			if err := reports.Write(dirs, out); err != nil {
				if errors.Is(err, reports.ErrNotResult) {
					return usageError{err}
				}
				return err
			}
			fmt.Fprintf(c.App.Writer, "report: %s (charts in %s)\n", out, reports.FilesDir(out))
			return nil
		},
	}
}
