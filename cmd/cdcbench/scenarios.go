package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/scenarios"
)

func scenariosCommand() *cli.Command {
	return &cli.Command{
		Name:  "scenarios",
		Usage: "list the built-in scenarios (show NAME prints one resolved)",
		Action: func(c *cli.Context) error {
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			for _, s := range scenarios.List() {
				fmt.Fprintf(tw, "%s\t%v+%v\t%s\n", s.Name, s.Warmup, s.Duration, s.Description)
			}
			return tw.Flush()
		},
		Subcommands: []*cli.Command{{
			Name:      "show",
			Usage:     "print a scenario with every default filled in",
			ArgsUsage: "NAME|FILE",
			Before: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usageError{fmt.Errorf("scenarios show: want one scenario name or file, got %d arguments", c.NArg())}
				}
				return nil
			},
			Action: func(c *cli.Context) error {
				s, err := scenarios.Resolve(c.Args().First())
				if err != nil {
					return usageError{err}
				}
				b, err := s.YAML()
				if err != nil {
					return err
				}
				_, err = c.App.Writer.Write(b)
				return err
			},
		}},
	}
}
