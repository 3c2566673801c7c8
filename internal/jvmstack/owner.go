package jvmstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// Leftover is the temp dir of a stack whose cdcbench is gone, with the JVMs
// of it still running (normally none: Pdeathsig killed them).
type Leftover struct {
	Dir  string
	PIDs []int // JVMs still running from Dir
}

// leftoverGrace is how old a dir without an owner file must be before it
// counts: a stack being created has none for a moment.
const leftoverGrace = 2 * time.Minute

// FindLeftovers lists stack dirs in the temp dir whose owning cdcbench is no
// longer running.
func FindLeftovers() []Leftover {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), DirPrefix+"*"))
	var out []Leftover
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerName))
		var o owner
		if err != nil || json.Unmarshal(b, &o) != nil {
			if fi, serr := os.Stat(d); serr != nil || time.Since(fi.ModTime()) < leftoverGrace {
				continue
			}
		} else if alive(o.PID) && (o.StartTicks == 0 || startTicks(o.PID) == o.StartTicks) {
			continue // its cdcbench still runs
		}
		l := Leftover{Dir: d}
		for _, pid := range []int{o.BrokerPID, o.ConnectPID} {
			if ours(pid, d) {
				l.PIDs = append(l.PIDs, pid)
			}
		}
		out = append(out, l)
	}
	return out
}

// RemoveLeftover kills the leftover's JVMs (SIGKILL to their process
// groups) and removes its dir.
func RemoveLeftover(l Leftover) error {
	var errs []error
	for _, pid := range l.PIDs {
		if !ours(pid, l.Dir) {
			continue // gone meanwhile, or the pid is someone else's now
		}
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("jvmstack: kill %d: %w", pid, err))
		}
		for i := 0; i < 50 && alive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := os.RemoveAll(l.Dir); err != nil {
		errs = append(errs, fmt.Errorf("jvmstack: remove %s: %w", l.Dir, err))
	}
	return errors.Join(errs...)
}

// ours reports whether pid is a live JVM started for the stack in dir: its
// command line carries -Dcdcbench.stack=dir.
func ours(pid int, dir string) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	for _, arg := range strings.Split(string(b), "\x00") {
		if arg == "-Dcdcbench.stack="+dir {
			return true
		}
	}
	return false
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
