package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/cdcbench/cdcbench/bench"
)

// TestResolve: flags are moved ahead of the positional arguments of the
// command they belong to, with their values; "--" and "-" keep their
// meaning; help is rewritten into --help of the command named.
func TestResolve(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = unchanged
		path string
		err  string
	}{
		{in: "report results/a -o x.md", want: "report -o x.md results/a", path: "report"},
		{in: "report results/a --output=x.md results/b", want: "report --output=x.md results/a results/b", path: "report"},
		{in: "report -o x.md results/a", path: "report"},
		{in: "compare A vs B --stages", want: "compare --stages A vs B", path: "compare"},
		{in: "compare A B --alpha 0.1 --markdown", want: "compare --alpha 0.1 --markdown A B", path: "compare"},
		{in: "gate results/a --rules gates/ci.yaml --baseline b.json", want: "gate --rules gates/ci.yaml --baseline b.json results/a", path: "gate"},
		// --results takes a value: in `gate --results A B` A is its value,
		// which the gate then refuses (TestGateExitStatus).
		{in: "gate --results A B", path: "gate"},
		{in: "run --scenario smoke -q --rate 100", path: "run"},
		{in: "run -q --scenario=smoke", path: "run"},
		// A bool flag takes no value: the word after it stays an argument.
		{in: "compare A --stages B", want: "compare --stages A B", path: "compare"},
		{in: "replay - --outlier-rule sigma3", want: "replay --outlier-rule sigma3 -", path: "replay"},
		{in: "report a -- -o", want: "report -- a -o", path: "report"},
		{in: "report -- -o x", want: "report -- -o x", path: "report"},
		{in: "report a -o x -- b", want: "report -o x -- a b", path: "report"},
		// An unknown flag stays a flag, so that parsing reports it.
		{in: "report a --nope", want: "report --nope a", path: "report"},
		{in: "scenarios show smoke", path: "scenarios show"},
		{in: "scenarios", path: "scenarios"},
		{in: "stack up --partitions 2", path: "stack up"},
		{in: "help", path: ""},
		{in: "--version", path: ""},
		{in: "help stack up", want: "stack up --help", path: "stack up"},
		{in: "help stack", want: "stack --help", path: "stack"},
		{in: "stack help up", want: "stack up --help", path: "stack up"},
		{in: "help run", want: "run --help", path: "run"},
		{in: "rn --scenario smoke", err: `unknown command "rn"; did you mean "run"?`},
		{in: "stack down", err: `stack: unknown command "down"`},
		{in: "scenarios shwo smoke", err: `scenarios: unknown command "shwo"; did you mean "show"?`},
		{in: "help nope", err: `unknown command "nope"`},
		// A command without arguments refuses them: `run burst` ran smoke.
		{in: "run burst", err: `run takes no arguments, got "burst"; the scenario is --scenario burst`},
		{in: "run --scenario smoke -- x", err: `run takes no arguments, got "x"; the scenario is --scenario x`},
		{in: "stack up extra", err: `stack up takes no arguments, got "extra"`},
		{in: "run help", path: "run"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			args := append([]string{"cdcbench"}, strings.Fields(tt.in)...)
			inv, err := resolve(newApp(), args)
			if tt.err != "" {
				if !errors.As(err, new(usageError)) || err.Error() != tt.err {
					t.Fatalf("err %v, want usage error %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if got := strings.Join(inv.args[1:], " "); got != want {
				t.Errorf("args %q, want %q", got, want)
			}
			if inv.name() != tt.path {
				t.Errorf("command %q, want %q", inv.name(), tt.path)
			}
		})
	}
}

// TestUsageErrors: a mistake on the command line is exit 2 and two lines on
// stderr (what was wrong, where to read more), never the help page; help
// for a subcommand is that subcommand's.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // the first line
		see  string // the second
	}{
		{[]string{"run", "--bach-size", "5"}, `cdcbench: unknown flag --bach-size; did you mean "--batch-size"?`, "see: cdcbench help run"},
		{[]string{"run", "--rate", "abc"}, `cdcbench: invalid value "abc" for flag --rate: parse error`, "see: cdcbench help run"},
		{[]string{"report", "-o"}, "cdcbench: flag needs an argument: -o", "see: cdcbench help report"},
		{[]string{"gate", "--foo"}, "cdcbench: unknown flag --foo", "see: cdcbench help gate"},
		{[]string{"compare", "a", "b", "--stage"}, `cdcbench: unknown flag --stage; did you mean "--stages"?`, "see: cdcbench help compare"},
		{[]string{"stack", "up", "--partition", "2"}, `cdcbench: unknown flag --partition; did you mean "--partitions"?`, "see: cdcbench help stack up"},
		{[]string{"rn"}, `cdcbench: unknown command "rn"; did you mean "run"?`, "see: cdcbench help"},
		{[]string{"agent", "--agent", "outlier"}, "cdcbench: agent: want --agent outlier|velocity and --brokers host:port", "see: cdcbench help agent"},
		{[]string{"--nope"}, "cdcbench: unknown flag --nope", "see: cdcbench help"},
		{[]string{"run", "burst"}, `cdcbench: run takes no arguments, got "burst"; the scenario is --scenario burst`, "see: cdcbench help run"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Setenv("KAFKA_BOOTSTRAP_SERVERS", "")
			stdout, stderr, code := cdcbench(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if want := tt.want + "\n" + tt.see + "\n"; stderr != want || stdout != "" {
				t.Errorf("stderr\n%s\nstdout\n%s\nwant stderr\n%s", stderr, stdout, want)
			}
		})
	}
	for _, tt := range []struct {
		args       []string
		has, hasnt string
	}{
		{[]string{"help", "stack", "up"}, "cdcbench stack up - start PostgreSQL", "manage the stack on its own"},
		{[]string{"help", "stack"}, "   up ", "--partitions"},
		{[]string{"stack", "--help"}, "   up ", "--partitions"},
		{[]string{"help"}, "Exit codes", "Incorrect Usage"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := cdcbench(t, tt.args...)
			if code != 0 || !strings.Contains(stdout, tt.has) || strings.Contains(stdout, tt.hasnt) {
				t.Errorf("exit %d, stdout\n%s\nstderr %s\nwant %q and not %q", code, stdout, stderr, tt.has, tt.hasnt)
			}
		})
	}
}

// TestExitCode: every outcome has its code, and an interrupt wins over the
// error it caused.
func TestExitCode(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(live)
	cancel()
	// A child that Ctrl-C ended, and one that failed on its own.
	interrupted := exec.Command("sh", "-c", "kill -INT $$").Run()
	failed := exec.Command("sh", "-c", "exit 1").Run()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"a child ended by SIGINT before the context knew", live, fmt.Errorf("pgcluster: initdb: %w", interrupted), exitInterrupted},
		{"a child that failed", live, fmt.Errorf("pgcluster: initdb: %w", failed), exitCouldNotRun},
		{"success", live, nil, exitOK},
		{"invalid run", live, &bench.InvalidError{Reasons: []string{"cdc: 3 rows never arrived"}}, exitFailed},
		{"gate regression", live, fmt.Errorf("gate: %w", gateFailure{}), exitFailed},
		{"usage", live, fmt.Errorf("x: %w", usageError{errors.New("bad")}), exitUsage},
		{"connection refused", live, errors.New("dial tcp 127.0.0.1:1: connection refused"), exitCouldNotRun},
		{"interrupted", cancelled, fmt.Errorf("path cdc: %w", context.Canceled), exitInterrupted},
		{"an invalid run cut short by Ctrl-C", cancelled, &bench.InvalidError{Reasons: []string{"interrupted"}}, exitInterrupted},
		{"usage wins over an interrupt", cancelled, usageError{errors.New("bad")}, exitUsage},
		{"an invalid run, then Ctrl-C in the live page's grace period", cancelled, finishedRuns{&bench.InvalidError{Reasons: []string{"cdc: 3 rows never arrived"}}}, exitFailed},
		{"a stack that failed, then Ctrl-C in the grace period", cancelled, finishedRuns{errors.New("dial tcp 127.0.0.1:1: connection refused")}, exitCouldNotRun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.ctx, tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
	// The table in --help is the one exit.go defines.
	var help strings.Builder
	run(live, []string{"cdcbench", "--help"}, &help, io.Discard)
	for _, e := range exitCodes {
		if !strings.Contains(help.String(), fmt.Sprintf("%3d  %s", e.code, e.meaning)) {
			t.Errorf("--help does not list exit code %d", e.code)
		}
	}
}
