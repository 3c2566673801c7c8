package jvmstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/wait"
)

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
func FindLeftovers() []Leftover { return FindDirs(DirPrefix) }

// FindDirs is FindLeftovers for the temp dirs whose names start with
// prefix: any dir that jvm.Start claims and marks its JVMs with, such as a
// Spark path's, follows the same rule and is removed by RemoveLeftover.
func FindDirs(prefix string) []Leftover {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	var out []Leftover
	for _, d := range dirs {
		out = append(out, Leftover{Dir: d, PIDs: jvm.Marked(d), Live: ownerAlive(d)})
	}
	return out
}

// ownerAlive reports whether the cdcbench that claimed dir (jvm.Start
// does, with ownerpid) still runs, or dir is too young to judge.
func ownerAlive(dir string) bool {
	switch state, _ := ownerpid.Check(dir); state {
	case ownerpid.Alive:
		return true
	case ownerpid.Dead:
		return false
	}
	fi, err := os.Stat(dir)
	return err == nil && time.Since(fi.ModTime()) < leftoverGrace
}

// RemoveLeftover kills the JVMs still running from dir (SIGKILL to their
// process groups), waits for them, and removes dir. It refuses a dir whose
// cdcbench is still running.
func RemoveLeftover(dir string) error {
	if ownerAlive(dir) {
		return fmt.Errorf("jvmstack: %s belongs to a running cdcbench; not removed", dir)
	}
	var errs []error
	for _, pid := range jvm.Marked(dir) {
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("jvmstack: kill %d: %w", pid, err))
		}
		// Reaped by its parent, if that is still there: the dir goes
		// either way.
		_ = wait.Until(context.Background(), time.Now().Add(5*time.Second), 100*time.Millisecond, func() (bool, error) {
			return !ownerpid.Running(pid), nil
		})
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("jvmstack: remove %s: %w", dir, err))
	}
	return errors.Join(errs...)
}
