// Package ownerpid marks a directory with the process that owns it, so
// that `cdcbench clean` can tell a live run's private cluster or Kafka data
// from what a killed run left behind, without guessing from ages.
//
// The file holds the owner's pid and its start time (from /proc), so a pid
// reused by another process after the owner died does not keep a leftover
// alive.
package ownerpid

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cdcbench/cdcbench/internal/inputfile"
)

// File is the owner file's name inside the directory.
const File = "cdcbench.owner"

// State is what Check found.
type State int

const (
	// Unknown: the directory has no readable owner file (made by an older
	// cdcbench, or not yet written).
	Unknown State = iota
	// Alive: the owner process runs.
	Alive
	// Dead: the owner process is gone (or its pid now names another process).
	Dead
)

// Claim writes the calling process as dir's owner.
func Claim(dir string) error {
	pid := os.Getpid()
	start, err := startTime(pid)
	if err != nil {
		start = 0 // no /proc: the pid alone
	}
	if err := os.WriteFile(filepath.Join(dir, File), fmt.Appendf(nil, "%d %d\n", pid, start), 0o644); err != nil {
		return fmt.Errorf("ownerpid: %w", err)
	}
	return nil
}

// Check reads dir's owner file and reports whether its owner runs, with the
// owner's pid (0 when Unknown).
func Check(dir string) (State, int) {
	// The directory is in a shared temp dir: anyone may have put a FIFO
	// or a huge file there under the owner file's name.
	b, err := inputfile.Read(filepath.Join(dir, File), 4<<10)
	if err != nil {
		return Unknown, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return Unknown, 0
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return Unknown, 0
	}
	if !Running(pid) {
		return Dead, pid
	}
	if now, err := startTime(pid); err == nil && start != 0 && now != start {
		return Dead, pid // the pid was reused
	}
	return Alive, pid
}

// Running reports whether pid is a running process; a zombie is not.
func Running(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false // EPERM: it exists, as another user (a postmaster run as postgres)
	}
	rest, err := statFields(pid)
	if err != nil {
		return true // no /proc: trust kill
	}
	return len(rest) > 0 && rest[0] != "Z"
}

// startTime is when pid started, in clock ticks since boot (/proc/pid/stat
// field 22).
func startTime(pid int) (uint64, error) {
	rest, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	const field = 22 - 3 // rest starts at field 3, the state
	if len(rest) <= field {
		return 0, fmt.Errorf("ownerpid: /proc/%d/stat has %d fields", pid, len(rest)+2)
	}
	return strconv.ParseUint(rest[field], 10, 64)
}

// statFields returns /proc/pid/stat's fields after the parenthesised
// command name, which may itself hold spaces.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, fmt.Errorf("ownerpid: /proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}
