// Command cdcbench measures how fast an inserted transaction becomes a fraud
// alert through a change-data-capture pipeline (PostgreSQL WAL → Kafka →
// agents), and how that compares with agents polling the table.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time by the Makefile (-ldflags -X main.version=...).
var version = "dev"

func main() {
	// The first Ctrl-C cancels the run, which then cleans up (slots,
	// cluster, temp dirs) and writes what it measured; a second one, with
	// the default handler restored, kills the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// run runs the command line and returns the exit code (exit.go).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runApp(ctx, newApp(), args, stdout, stderr)
}

// runApp runs args on app: run with the app's commands, or with their
// actions stubbed out to check a command line without running it.
func runApp(ctx context.Context, app *cli.App, args []string, stdout, stderr io.Writer) int {
	app.Writer, app.ErrWriter = stdout, stderr
	inv, err := resolve(app, args)
	if err == nil {
		err = app.RunContext(ctx, inv.args)
	}
	code := exitCode(ctx, err)
	if err == nil {
		return code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "cdcbench:", msg)
	}
	if code == exitUsage {
		// One line of what was wrong, one of where to read more: not the
		// whole help page, which hides the line that matters.
		fmt.Fprintln(stderr, strings.TrimSpace("see: cdcbench help "+inv.name()))
	}
	return code
}

func newApp() *cli.App {
	app := &cli.App{
		Name:  "cdcbench",
		Usage: "benchmark insert-to-alert latency of a CDC fraud pipeline against polling",
		Description: `cdcbench drives a producer of card transactions into PostgreSQL on an open-loop
schedule, carries every row to two fraud agents through logical replication and
Kafka (the CDC path) and through SQL polling (the baseline), and reports how long
each row took to become a verdict, stage by stage, in HdrHistogram histograms.

Without flags it brings up its own stack: a private PostgreSQL cluster from this
machine's binaries, an in-process Kafka (kfake) on 127.0.0.1, and a built-in WAL
relay that publishes Debezium-compatible change events.

  cdcbench run --scenario burst        # run a built-in scenario, write results/
  cdcbench scenarios                   # list the built-in scenarios
  cdcbench stack up                    # start the stack and leave it up for psql/kcat

Flags may come before or after the arguments (cdcbench report DIR -o X.md); after
"--" every word is an argument.

` + exitHelp(),
		Version:              version,
		EnableBashCompletion: true,
		Suggest:              true,
		// Exit codes are decided by run, not by urfave/cli calling os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return flagUsageError(c, err)
		},
		Commands: []*cli.Command{
			runCommand(),
			stackCommand(),
			replayCommand(),
			scenariosCommand(),
			gateCommand(),
			compareCommand(),
			reportCommand(),
			cleanCommand(),
			agentCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(c.App.Writer, "cdcbench", version)
					return nil
				},
			},
		},
	}
	onUsageErrors(app.Commands)
	return app
}

// onUsageErrors makes every command report a flag it cannot parse as a
// usageError of one line (flagUsageError) instead of printing its help.
func onUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(c *cli.Context, err error, _ bool) error { return flagUsageError(c, err) }
		onUsageErrors(c.Subcommands)
	}
}
