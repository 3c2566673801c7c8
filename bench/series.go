package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/metrics"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/stack"
)

// Session is what the runs of one command share: the stack they run on,
// where their results go and where they report. The command line fills it
// in; Repeat and Sweep.Run start the stacks and run the plans.
type Session struct {
	Choice     stack.Choice
	ResultsDir string // parent of the runs' (or the sweep's) directories
	Version    string // cdcbench's, written into every result
	// Log receives progress lines; nil is quiet. Terminal makes progress
	// one line updated in place (Log is a terminal).
	Log      io.Writer
	Terminal bool
	// Warn receives warnings that are printed even when Log is quiet: the
	// slots an earlier run left on a server cdcbench did not start.
	Warn io.Writer
	// MetricsURLs and OnMetrics go to every run's Config.
	MetricsURLs []string
	OnMetrics   func(path string, t time.Time, s []metrics.Sample)
	// Done is called with every run that wrote a result, as it finishes:
	// the caller prints its summary. cell is nil outside a sweep. An error
	// from Done ends the runs.
	Done func(res *result.Result, dir string, cell *Cell) error
	// Live shows every run's series while it lasts; nil shows nothing.
	Live Live
}

// InvalidError is runs that finished and were judged invalid; Reasons name
// each run (its directory, or its sweep cell) with why.
type InvalidError struct{ Reasons []string }

func (e *InvalidError) Error() string { return "invalid: " + strings.Join(e.Reasons, "; ") }

// Repeat runs plan n times, one after another on one stack, each into its
// own result directory, and returns the directories written. An
// *InvalidError means every run finished and some were invalid; another
// error, that a run could not be carried out (the runs stop there).
func Repeat(ctx context.Context, s Session, plan Plan, n int) ([]string, error) {
	st, cdc, err := s.openStack(ctx, plan.Name, s.Choice)
	if err != nil {
		return nil, err
	}
	// Cleanup runs after Ctrl-C too, within seconds (stack.Stop).
	defer stack.Stop(ctx, st)
	cfg := s.config(plan, st, cdc)
	var dirs, invalid []string
	for i := 1; i <= n; i++ {
		if n > 1 && s.Log != nil {
			fmt.Fprintf(s.Log, "run %d of %d\n", i, n)
		}
		res, dir, runErr := Run(ctx, cfg)
		if res != nil {
			dirs = append(dirs, dir)
			if err := s.done(res, dir, nil); err != nil {
				return dirs, err
			}
		}
		if runErr != nil {
			return dirs, runErr
		}
		if !res.Valid {
			invalid = append(invalid, fmt.Sprintf("%s: %s", dir, strings.Join(res.InvalidReasons, "; ")))
		}
	}
	if len(invalid) > 0 {
		return dirs, &InvalidError{invalid}
	}
	return dirs, nil
}

// done hands a finished run to Session.Done, if set.
func (s Session) done(res *result.Result, dir string, cell *Cell) error {
	if s.Done == nil {
		return nil
	}
	return s.Done(res, dir, cell)
}

// config is one run of plan on st.
func (s Session) config(plan Plan, st stack.Stack, cdc driver.CDC) Config {
	return Config{Plan: plan, Stack: st, CDC: cdc, DropExisting: s.Choice.DropExisting, ResultsDir: s.ResultsDir, Version: s.Version, Log: s.Log, Terminal: s.Terminal, Live: s.Live,
		MetricsURLs: s.MetricsURLs, OnMetrics: s.OnMetrics}
}

// StartStack brings up the chosen stack and checks, before anything runs,
// that a Kafka Connect worker it names is Connect with the Debezium plugin.
// The caller closes the stack.
func StartStack(ctx context.Context, ch stack.Choice) (stack.Stack, driver.CDC, error) {
	st, err := stack.Start(ctx, ch.Options)
	if err != nil {
		return nil, driver.CDC{}, err
	}
	cdc, err := driver.NewCDC(ch, st)
	if err == nil {
		err = cdc.Check(ctx)
	}
	if err != nil {
		return nil, cdc, errors.Join(err, stack.Stop(ctx, st))
	}
	return st, cdc, nil
}

// openStack starts ch for the runs of scenario, saying so on the log, and
// warns of slots earlier runs left on a server cdcbench did not start.
// The caller closes the stack.
func (s Session) openStack(ctx context.Context, scenario string, ch stack.Choice) (stack.Stack, driver.CDC, error) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, "cdcbench %s: starting the stack\n", scenario)
	}
	t0 := time.Now()
	st, cdc, err := StartStack(ctx, ch)
	if err != nil {
		return nil, cdc, err
	}
	if s.Log != nil {
		fmt.Fprintf(s.Log, "stack up in %v: PostgreSQL %s, Kafka %s\n", time.Since(t0).Round(time.Millisecond), stack.Redact(st.DSN()), strings.Join(st.Brokers(), ","))
	}
	if ch.Options.PostgresDSN != "" && s.Warn != nil { // a private cluster has no leftovers
		warnInactiveSlots(ctx, s.Warn, st.DSN())
	}
	return st, cdc, nil
}

// warnInactiveSlots tells a run starting on a server about cdcbench slots
// nobody streams: each retains WAL until dropped, and the run would
// otherwise say nothing about the disk filling up under it. A failure to
// look is not the run's concern and is not reported.
func warnInactiveSlots(ctx context.Context, w io.Writer, dsn string) {
	slots, _ := stack.InactiveSlots(ctx, dsn)
	for _, l := range slots {
		fmt.Fprintln(w, slotWarning(l, dsn))
	}
}

// slotWarning is the line warnInactiveSlots prints for slot l.
func slotWarning(l stack.Leftover, dsn string) string {
	return fmt.Sprintf("warning: replication slot %s (database %s) is inactive and retains %s of WAL, probably left by a killed run; `cdcbench clean --pg-dsn '%s'` removes it",
		l.Name, l.Database, l.Retained, stack.Redact(dsn))
}
