package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/internal/inputfile"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
)

// DirPattern matches the private clusters' temp dirs (filepath.Glob).
const DirPattern = "cdcbench-pg-*"

// ErrDied reports a private cluster's server that exited under a run and
// that no other postmaster replaced.
var ErrDied = errors.New("exited under the run")

// successorGrace is how long, after the postmaster cdcbench started exited,
// another one may take to serve the data directory before the exit counts
// as a death: `pg_ctl restart` from outside starts its postmaster within
// a second of the old one's exit.
const successorGrace = 2 * time.Second

// watchInterval is how often a postmaster that cdcbench did not start (so
// cannot wait for) is checked.
const watchInterval = 250 * time.Millisecond

// Deaths delivers an error (wrapping ErrDied, with the exit status and the
// server log's last lines) when the server exits without Stop and no other
// postmaster took over its data directory within successorGrace. A
// postmaster restarted from outside (pg_ctl restart) is not a death: it is
// watched in turn, and Stop stops it.
func (c *Cluster) Deaths() <-chan error { return c.deaths }

// watch follows the server from p on until Stop, and reports a death.
func (c *Cluster) watch(p *postmaster) {
	select {
	case <-p.done:
	case <-c.stopped:
		return
	}
	// A postmaster killed or crashed is dead: only a clean exit (a
	// shutdown asked for from outside) may have a successor.
	for p.waitErr == nil {
		deadline := time.Now().Add(successorGrace)
		pid := 0
		for pid == 0 && time.Now().Before(deadline) {
			if pid = DirPostmaster(c.dir); pid == 0 && !c.pause(watchInterval) {
				return
			}
		}
		if pid == 0 {
			break
		}
		// Watched until it exits in turn, however that is.
		for ownerpid.Running(pid) {
			if !c.pause(watchInterval) {
				return
			}
		}
	}
	c.deaths <- fmt.Errorf("pgcluster: PostgreSQL (postmaster pid %d) %w (%v); server log tail:\n%s", p.cmd.Process.Pid, ErrDied, p.waitErr, c.logTail(0))
}

// pause waits d, or returns false at once when Stop began.
func (c *Cluster) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stopped:
		return false
	}
}

// DirPostmaster returns the pid of the live postmaster serving the cluster
// directory dir (its data/postmaster.pid names it, and its command line
// names the data directory), 0 if none does.
func DirPostmaster(dir string) int {
	data := filepath.Join(dir, "data")
	b, err := inputfile.Read(filepath.Join(data, "postmaster.pid"), 4<<10) // in a shared temp dir
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if d, ok := postmasterData(pid); ok && d == data && ownerpid.Running(pid) {
		return pid
	}
	return 0
}

// postmasterData returns the data directory a postgres process was started
// with (its -D argument).
func postmasterData(pid int) (string, bool) {
	if pid <= 0 {
		return "", false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", false
	}
	args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
	if len(args) < 3 || filepath.Base(string(args[0])) != "postgres" {
		return "", false
	}
	for i, a := range args[:len(args)-1] {
		if string(a) == "-D" {
			return string(args[i+1]), true
		}
	}
	return "", false
}

// Orphan is a postmaster of a private cluster whose directory is gone: one
// restarted from outside (pg_ctl restart) after cdcbench had started its
// own, and left on the deleted data by an older cdcbench.
type Orphan struct {
	PID     int
	DataDir string
}

// Orphans lists the postmasters serving a private cluster's data directory
// that no longer exists.
func Orphans() []Orphan {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []Orphan
	for _, p := range procs {
		pid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		data, ok := postmasterData(pid)
		if !ok || filepath.Base(data) != "data" {
			continue
		}
		if m, _ := filepath.Match(DirPattern, filepath.Base(filepath.Dir(data))); !m {
			continue
		}
		if _, err := os.Stat(data); errors.Is(err, os.ErrNotExist) && ownerpid.Running(pid) {
			out = append(out, Orphan{PID: pid, DataDir: data})
		}
	}
	return out
}

// StopPostmaster stops a postmaster cdcbench did not start (so cannot
// wait for): a fast shutdown (SIGINT), and SIGKILL when it still runs
// after stopTimeout or when ctx ends.
func StopPostmaster(ctx context.Context, pid int) error {
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("pgcluster: stop postmaster %d: %w", pid, err)
	}
	deadline := time.Now().Add(stopTimeout)
	for ownerpid.Running(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("pgcluster: postmaster %d killed: it did not stop within %v of SIGINT", pid, stopTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
