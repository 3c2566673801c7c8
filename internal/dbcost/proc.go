package dbcost

import (
	"fmt"
	"os"
	"strconv"

	"github.com/cdcbench/cdcbench/internal/proccost"
)

// procRoot is where Linux shows processes.
const procRoot = "/proc"

// statAttempts bounds how often serverTicks re-reads the process table when
// the postmaster reaped a child in the middle of a read.
const statAttempts = 5

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
		pm, err := proccost.ReadStat(postmaster)
		if err != nil {
			return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
		}
		children, err := childTicks(postmaster)
		if err != nil {
			return 0, err
		}
		again, err := proccost.ReadStat(postmaster)
		if err != nil {
			return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
		}
		total = again.Ticks + again.Reaped + children
		if again.Reaped == pm.Reaped {
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
		st, err := proccost.ReadStat(pid)
		if err != nil {
			continue // exited since the directory was read
		}
		if st.PPID == ppid {
			sum += st.Ticks + st.Reaped
		}
	}
	return sum, nil
}
