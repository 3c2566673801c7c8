package driver

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/jvm"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// ownJVM is the JVM a path runs as its own child (Spark's, Flink's): its
// starts and their durations, a death cdcbench did not ask for reported
// to the run, kill-capture's kill, and the stop at the path's end. It
// holds the JVM from its exec on, so that a stop during a restart's
// start-up stops it too.
type ownJVM struct {
	name string          // the machine cost's name for it: "spark jvm"
	fail func(err error) // hears of a death under the run
	quit chan struct{}   // closed by stop: no death is awaited any more

	mu   sync.Mutex
	proc *jvm.Process    // the one running, nil while down
	done bool            // stopped: never started again
	ups  []time.Duration // each start's, from exec to its readiness
	kept bool            // a start failed: its error quotes the log
	kill int             // kills by crash
}

// newOwnJVM returns a JVM of name, not started; fail hears of its deaths.
func newOwnJVM(name string, fail func(error)) *ownJVM {
	return &ownJVM{name: name, fail: fail, quit: make(chan struct{})}
}

// start starts spec (whose Deaths and Started are the JVM's own) and
// records how long it took to be ready.
func (j *ownJVM) start(ctx context.Context, spec jvm.Spec) error {
	deaths := make(chan error, 1)
	spec.Deaths = deaths
	spec.Started = func(p *jvm.Process) { j.mu.Lock(); j.proc = p; j.mu.Unlock() }
	begin := time.Now()
	proc, err := jvm.Start(ctx, spec)
	if err != nil {
		j.mu.Lock()
		j.kept = true
		j.mu.Unlock()
		return err
	}
	go func() {
		select {
		case err := <-deaths:
			j.died(err)
		case <-j.quit:
		}
	}()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.proc = proc
	j.ups = append(j.ups, time.Since(begin))
	return nil
}

// died reports a death, or anything else that stopped the JVM's
// delivery, unless cdcbench stopped it.
func (j *ownJVM) died(err error) {
	j.mu.Lock()
	done := j.done
	j.mu.Unlock()
	if !done && j.fail != nil {
		j.fail(err)
	}
}

// processes names the JVM running now, for the path's machine cost.
func (j *ownJVM) processes() []OwnProcess {
	return []OwnProcess{{Name: j.name, PIDs: func() []int {
		j.mu.Lock()
		defer j.mu.Unlock()
		if j.proc == nil || j.proc.Exited() {
			return nil
		}
		return []int{j.proc.PID()}
	}}}
}

// crash kills the JVM with SIGKILL and waits down; again is false when
// the path was stopped meanwhile, so that nothing is started again.
func (j *ownJVM) crash(ctx context.Context, down time.Duration) (again bool, err error) {
	j.mu.Lock()
	proc := j.proc
	j.proc = nil
	j.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
	if err := wait.Sleep(ctx, down); err != nil {
		return false, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.kill++
	return !j.done, nil
}

// stop stops the JVM (SIGTERM, then SIGKILL); first is false when it was
// stopped before.
func (j *ownJVM) stop(ctx context.Context) (first bool, err error) {
	j.mu.Lock()
	if j.done {
		j.mu.Unlock()
		return false, nil
	}
	j.done = true
	proc := j.proc
	j.mu.Unlock()
	close(j.quit)
	if proc != nil {
		err = proc.Stop(ctx)
	}
	return true, err
}

// startups are each start's durations, the first start's first; restarts
// counts the kills that were followed by a start attempt, and keep says a
// start failed, whose error names the log in the JVM's directory.
func (j *ownJVM) startups() (ups []time.Duration, restarts int, keep bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]time.Duration(nil), j.ups...), j.kill, j.kept
}

// report puts the starts into a driver's figures as prefix_startup_ms
// (the first), prefix_restart_ms (the others) and prefix_restarts (the
// kills), each omitted when there is none; started says whether there
// was a first.
func (j *ownJVM) report(d map[string]any, prefix string) (started bool) {
	ups, restarts, _ := j.startups()
	if len(ups) > 0 {
		d[prefix+"_startup_ms"] = ups[0].Milliseconds()
	}
	if len(ups) > 1 {
		var r []int64
		for _, u := range ups[1:] {
			r = append(r, u.Milliseconds())
		}
		d[prefix+"_restart_ms"] = r
	}
	if restarts > 0 {
		d[prefix+"_restarts"] = restarts
	}
	return len(ups) > 0
}

// prepareJVM resolves the program's jars (downloading them on a first run),
// finds a java of at least need.Min and makes the JVM's directory, named
// dirPrefix and a random tail in the temp dir.
func prepareJVM(ctx context.Context, p jvm.Project, need jvm.Need, dirPrefix string) (jars *jvm.Resolved, java, dir string, err error) {
	if jars, err = (jvm.Cache{Progress: os.Stderr}).Resolve(ctx, p); err != nil {
		return nil, "", "", err
	}
	if java, err = jvm.FindJava(ctx, need); err != nil {
		return nil, "", "", err
	}
	if dir, err = os.MkdirTemp("", dirPrefix); err != nil {
		return nil, "", "", err
	}
	return jars, java, dir, nil
}

// passwordFile parses the database's dsn and writes its password to a
// file in dir, which the program reads: a password on its command line
// would show in the process list.
func passwordFile(dsn, dir string) (*pgx.ConnConfig, string, error) {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "pgpassword")
	if err := os.WriteFile(path, []byte(pc.Password), 0o600); err != nil {
		return nil, "", err
	}
	return pc, path, nil
}
