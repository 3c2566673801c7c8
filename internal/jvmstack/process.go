package jvmstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// stopTimeout bounds a JVM's orderly shutdown after SIGTERM before it is
// killed; the broker and the worker need about 3 s each here when the
// machine is quiet, and the worker took over 20 s at a load of 10.
const stopTimeout = 30 * time.Second

// jvm is one started Java process with its log file.
type jvm struct {
	name    string // "Kafka broker", "Kafka Connect worker"
	logPath string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once reaped
	waitErr error         // valid after done
	// stopping is set before cdcbench stops or kills the JVM itself (at
	// Close, or as a fault such as kill-connect): an exit without it is a
	// death, sent to the deaths channel given to startJVM.
	stopping atomic.Bool
}

// startJVM starts java with args, its stdout and stderr appended to
// logPath. An exit cdcbench did not ask for is sent to deaths (if not nil,
// and only if it has room: the first death is the one that matters).
//
// Pdeathsig is delivered when the thread that forked the child exits, not
// the process, and Go may end a thread whose goroutine exits while locked to
// it. So the fork happens in a goroutine locked to its OS thread that stays
// (blocked in Wait) until the JVM is reaped: the JVM gets SIGKILL exactly
// when cdcbench dies. Setpgid keeps a terminal's Ctrl-C from reaching the
// JVM directly, so that cdcbench stops Connect before the broker.
func startJVM(name, java, logPath, workDir string, args []string, deaths chan<- error) (*jvm, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jvmstack: %s log: %w", name, err)
	}
	cmd := exec.Command(java, args...)
	cmd.Dir = workDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = jvmEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	j := &jvm{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the
		// JVM is reaped, so no other goroutine can run on a thread whose
		// exit would kill a later child.
		err := cmd.Start()
		j.started = time.Now()
		_ = logf.Close() // the child holds its own copy
		started <- err
		if err != nil {
			return
		}
		j.waitErr = cmd.Wait()
		close(j.done)
		if deaths != nil && !j.stopping.Load() {
			select {
			case deaths <- j.death():
			default:
			}
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("jvmstack: start %s (%s): %w", name, java, err)
	}
	return j, nil
}

// jvmEnv is the environment without the variables through which a user's
// settings would change what the JVM runs (extra agents, a classpath):
// the stack must be the same on every machine.
func jvmEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (j *jvm) pid() int { return j.cmd.Process.Pid }

func (j *jvm) exited() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (the JVM's shutdown hooks run: the broker writes its
// clean-shutdown file, the worker leaves its group), and SIGKILL to the
// process group when it takes longer than stopTimeout or ctx ends.
func (j *jvm) stop(ctx context.Context) error {
	if j.exited() {
		return nil
	}
	j.stopping.Store(true)
	_ = syscall.Kill(-j.pid(), syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-j.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
		j.kill()
		return fmt.Errorf("jvmstack: %s killed without waiting for its shutdown: %w", j.name, ctx.Err())
	}
	j.kill()
	return fmt.Errorf("jvmstack: %s did not stop within %s of SIGTERM; killed", j.name, stopTimeout)
}

// kill sends SIGKILL and waits until the JVM is reaped.
func (j *jvm) kill() {
	j.stopping.Store(true)
	// Once reaped, the pid (and group id) may belong to someone else.
	if !j.exited() {
		_ = syscall.Kill(-j.pid(), syscall.SIGKILL)
	}
	<-j.done
}

// failure describes a JVM that did not become ready: its exit status if it
// died, and the relevant lines of its own log.
func (j *jvm) failure(why string) error {
	state := "still running, stopped"
	if j.exited() {
		state = fmt.Sprintf("exited (%v) after %s", j.waitErr, time.Since(j.started).Round(100*time.Millisecond))
	}
	return fmt.Errorf("jvmstack: %s %s: %s; %s", j.name, why, state, logExcerpt(j.logPath))
}

// ErrDied reports a JVM of the stack that exited while cdcbench still
// needed it: killed from outside, crashed, out of memory.
var ErrDied = errors.New("exited under the run")

// death describes a JVM that exited on its own: its exit status, how long
// it ran, and its log's first error lines and last lines.
func (j *jvm) death() error {
	return fmt.Errorf("jvmstack: %s (pid %d) %w (%v) %s after its start; %s",
		j.name, j.pid(), ErrDied, j.waitErr, time.Since(j.started).Round(100*time.Millisecond), logExcerpt(j.logPath))
}

// errorLineRE picks the lines of a JVM log that say what went wrong.
var errorLineRE = regexp.MustCompile(`\b(ERROR|FATAL)\b|Exception|^Error|^Caused by`)

// logExcerpt quotes the first error lines and the last lines of a log, so an
// error shows the cause (usually the first ERROR and its exception) and how
// the process ended.
func logExcerpt(path string) string {
	const firstN, lastN = 6, 8
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log %s unreadable: %v)", path, err)
	}
	defer f.Close()
	var first, last []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " ")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(first) < firstN && errorLineRE.MatchString(line) {
			first = append(first, clip(line))
		}
		last = append(last, clip(line))
		if len(last) > lastN {
			last = last[1:]
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "its log %s", path)
	if len(last) == 0 {
		b.WriteString(" is empty")
		return b.String()
	}
	if len(first) > 0 {
		b.WriteString("\n  first error lines:\n    " + strings.Join(first, "\n    "))
	}
	b.WriteString("\n  last lines:\n    " + strings.Join(last, "\n    "))
	return b.String()
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// waitFor polls probe every interval until it succeeds, the JVM exits, or
// timeout or ctx ends; the error then quotes the JVM's log.
func (j *jvm) waitFor(ctx context.Context, what string, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-j.done:
			return j.failure("exited during start-up")
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return j.failure(fmt.Sprintf("not ready after %s (%s; last probe: %v)", timeout, what, last))
			}
			return fmt.Errorf("jvmstack: waiting for %s: %w", j.name, ctx.Err())
		case <-tick.C:
		}
	}
}
