package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"github.com/cdcbench/cdcbench/bench"
	"github.com/cdcbench/cdcbench/internal/driver"
	"github.com/cdcbench/cdcbench/internal/inputfile"
)

// Exit codes. Every command returns one of these and nothing else, so a
// script or a CI job can tell "the pipeline regressed" from "I typed the
// command wrong" from "the database was not there". README.md's "Exit codes"
// table and `cdcbench --help` are generated from, or tested against,
// exitCodes.
const (
	exitOK          = 0   // the run was valid, the gate passed, the report was written
	exitFailed      = 1   // the command ran and the result is a failure: an invalid run, a gate regression
	exitUsage       = 2   // bad input: a flag, argument, scenario, gate file or result directory
	exitCouldNotRun = 3   // the command could not do its job: a connection failed, the stack did not start
	exitInterrupted = 130 // Ctrl-C or SIGTERM (128 + SIGINT, as shells report it)
)

// exitCodes documents the codes, in order, for --help and README.md.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitOK, "success: the run is valid, the gate passed, the report or comparison was written"},
	{exitFailed, "the command ran and found a failure: an invalid run (run; also one your own agent failed in), a broken rule or an invalid run (gate)"},
	{exitUsage, "usage error: an unknown flag or command, a bad value, scenario, gate file or result directory, connector settings Kafka Connect refused"},
	{exitCouldNotRun, "could not run: PostgreSQL, Kafka or Kafka Connect unreachable, the stack failed to start, an existing table without --reset-table, a file could not be written"},
	{exitInterrupted, "interrupted by Ctrl-C or SIGTERM (what was measured until then is written, marked invalid)"},
}

// exitHelp is the exit code table as --help prints it.
func exitHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes (the same for every command):\n")
	for _, e := range exitCodes {
		fmt.Fprintf(&b, "  %3d  %s\n", e.code, e.meaning)
	}
	b.WriteString("agent and stack up run until they are stopped: Ctrl-C ends them with 0.")
	return b.String()
}

// exitCoder is an error that knows its exit code. Only the types of this
// package implement it: a wrapped *exec.ExitError (initdb interrupted) must
// not lend its own exit status to cdcbench.
type exitCoder interface {
	error
	exitCode() int
}

// usageError marks bad input: a wrong flag, scenario or results directory.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
func (usageError) exitCode() int   { return exitUsage }

// exitCode maps what a command returned to the process's exit status. An
// interrupt wins over the error it caused (a cancelled query, a run cut
// short); a usage error wins over an interrupt, since nothing ran.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	if f := (finishedRuns{}); errors.As(err, &f) {
		return exitCode(context.Background(), f.err)
	}
	var ec exitCoder
	if errors.As(err, &ec) && ec.exitCode() == exitUsage || errors.Is(err, driver.ErrSettings) ||
		errors.Is(err, inputfile.ErrNotRegular) || errors.Is(err, inputfile.ErrTooLarge) {
		// Settings Kafka Connect refused are the scenario's, found by the
		// one who can judge them; a file refused unread is bad input
		// wherever it was found.
		return exitUsage
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || interruptedChild(err) {
		return exitInterrupted
	}
	if errors.As(err, &ec) {
		return ec.exitCode()
	}
	if errors.As(err, new(*bench.InvalidError)) {
		return exitFailed // runs that finished and were judged invalid
	}
	return exitCouldNotRun
}

// finishedRuns is the outcome of runs that had all ended when an interrupt
// came (Ctrl-C in the live page's grace period): it keeps its own exit
// code, an invalid run's 1 above all, rather than the interrupt's.
type finishedRuns struct{ err error }

func (e finishedRuns) Error() string { return e.err.Error() }
func (e finishedRuns) Unwrap() error { return e.err }

// interruptedChild reports an error from a child process that SIGINT or
// SIGTERM ended: Ctrl-C reaches the whole process group, and initdb can
// die of it and report back before this process has cancelled its own
// context, which would read as "could not run" (seen once in a test).
func interruptedChild(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGINT || ws.Signal() == syscall.SIGTERM)
}
