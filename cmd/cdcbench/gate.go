package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cdcbench/cdcbench/internal/gate"
	"github.com/cdcbench/cdcbench/reports"
)

// gateFailure is a gate that ran and found a regression (or an invalid
// run): exit 1.
type gateFailure struct{ failed []gate.Check }

func (gateFailure) exitCode() int { return exitFailed }

func (e gateFailure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gate: FAIL (exit 1): %d %s broke %s limit:", len(e.failed), reports.Plural(len(e.failed), "check"), reports.Plural(len(e.failed), "its", "their"))
	for _, c := range e.failed {
		rule := fmt.Sprintf("line %d `%s`", c.Rule.Line, c.Rule.Text)
		if c.Rule.Implied {
			rule = "`valid` (implied)"
		}
		fmt.Fprintf(&b, "\n  %s on %s: observed %s, limit %s", rule, c.Target, c.Observed, c.Limit)
		if c.Note != "" {
			fmt.Fprintf(&b, " (%s)", c.Note)
		}
	}
	return b.String()
}

func gateCommand() *cli.Command {
	return &cli.Command{
		Name:      "gate",
		Usage:     "pass or fail runs against latency objectives (for CI)",
		ArgsUsage: "[RESULT_DIR...]",
		Description: `Checks one or more runs of a scenario against the rules of a gate file and prints a
markdown table of every check (also appended to $GITHUB_STEP_SUMMARY when set).
Without RESULT_DIR it gates the newest run under --results, a parent directory
(results/ by default), not a run: with RESULT_DIRs --results is refused, since
"gate --results A B" would otherwise gate B alone.

A gate file lists one rule per line:

  alpha: 0.05                                   # significance level of relative rules
  rules:
    - valid                                     # every run valid (implied when absent)
    - missed_alerts == 0                        # every path and agent, in every run
    - cdc/velocity e2e p99 < 250ms              # path/agent metric stat op limit
    - cdc stages.commit_receive p50 < 20ms      # a path alone means each of its agents
    - cdc e2e p50 <= 8 x cdc stages.insert_commit p50   # ratio inside each run
    - cdc e2e p50 <= 1.2 x baseline             # relative to --baseline

Metrics: e2e <stat>, stages.<stage> <stat> (stat: p50 p90 p99 p999 max mean), and
the counts events, expected_events, events_missing, duplicate_events, alerts,
expected_alerts, missed_alerts, unexpected_alerts. Agents are the built-in outlier
and velocity and your own (run --agent-commands) by name: cdc/my-outlier
missed_alerts == 0. Of your own agents cdcbench sees the alerts only: they have the
alert counts and stages.alert, and a rule over every agent skips them for the rest.

With several runs: valid and count rules must hold in every run; latency rules use
the median across runs (ratio rules, the median of each run's ratio); a relative
rule fails only when the median breaks its limit and a Mann-Whitney U test against
the baseline's runs is significant at alpha. With one run on either side a relative
rule is "unconfirmed (1 run)" and does not fail; 3+3 runs cannot reach p < 0.05
either (the smallest p is 0.1), 4+4 can.

A baseline is recorded from repeated valid runs with --record-baseline; it holds
each run's figures and the machine (CPU model, cores, memory). Gating against a
baseline from another machine is an input error unless --allow-foreign-baseline.

Exit status: 0 every rule passed; 1 a rule failed (regression or invalid run; a
rule needing a path or agent that an invalid run lacks fails too); 2 bad input
(unreadable result or gate file, rule naming a path no valid run has, foreign
baseline).

  cdcbench gate                                          # newest run, gates/ci.yaml
  cdcbench gate results/smoke-20261126T082554Z           # one run
  cdcbench gate --baseline gates/baseline-smoke.json results/smoke-*/
  cdcbench gate --record-baseline gates/baseline-smoke.json results/smoke-*/`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rules", Aliases: []string{"r"}, Value: "gates/ci.yaml", Usage: "gate file"},
			&cli.StringFlag{Name: "baseline", Aliases: []string{"b"}, Usage: "baseline file for relative rules (without it they are skipped)"},
			&cli.BoolFlag{Name: "allow-foreign-baseline", Usage: "accept a baseline recorded on another machine; the report flags it"},
			&cli.StringFlag{Name: "results", Value: "results", Usage: "parent directory searched for the newest run when no RESULT_DIR is given (not a run to gate: name those as arguments)"},
			&cli.StringFlag{Name: "record-baseline", Usage: "instead of gating, record the runs as a baseline `FILE`"},
		},
		Before: func(c *cli.Context) error {
			if dirs := c.Args().Slice(); len(dirs) > 0 && c.IsSet("results") {
				// `gate --results A B` read as "gate A and B" would gate
				// only B (A is --results' value) without a word.
				return usageError{fmt.Errorf("gate: --results %s is where the newest run is looked for when no RESULT_DIR is given; with RESULT_DIRs (%s) drop --results and name every run", c.String("results"), strings.Join(dirs, " "))}
			}
			return nil
		},
		Action: func(c *cli.Context) error {
			err := runGate(c)
			// A job summary that says nothing when the gate could not run
			// reads as if it passed.
			var ue usageError
			if !errors.As(err, &ue) {
				return err
			}
			if serr := appendStepSummary(fmt.Sprintf("## cdcbench gate: ERROR\n\n%s (exit %d)\n", err, exitUsage)); serr != nil {
				return usageError{errors.Join(err, serr)}
			}
			return err
		},
	}
}

func runGate(c *cli.Context) error {
	dirs := c.Args().Slice()
	if len(dirs) == 0 {
		newest, err := newestRun(c.String("results"))
		if err != nil {
			return usageError{fmt.Errorf("gate: %w", err)}
		}
		dirs = []string{newest}
	}
	runs, err := gate.LoadRuns(dirs...)
	if err != nil {
		return usageError{err}
	}
	if out := c.String("record-baseline"); out != "" {
		b, err := gate.NewBaseline(runs, time.Now())
		if err != nil {
			return usageError{err}
		}
		if err := b.Write(out); err != nil {
			return err
		}
		fmt.Fprintf(c.App.ErrWriter, "gate: recorded %d runs of %s as baseline %s\n", len(runs), b.Scenario, out)
		return nil
	}
	spec, err := gate.LoadSpec(c.String("rules"))
	if err != nil {
		return usageError{err}
	}
	in := gate.Input{Runs: runs, AllowForeignBaseline: c.Bool("allow-foreign-baseline")}
	if name := c.String("baseline"); name != "" {
		if in.Baseline, err = gate.ReadBaseline(name); err != nil {
			return usageError{err}
		}
		in.BaselineName = name
	}
	rep, err := gate.Evaluate(spec, in)
	if err != nil {
		return usageError{err}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		return err
	}
	if _, err := io.Copy(c.App.Writer, bytes.NewReader(md.Bytes())); err != nil {
		return err
	}
	if err := appendStepSummary(md.String()); err != nil {
		return err
	}
	if failed := rep.Failed(); len(failed) > 0 {
		return gateFailure{failed}
	}
	fmt.Fprintf(c.App.ErrWriter, "gate: PASS: %d checks of %s on %d %s\n", len(rep.Checks), spec.File, len(runs), reports.Plural(len(runs), "run"))
	return nil
}

// appendStepSummary appends md to the file GitHub Actions names in
// $GITHUB_STEP_SUMMARY, which it shows on the job's summary page; without
// the variable it does nothing.
func appendStepSummary(md string) error {
	name := os.Getenv("GITHUB_STEP_SUMMARY")
	if name == "" {
		return nil
	}
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("gate: step summary: %w", err)
	}
	if _, err := io.WriteString(f, md+"\n"); err != nil {
		f.Close()
		return fmt.Errorf("gate: step summary: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gate: step summary: %w", err)
	}
	return nil
}

// newestRun is the run directory under parent whose result.json was
// written last.
func newestRun(parent string) (string, error) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return "", fmt.Errorf("no RESULT_DIR given and %w", err)
	}
	var best string
	var bestTime time.Time
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		fi, err := os.Stat(filepath.Join(parent, e.Name(), "result.json"))
		if err != nil {
			continue
		}
		if best == "" || fi.ModTime().After(bestTime) {
			best, bestTime = filepath.Join(parent, e.Name()), fi.ModTime()
		}
	}
	if best == "" {
		return "", fmt.Errorf("no RESULT_DIR given and no run under %s; run cdcbench run first", parent)
	}
	return best, nil
}
