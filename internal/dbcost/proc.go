package dbcost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// procRoot is where Linux shows processes.
const procRoot = "/proc"

// TicksPerSecond is the unit of /proc's CPU times (USER_HZ). Linux fixes it
// at 100 on every architecture Go runs on; reading it through sysconf would
// need cgo for a constant.
const TicksPerSecond = 100

// statAttempts bounds how often serverTicks re-reads the process table when
// the postmaster reaped a child in the middle of a read.
const statAttempts = 5

// procStat is the part of /proc/<pid>/stat dbcost uses.
type procStat struct {
	ppid int
	// ticks is the process's own user+system CPU; reaped is the CPU of
	// its children that exited and were waited for (cutime+cstime).
	ticks, reaped int64
}

// errStat reports a /proc/<pid>/stat line dbcost cannot read.
var errStat = errors.New("dbcost: malformed /proc stat line")

// procAvailable reports whether this system shows processes in /proc.
func procAvailable() bool {
	_, err := os.Stat(filepath.Join(procRoot, "self", "stat"))
	return err == nil
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses a stat line: "pid (comm) state ppid ... utime stime
// cutime cstime ...". comm may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("%w: no command name in %q", errStat, b)
	}
	// After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
	f := bytes.Fields(b[end+1:])
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("%w: %d fields after the command in %q", errStat, len(f), b)
	}
	var v [15]int64
	for _, i := range []int{1, 11, 12, 13, 14} {
		n, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("%w: field %d of %q: %v", errStat, i+3, b, err)
		}
		v[i] = n
	}
	return procStat{ppid: int(v[1]), ticks: v[11] + v[12], reaped: v[13] + v[14]}, nil
}

// serverTicks sums the CPU of a PostgreSQL server in clock ticks: the
// postmaster, its live children (backends, WAL senders, checkpointer,
// autovacuum, ...), and — through the postmaster's cutime/cstime — every
// child that has exited and been reaped, so a backend that disconnects
// between two samples keeps its CPU in the total. Grandchildren still
// running (an archive_command, say) are not counted until they exit.
//
// The process table is not read atomically: a child reaped between reading
// it and reading the postmaster would count twice or not at all. The
// postmaster's reaped total is read before and after the walk, and the walk
// is repeated if it changed (after statAttempts, the last reading stands:
// a server reaping a child on every read is too busy for the error to
// matter).
func serverTicks(postmaster int) (int64, error) {
	var total int64
	for range statAttempts {
		pm, err := readStat(postmaster)
		if err != nil {
			return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
		}
		children, err := childTicks(postmaster)
		if err != nil {
			return 0, err
		}
		again, err := readStat(postmaster)
		if err != nil {
			return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
		}
		total = again.ticks + again.reaped + children
		if again.reaped == pm.reaped {
			break
		}
	}
	return total, nil
}

// childTicks sums the CPU (their own and their reaped children's) of the
// live processes whose parent is ppid.
func childTicks(ppid int) (int64, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", procRoot, err)
	}
	var sum int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process
		}
		st, err := readStat(pid)
		if err != nil {
			continue // exited since the directory was read
		}
		if st.ppid == ppid {
			sum += st.ticks + st.reaped
		}
	}
	return sum, nil
}
