package driver

import (
	"context"
	"sync"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// jvmProc is the JVM a path runs as its own child (Spark, Debezium
// Server): the one running now, which kill-capture replaces, how long each
// start took, and whether the path is stopping, so that a death cdcbench
// did not ask for fails the path and one it asked for does not.
type jvmProc struct {
	name string // the machine cost's name for it: "spark jvm"

	mu       sync.Mutex
	proc     *jvm.Process
	stopped  bool
	startup  []time.Duration // each start's, to its readiness
	restarts int
	quit     chan struct{} // closed by stop: no death is awaited any more
}

func newJVMProc(name string) *jvmProc {
	return &jvmProc{name: name, quit: make(chan struct{})}
}

// hold is a jvm.Spec's Started: the JVM is held before it is ready, so
// that a stop during a restart's start-up stops it too.
func (j *jvmProc) hold(p *jvm.Process) {
	j.mu.Lock()
	j.proc = p
	j.mu.Unlock()
}

// ready records a start that took d and, until stop, hands fail the
// first of deaths: an exit nobody asked for.
func (j *jvmProc) ready(p *jvm.Process, d time.Duration, deaths <-chan error, fail func(error)) {
	j.mu.Lock()
	j.proc = p
	j.startup = append(j.startup, d)
	j.mu.Unlock()
	go func() {
		select {
		case err := <-deaths:
			if !j.isStopped() {
				fail(err)
			}
		case <-j.quit:
		}
	}()
}

// isStopped reports whether stop was called.
func (j *jvmProc) isStopped() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stopped
}

// own names the JVM running now for the path's machine cost.
func (j *jvmProc) own() []OwnProcess {
	return []OwnProcess{{Name: j.name, PIDs: func() []int {
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.proc == nil || j.proc.Exited() {
			return nil
		}
		return []int{j.proc.PID()}
	}}}
}

// crash kills the JVM (SIGKILL) and, after down, counts a restart and
// calls start, unless the path stopped meanwhile.
func (j *jvmProc) crash(ctx context.Context, down time.Duration, start func(context.Context) error) error {
	j.mu.Lock()
	proc := j.proc
	j.proc = nil
	j.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
	if err := wait.Sleep(ctx, down); err != nil {
		return err
	}
	j.mu.Lock()
	stopped := j.stopped
	j.restarts++
	j.mu.Unlock()
	if stopped {
		return nil
	}
	return start(ctx)
}

// stop stops the JVM (SIGTERM, its shutdown hooks run) once; first is
// false for a second call, which does nothing.
func (j *jvmProc) stop(ctx context.Context) (first bool, err error) {
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return false, nil
	}
	j.stopped = true
	proc := j.proc
	j.mu.Unlock()
	close(j.quit)
	if proc != nil {
		err = proc.Stop(ctx)
	}
	return true, err
}

// report puts the starts into d as prefix_startup_ms (the first),
// prefix_restart_ms (the others) and prefix_restarts (kills), each
// omitted when there is none.
func (j *jvmProc) report(d map[string]any, prefix string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.startup) > 0 {
		d[prefix+"_startup_ms"] = j.startup[0].Milliseconds()
	}
	if len(j.startup) > 1 {
		var r []int64
		for _, st := range j.startup[1:] {
			r = append(r, st.Milliseconds())
		}
		d[prefix+"_restart_ms"] = r
	}
	if j.restarts > 0 {
		d[prefix+"_restarts"] = j.restarts
	}
}
