// Command cdcbench measures how fast an inserted transaction becomes a fraud
// alert through a change-data-capture pipeline (PostgreSQL WAL → Kafka →
// agents), and how that compares with agents polling the table.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time by the Makefile (-ldflags -X main.version=...).
var version = "dev"

// usageError marks bad input: a wrong flag, scenario or results directory.
// It exits 2, everything else that fails exits 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

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

// run runs the command line and returns the exit code: 0 success, 1 failure,
// 2 bad input.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp()
	app.Writer, app.ErrWriter = stdout, stderr
	// Exit codes are decided here, not by urfave/cli calling os.Exit.
	app.ExitErrHandler = func(*cli.Context, error) {}
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "cdcbench:", msg)
	}
	// Only usageError picks the code: a wrapped *exec.ExitError (initdb
	// interrupted) must not lend its own exit status to cdcbench.
	if errors.As(err, new(usageError)) {
		return 2
	}
	return 1
}

func newApp() *cli.App {
	return &cli.App{
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
  cdcbench stack up                    # start the stack and leave it up for psql/kcat`,
		Version:              version,
		EnableBashCompletion: true,
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
}
