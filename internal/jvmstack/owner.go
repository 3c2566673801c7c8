package jvmstack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
)

// ownerName is the file in a stack's temp dir that says whose it is: the
// cdcbench process (pid and start time, so a reused pid is not taken for
// it) and the JVMs it started. Pdeathsig already kills the JVMs when
// cdcbench dies; the file lets `cdcbench clean` make sure, and remove the
// dir, which a kill -9 leaves behind.
const ownerName = "owner.json"

type owner struct {
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"` // field 22 of /proc/PID/stat
	BrokerPID  int    `json:"broker_pid,omitempty"`
	ConnectPID int    `json:"connect_pid,omitempty"`
}

// writeOwner records cdcbench and the JVMs now running; it is rewritten on
// every (re)start of a JVM.
func (s *Stack) writeOwner() error {
	b, c := s.PIDs()
	o := owner{PID: os.Getpid(), StartTicks: startTicks(os.Getpid()), BrokerPID: b, ConnectPID: c}
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("jvmstack: owner file: %w", err)
	}
	tmp := filepath.Join(s.dir, ownerName+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("jvmstack: owner file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, ownerName)); err != nil {
		return fmt.Errorf("jvmstack: owner file: %w", err)
	}
	return nil
}

// startTicks is a process's start time in clock ticks since boot, 0 when
// unknown.
func startTicks(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	// Fields after the command: state is field 3, starttime field 22.
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// Leftover is the temp dir of a stack, with the JVMs still running from it.
// When its cdcbench is gone (not Live) those are normally none: Pdeathsig
// killed them.
type Leftover struct {
	Dir  string
	PIDs []int // JVMs still running from Dir
	// Live: the owning cdcbench still runs (or the dir is younger than a
	// start-up and has no owner file yet); RemoveLeftover refuses it.
	Live bool
}

// leftoverGrace is how old a dir without an owner file must be before it
// counts: a stack being created has none for a moment.
const leftoverGrace = 2 * time.Minute

// FindLeftovers lists the stack dirs in the temp dir, marking Live those
// whose owning cdcbench still runs, with any JVM running from each.
func FindLeftovers() []Leftover {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), DirPrefix+"*"))
	var out []Leftover
	for _, d := range dirs {
		out = append(out, Leftover{Dir: d, PIDs: jvmsOf(d), Live: ownerAlive(d)})
	}
	return out
}

// ownerAlive reports whether the cdcbench named in dir's owner file still
// runs (same pid, same start time), or dir is too young to judge.
func ownerAlive(dir string) bool {
	b, err := inputfile.Read(filepath.Join(dir, ownerName), 4<<10) // in a shared temp dir
	var o owner
	if err != nil || json.Unmarshal(b, &o) != nil {
		fi, serr := os.Stat(dir)
		return serr == nil && time.Since(fi.ModTime()) < leftoverGrace
	}
	return alive(o.PID) && (o.StartTicks == 0 || startTicks(o.PID) == o.StartTicks)
}

// RemoveLeftover kills the JVMs still running from dir (SIGKILL to their
// process groups), waits for them, and removes dir. It refuses a dir whose
// cdcbench is still running.
func RemoveLeftover(dir string) error {
	if ownerAlive(dir) {
		return fmt.Errorf("jvmstack: %s belongs to a running cdcbench; not removed", dir)
	}
	var errs []error
	for _, pid := range jvmsOf(dir) {
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("jvmstack: kill %d: %w", pid, err))
		}
		for i := 0; i < 50 && alive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("jvmstack: remove %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// jvmsOf lists the live processes started for the stack in dir: their
// command line carries -Dcdcbench.stack=dir (so a pid reused by someone
// else is never taken for ours).
func jvmsOf(dir string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	mark := []byte("-Dcdcbench.stack=" + dir + "\x00")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, mark) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid is a running process; a zombie is not.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
