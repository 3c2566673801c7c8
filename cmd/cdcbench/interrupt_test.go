package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/result"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// The interruption tests run cdcbench as a real process, because what they
// check (signal handling, child processes, temp dirs) only exists there.
// The binary is built once, on first use, and removed by TestMain.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary returns the path of a cdcbench built from this package.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "cdcbench-test-bin-"); buildErr != nil {
			return
		}
		// go test puts its own GOROOT/bin first in PATH.
		out, err := exec.Command("go", "build", "-o", filepath.Join(buildDir, "cdcbench"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "cdcbench")
}

// syncBuffer collects a child's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// procID names a process for good: a pid plus its start time, so that a
// reused pid is not taken for a survivor.
type procID struct {
	pid   int
	start string
}

// procStat is what the tests need from /proc/PID/stat.
type procStat struct {
	id    procID
	ppid  int
	state byte
	comm  string
}

// readStat parses /proc/PID/stat; the command name may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	// f[0] is field 3 (state), so field 22 (starttime) is f[19].
	return procStat{id: procID{pid, f[19]}, ppid: ppid, state: f[0][0], comm: s[open+1 : end]}, true
}

// alive reports whether the process id names is still running (a zombie
// has finished).
func alive(id procID) bool {
	st, ok := readStat(id.pid)
	return ok && st.id == id && st.state != 'Z'
}

// cdcProc is a cdcbench process and every descendant seen while it ran.
type cdcProc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{} // closed once the process has been reaped
	waitErr        error
	exitedAt       time.Time

	mu          sync.Mutex
	descendants map[procID]string // → command name
}

// startCdcbench starts the binary with extra environment and arguments. The
// child runs in its own process group, as a shell job would, so that a
// "terminal Ctrl-C" can be sent to the group; it is killed if the test
// binary dies.
func startCdcbench(t *testing.T, env []string, args ...string) *cdcProc {
	t.Helper()
	p := &cdcProc{done: make(chan struct{}), descendants: map[procID]string{}}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		p.exitedAt = time.Now()
		close(p.done)
	}()
	go p.track()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		// A test that failed may leave survivors: end them, by id.
		for id := range p.survivors() {
			_ = syscall.Kill(id.pid, syscall.SIGKILL)
		}
	})
	return p
}

// track records, until the process exits, every process descending from
// it: the private cluster's postmaster and backends, initdb and its
// children.
func (p *cdcProc) track() {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	root := p.cmd.Process.Pid
	for {
		ents, _ := os.ReadDir("/proc")
		children := map[int][]procStat{}
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if st, ok := readStat(pid); ok {
				children[st.ppid] = append(children[st.ppid], st)
			}
		}
		p.mu.Lock()
		for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
			for _, st := range children[queue[0]] {
				if st.state != 'Z' {
					p.descendants[st.id] = st.comm
				}
				queue = append(queue, st.id.pid)
			}
		}
		p.mu.Unlock()
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
	}
}

// survivors returns the recorded descendants that are still running, with
// their command names.
func (p *cdcProc) survivors() map[procID]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[procID]string{}
	for id, comm := range p.descendants {
		if alive(id) {
			out[id] = comm
		}
	}
	return out
}

// reaped reports whether every recorded descendant is gone from /proc,
// zombies included.
func (p *cdcProc) reaped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.descendants {
		if st, ok := readStat(id.pid); ok && st.id == id {
			return false
		}
	}
	return true
}

func (p *cdcProc) seen(comm string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.descendants {
		if c == comm {
			return true
		}
	}
	return false
}

func (p *cdcProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process, or to its whole group as a terminal's
// Ctrl-C does. A process that has already exited is not an error.
func (p *cdcProc) signal(t *testing.T, sig syscall.Signal, group bool) {
	t.Helper()
	pid := p.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill %d %v: %v", pid, sig, err)
	}
}

// waitExit waits up to timeout for the process to exit.
func (p *cdcProc) waitExit(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("cdcbench still runs %v after the signal\nstderr:\n%s", timeout, p.stderr.String())
	}
}

// eventually polls cond every 10 ms until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverTempDir returns a per-test TMPDIR that the private cluster's
// unprivileged server user can traverse (t.TempDir makes 0700 dirs).
func serverTempDir(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	for d := tmp; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return tmp
}

func clusterDirs(tmp string) []string {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "cdcbench-pg-*"))
	return dirs
}

// TestInterrupt stops runs with a signal at each phase and checks that
// nothing outlives them: no child process, no private cluster directory, no
// replication slot or publication on a server cdcbench does not own, and
// that the partial result says it was interrupted.
func TestInterrupt(t *testing.T) {
	testtier.Integration(t)
	// An external server, started here, for the cases that check what a
	// run leaves on a server it does not own.
	ctx := context.Background()
	pg, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop(ctx)

	// Triggers: when the signal goes out, polled every 10 ms.
	stderrHas := func(s string) func(p *cdcProc, tmp string) bool {
		return func(p *cdcProc, _ string) bool { return strings.Contains(p.stderr.String(), s) }
	}
	clusterDirExists := func(_ *cdcProc, tmp string) bool { return len(clusterDirs(tmp)) > 0 }

	type testCase struct {
		name string
		args []string
		when func(p *cdcProc, tmp string) bool
		// after delays the signal past when, to sweep through a phase.
		after time.Duration
		sig   syscall.Signal
		// group sends the signal to the process group, as a terminal's Ctrl-C.
		group bool
		// twice sends a second signal, which must end the process at once.
		twice bool
		// inRun: the signal reached bench.Run, which must write result.json.
		inRun bool
		// external runs against pg instead of a private cluster.
		external bool
	}
	cases := []testCase{
		{name: "stack start-up", when: clusterDirExists, sig: syscall.SIGINT},
		{name: "stack start-up (Ctrl-C to the process group)", when: clusterDirExists, sig: syscall.SIGINT, group: true},
		{name: "cdc path start-up", when: stderrHas("path cdc: starting"), sig: syscall.SIGINT, inRun: true},
		{name: "cdc path producing", when: stderrHas("path cdc: probe made the round trip"), sig: syscall.SIGINT, inRun: true},
		{name: "cdc path draining", args: []string{"--agent-delay", "1500ms"}, when: stderrHas("path cdc: produced"), sig: syscall.SIGINT, inRun: true},
		{name: "poll path producing (SIGTERM)", when: stderrHas("path poll-100ms: probe made the round trip"), sig: syscall.SIGTERM, inRun: true},
		{name: "external PostgreSQL: cdc path start-up", when: stderrHas("path cdc: starting"), sig: syscall.SIGINT, inRun: true, external: true},
		{name: "external PostgreSQL: cdc path producing", when: stderrHas("path cdc: probe made the round trip"), sig: syscall.SIGINT, inRun: true, external: true},
		// The agents' 5 s delay line holds the first signal's cleanup for
		// seconds: only the second signal can end the process at once.
		{name: "second SIGINT kills at once", args: []string{"--agent-delay", "5s"}, when: stderrHas("path cdc: produced"), sig: syscall.SIGINT, twice: true},
	}
	// The cdc path's start-up creates the table, the publication and the
	// slot, then starts the relay and the agents and sends the probe: an
	// interrupt anywhere in it must leave nothing on the server.
	for _, after := range []time.Duration{5, 10, 20, 40, 80} {
		cases = append(cases, testCase{name: fmt.Sprintf("external PostgreSQL: %v into the cdc path", after*time.Millisecond),
			when: stderrHas("path cdc: starting"), after: after * time.Millisecond, sig: syscall.SIGINT, inRun: true, external: true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp := serverTempDir(t)
			results := filepath.Join(t.TempDir(), "results")
			args := append([]string{"run", "--scenario", "smoke", "--results", results}, c.args...)
			if c.external {
				args = append(args, "--pg-dsn", pg.DSN(), "--reset-table")
			}
			p := startCdcbench(t, []string{"TMPDIR=" + tmp}, args...)
			if !eventually(90*time.Second, func() bool { return p.exited() || c.when(p, tmp) }) || p.exited() {
				t.Fatalf("the phase to interrupt never came (exited: %v)\nstderr:\n%s", p.exited(), p.stderr.String())
			}
			time.Sleep(c.after)
			p.signal(t, c.sig, c.group)
			if c.twice {
				// The first signal's handler restores the default one; give
				// it a moment, then the second must end the process at once.
				time.Sleep(200 * time.Millisecond)
				second := time.Now()
				p.signal(t, c.sig, c.group)
				p.waitExit(t, 10*time.Second)
				if d := p.exitedAt.Sub(second); d > 2*time.Second {
					t.Errorf("exited %v after the second signal, want at once", d.Round(time.Millisecond))
				}
			} else {
				p.waitExit(t, 60*time.Second)
			}
			stderr := p.stderr.String()
			t.Logf("exit: %v; stderr tail:\n%s", p.waitErr, lastLines(stderr, 6))

			// An interrupted run exits 130 (exit.go), after
			// cleaning up; after a second signal, death by that signal.
			switch ps := p.cmd.ProcessState; {
			case c.twice && ps.Exited():
				t.Errorf("exited with %d: the second signal did not kill the process", ps.ExitCode())
			case !c.twice && ps.ExitCode() != exitInterrupted:
				t.Errorf("%v after an interrupt, want exit status %d", ps, exitInterrupted)
			}
			if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr holds a panic:\n%s", stderr)
			}

			// No descendant outlives the run; the private cluster's
			// postmaster must have been one of them.
			if !c.external && c.inRun && !p.seen("postgres") {
				t.Errorf("no postgres child was seen; the process tracking is broken")
			}
			if !eventually(20*time.Second, func() bool { return len(p.survivors()) == 0 }) {
				var left []string
				for id, comm := range p.survivors() {
					left = append(left, fmt.Sprintf("%d (%s)", id.pid, comm))
				}
				t.Errorf("processes outlived cdcbench: %s", strings.Join(left, ", "))
			}

			if c.twice {
				// Killed at once, it may not have removed its cluster dir;
				// clean finds and removes it, once the server is gone.
				// clean takes a server whose pid still exists for a live
				// one, and a zombie's does until init reaps it.
				reapStart := time.Now()
				if !eventually(20*time.Second, p.reaped) {
					t.Fatalf("the killed run's processes were not reaped")
				}
				t.Logf("orphans reaped %v after the checks began", time.Since(reapStart).Round(time.Millisecond))
				if out, err := clean(t, tmp); err != nil || len(clusterDirs(tmp)) > 0 {
					t.Errorf("cdcbench clean: %v, dirs left %v\n%s", err, clusterDirs(tmp), out)
				}
				return
			}
			if dirs := clusterDirs(tmp); len(dirs) > 0 {
				t.Errorf("private cluster dirs left behind: %v", dirs)
			}

			runs, _ := filepath.Glob(filepath.Join(results, "smoke-*"))
			if c.inRun && len(runs) != 1 {
				t.Errorf("result dirs %v, want one", runs)
			}
			if !c.inRun && len(runs) > 0 {
				t.Errorf("a run interrupted before it began left result dirs %v", runs)
			}
			for _, dir := range runs {
				res, err := result.Read(dir)
				if err != nil {
					t.Errorf("a result dir without a readable result: %v", err)
					continue
				}
				if res.Valid || !slices.Contains(res.InvalidReasons, "interrupted") {
					t.Errorf("result: valid %v, reasons %q; want invalid, interrupted", res.Valid, res.InvalidReasons)
				}
			}

			if c.external {
				if left := serverLeftovers(t, pg.DSN()); len(left) > 0 {
					t.Errorf("left on the external server: %s", strings.Join(left, ", "))
					// Remove them, so that the next case starts clean.
					if out, err := clean(t, tmp, "--pg-dsn", pg.DSN()); err != nil {
						t.Fatalf("cdcbench clean: %v\n%s", err, out)
					}
				}
			}
		})
	}
}

// clean runs cdcbench clean with TMPDIR set to tmp, so that it never looks
// at the machine's own temp dir, where other runs may be starting.
func clean(t *testing.T, tmp string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"clean"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	return cmd.CombinedOutput()
}

// serverLeftovers lists the cdcbench slots and publications on the server.
func serverLeftovers(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT 'slot ' || slot_name FROM pg_replication_slots WHERE slot_name LIKE 'cdcbench%'
		UNION ALL SELECT 'publication ' || pubname FROM pg_publication WHERE pubname LIKE 'cdcbench%'`)
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestInterruptLocalStack: Ctrl-C in the middle of a Debezium path on the
// local stack ends cdcbench within seconds (a Connect worker under load
// took its whole 30 s SIGTERM bound, and the run 31 s), and the
// interrupted result holds what each agent measured until then (it had
// the rows produced and "agents": null).
func TestInterruptLocalStack(t *testing.T) {
	testtier.JVM(t)
	tmp := serverTempDir(t)
	results := filepath.Join(t.TempDir(), "results")
	p := startCdcbench(t, []string{"TMPDIR=" + tmp}, "run", "--scenario", "smoke", "--stack", "local", "--paths", "debezium",
		"--duration", "2m", "--results", results)
	if !eventually(5*time.Minute, func() bool {
		return p.exited() || strings.Contains(p.stderr.String(), "path debezium: probe made the round trip")
	}) || p.exited() {
		t.Fatalf("the debezium path never started producing\nstderr:\n%s", p.stderr.String())
	}
	time.Sleep(8 * time.Second) // rows of the window (after 1 s of warm-up) reached the agents
	sent := time.Now()
	p.signal(t, syscall.SIGINT, true)
	p.waitExit(t, time.Minute)
	took := p.exitedAt.Sub(sent)
	t.Logf("exited %v after Ctrl-C: %v; stderr tail:\n%s", took.Round(time.Millisecond), p.waitErr, lastLines(p.stderr.String(), 8))
	if took > 5*time.Second {
		t.Errorf("exited %v after Ctrl-C, want within 5 s", took.Round(time.Millisecond))
	}
	if code := p.cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit status %d, want %d", code, exitInterrupted)
	}
	res := onlyRun(t, results)
	if len(res.Paths) != 1 || res.Paths[0].RowsProduced == 0 || len(res.Paths[0].Agents) != 2 {
		t.Fatalf("paths %+v; want the debezium path with its rows and both agents", res.Paths)
	}
	for _, a := range res.Paths[0].Agents {
		if a.Events == 0 || a.E2E.Count == 0 {
			t.Errorf("%s: %d events, %d measured; want what it measured until the interrupt", a.Name, a.Events, a.E2E.Count)
		}
	}
	if !eventually(20*time.Second, func() bool { return len(p.survivors()) == 0 }) {
		t.Errorf("processes outlived cdcbench: %v", p.survivors())
	}
}
