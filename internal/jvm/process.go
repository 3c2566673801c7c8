package jvm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/wait"
)

// stopTimeout bounds a JVM's orderly shutdown after SIGTERM before it is
// killed; the broker and the worker need about 3 s each here when the
// machine is quiet, and the worker took over 20 s at a load of 10.
const stopTimeout = 30 * time.Second

// MarkProperty is the system property that names a JVM's directory on its
// command line (-Dcdcbench.stack=DIR): Marked finds the JVMs of a
// directory by it, so a pid reused by someone else is never taken for one.
const MarkProperty = "cdcbench.stack"

// probeEvery and probeTimeout pace a readiness probe.
const (
	probeEvery   = 250 * time.Millisecond
	probeTimeout = 5 * time.Second
)

// Spec is one Java program to start: what runs, where, and how cdcbench
// knows it is ready. Start validates it.
type Spec struct {
	// Name names the program in errors and logs: "Kafka broker".
	Name string
	// Java is the java executable (FindJava).
	Java string
	// Main and Classpath: a main class run by Java on a classpath (entries
	// as java's -cp takes them, "dir/*" for a directory's jars).
	Main      string
	Classpath []string
	// Script is a distribution's own start script instead (Debezium
	// Server's run.sh): it gets Java's JDK as JAVA_HOME and Options as
	// JAVA_OPTS, which such scripts pass to the java they exec.
	Script string
	// Args follow the main class, or the script.
	Args []string
	// Options are JVM options (-Xmx512m, -Dkey=value).
	Options []string
	// Agents are Java agents attached to the program (-javaagent): the
	// Prometheus JMX exporter (package jmxexporter) is one, so that any
	// JVM cdcbench starts serves its metrics by setting this one field.
	Agents []Agent
	// Dir is the directory the program belongs to, made for this run:
	// claimed for this cdcbench (ownerpid), named on its command line
	// (MarkProperty), and its working directory unless WorkDir is set.
	Dir string
	// WorkDir is the working directory when it is not Dir: a
	// distribution's own directory, whose start script reads lib/ and
	// conf/ from there. It is not claimed: it may be a shared cache.
	WorkDir string
	// Log receives the program's stdout and stderr (appended).
	Log string
	// Ready, when set, is polled until it returns nil: Start returns then.
	// ReadyWhat names it in errors ("metadata request"); ReadyTimeout
	// bounds the wait.
	Ready        func(context.Context) error
	ReadyWhat    string
	ReadyTimeout time.Duration
	// Deaths, when set, receives the program's exit that cdcbench did not
	// ask for (Stop and Kill are asked for), if it has room: the first
	// death is the one that matters.
	Deaths chan<- error
	// Started, when set, is called once the program runs, before its
	// readiness probe: where the caller keeps it, so that a stop during
	// start-up (a stack's Close) finds it.
	Started func(*Process)
}

// Agent is a Java agent: its jar and the argument string it is given
// (-javaagent:Jar=Args).
type Agent struct {
	Jar, Args string
}

// option is the agent's -javaagent JVM option.
func (a Agent) option() string {
	if a.Args == "" {
		return "-javaagent:" + a.Jar
	}
	return "-javaagent:" + a.Jar + "=" + a.Args
}

// ErrSpec reports a Spec that cannot be started as written.
var ErrSpec = errors.New("invalid JVM spec")

// Validate reports every mistake of s at once, each wrapping ErrSpec.
func (s Spec) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("jvm: %s: %w: %s", s.Name, ErrSpec, fmt.Sprintf(format, a...)))
	}
	if s.Name == "" {
		bad("no name")
	}
	if s.Java == "" {
		bad("no java executable")
	}
	switch {
	case s.Main == "" && s.Script == "":
		bad("neither a main class nor a start script")
	case s.Main != "" && s.Script != "":
		bad("both a main class (%s) and a start script (%s)", s.Main, s.Script)
	case s.Main != "" && len(s.Classpath) == 0:
		bad("main class %s without a classpath", s.Main)
	case s.Script != "" && len(s.Classpath) > 0:
		bad("a start script (%s) brings its own classpath; Classpath is for a main class", s.Script)
	}
	for _, a := range s.Agents {
		if !filepath.IsAbs(a.Jar) {
			bad("Java agent jar %q is not an absolute path", a.Jar)
		}
	}
	for _, o := range s.options() {
		if !strings.HasPrefix(o, "-") {
			bad("JVM option %q does not start with '-' (program arguments go in Args)", o)
		}
		if s.Script != "" && strings.ContainsAny(o, " \t\n") {
			bad("JVM option %q holds a space, which JAVA_OPTS cannot carry to a start script", o)
		}
	}
	if s.Script != "" && strings.ContainsAny(s.Dir, " \t\n") {
		bad("directory %q holds a space, which JAVA_OPTS cannot carry to a start script", s.Dir)
	}
	if s.Dir == "" || !filepath.IsAbs(s.Dir) {
		bad("directory %q is not an absolute path", s.Dir)
	}
	if s.WorkDir != "" && !filepath.IsAbs(s.WorkDir) {
		bad("working directory %q is not an absolute path", s.WorkDir)
	}
	if s.Log == "" {
		bad("no log file")
	}
	if s.Ready != nil && s.ReadyTimeout <= 0 {
		bad("a readiness probe without a timeout")
	}
	if s.Ready == nil && (s.ReadyWhat != "" || s.ReadyTimeout != 0) {
		bad("a readiness timeout or description without a probe")
	}
	return errors.Join(errs...)
}

// command is what exec runs for s: java with the options, the mark, the
// classpath and the main class; or the script, with the options in its
// environment.
func (s Spec) command() *exec.Cmd {
	opts := append(s.options(), "-D"+MarkProperty+"="+s.Dir)
	if s.Script != "" {
		cmd := exec.Command(s.Script, s.Args...)
		cmd.Env = append(programEnv(), "JAVA_HOME="+javaHome(s.Java), "JAVA_OPTS="+strings.Join(opts, " "))
		return cmd
	}
	args := append(opts, "-cp", strings.Join(s.Classpath, string(os.PathListSeparator)), s.Main)
	cmd := exec.Command(s.Java, append(args, s.Args...)...)
	cmd.Env = programEnv()
	return cmd
}

// options are the agents' options, then Options.
func (s Spec) options() []string {
	opts := make([]string, 0, len(s.Agents)+len(s.Options))
	for _, a := range s.Agents {
		opts = append(opts, a.option())
	}
	return append(opts, s.Options...)
}

// javaHome is the JDK of a java executable, JAVA_HOME/bin/java.
func javaHome(java string) string {
	if p, err := filepath.EvalSymlinks(java); err == nil {
		java = p
	}
	return filepath.Dir(filepath.Dir(java))
}

// programEnv is the environment without the variables through which a
// user's settings would change what the JVM runs (extra agents, a
// classpath, a JDK): a program must be the same on every machine.
func programEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_HOME", "JAVA_OPTS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Process is a started program.
type Process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once reaped
	waitErr error         // valid after done
	// stopping is set before cdcbench stops or kills the program itself (at
	// a stack's Close, or as a fault such as kill-connect): an exit without
	// it is a death, sent to Spec.Deaths.
	stopping atomic.Bool
}

// Start validates spec, claims its directory, starts the program and,
// when spec has a readiness probe, waits for it. A program that exits or
// is not ready in time is killed, and the error quotes its log.
//
// Pdeathsig is delivered when the thread that forked the child exits, not
// the process, and Go may end a thread whose goroutine exits while locked
// to it. So the fork happens in a goroutine locked to its OS thread that
// stays (blocked in Wait) until the JVM is reaped: the JVM gets SIGKILL
// exactly when cdcbench dies. Setpgid keeps a terminal's Ctrl-C from
// reaching the JVM directly, so that cdcbench stops them in order.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := ownerpid.Claim(spec.Dir); err != nil {
		return nil, fmt.Errorf("jvm: %s: %w", spec.Name, err)
	}
	logf, err := os.OpenFile(spec.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("jvm: %s log: %w", spec.Name, err)
	}
	cmd := spec.command()
	cmd.Dir = spec.Dir
	if spec.WorkDir != "" {
		cmd.Dir = spec.WorkDir
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Process{name: spec.Name, logPath: spec.Log, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread ends with this goroutine, after the
		// JVM is reaped, so no other goroutine can run on a thread whose
		// exit would kill a later child.
		err := cmd.Start()
		p.started = time.Now()
		_ = logf.Close() // the child holds its own copy
		started <- err
		if err != nil {
			return
		}
		p.waitErr = cmd.Wait()
		close(p.done)
		if spec.Deaths != nil && !p.stopping.Load() {
			select {
			case spec.Deaths <- p.death():
			default:
			}
		}
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("jvm: start %s (%s): %w", spec.Name, cmd.Path, err)
	}
	if spec.Started != nil {
		spec.Started(p)
	}
	if spec.Ready == nil {
		return p, nil
	}
	if err := p.waitReady(ctx, spec); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// waitReady polls spec.Ready until it succeeds, the program exits, or the
// timeout or ctx ends; the error then quotes the program's log.
func (p *Process) waitReady(ctx context.Context, spec Spec) error {
	deadline := time.Now().Add(spec.ReadyTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var last error
	err := wait.Until(dctx, deadline, probeEvery, func() (bool, error) {
		if p.Exited() {
			return false, p.Failure("exited during start-up")
		}
		pctx, pcancel := context.WithTimeout(dctx, probeTimeout)
		last = spec.Ready(pctx)
		pcancel()
		return last == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wait.ErrDeadline) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil):
		return p.Failure(fmt.Sprintf("not ready after %s (%s; last probe: %v)", spec.ReadyTimeout, spec.ReadyWhat, last))
	case ctx.Err() != nil:
		return fmt.Errorf("jvm: waiting for %s: %w", p.name, ctx.Err())
	}
	return err
}

// PID is the program's process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the program has exited (and was reaped).
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits until a program that ends by itself (a tool such as Kafka's
// storage format) exits, killing it when ctx ends or it runs longer than
// timeout; an exit status other than 0 is an error quoting its log.
func (p *Process) Wait(ctx context.Context, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.Kill()
		return fmt.Errorf("jvm: %s: %w", what, ctx.Err())
	case <-t.C:
		p.Kill()
		return p.Failure(fmt.Sprintf("did not finish within %s", timeout))
	}
	if p.waitErr != nil {
		return p.Failure("failed to " + what)
	}
	return nil
}

// Stop sends SIGTERM (the JVM's shutdown hooks run: the broker writes its
// clean-shutdown file, the worker leaves its group), and SIGKILL to the
// process group when it takes longer than stopTimeout or ctx ends.
func (p *Process) Stop(ctx context.Context) error {
	if p.Exited() {
		return nil
	}
	p.stopping.Store(true)
	_ = syscall.Kill(-p.PID(), syscall.SIGTERM)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
		p.Kill()
		return fmt.Errorf("jvm: %s killed without waiting for its shutdown: %w", p.name, ctx.Err())
	}
	p.Kill()
	return fmt.Errorf("jvm: %s did not stop within %s of SIGTERM; killed", p.name, stopTimeout)
}

// Kill sends SIGKILL to the program's process group and waits until it is
// reaped.
func (p *Process) Kill() {
	p.stopping.Store(true)
	// Once reaped, the pid (and group id) may belong to someone else.
	if !p.Exited() {
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	}
	<-p.done
}

// Failure describes a program that did not do what it was started for
// (why): its exit status if it exited, and the relevant lines of its log.
func (p *Process) Failure(why string) error {
	state := "still running, stopped"
	if p.Exited() {
		state = fmt.Sprintf("exited (%v) after %s", p.waitErr, time.Since(p.started).Round(100*time.Millisecond))
	}
	return fmt.Errorf("jvm: %s %s: %s; %s", p.name, why, state, logExcerpt(p.logPath))
}

// ErrDied reports a program that exited while cdcbench still needed it:
// killed from outside, crashed, out of memory.
var ErrDied = errors.New("exited under the run")

// death describes a program that exited on its own: its exit status, how
// long it ran, and its log's first error lines and last lines.
func (p *Process) death() error {
	return fmt.Errorf("jvm: %s (pid %d) %w (%v) %s after its start; %s",
		p.name, p.PID(), ErrDied, p.waitErr, time.Since(p.started).Round(100*time.Millisecond), logExcerpt(p.logPath))
}

// errorLineRE picks the lines of a JVM log that say what went wrong, and
// quietLineRE drops those among them logged below WARN: Kafka and Connect
// log at INFO many lines that merely mention an exception class (a config
// key, a retriable error handled), which pushed the cause out of the
// excerpt.
var (
	errorLineRE = regexp.MustCompile(`\b(ERROR|FATAL)\b|Exception|^Error|^Caused by`)
	quietLineRE = regexp.MustCompile(`\b(INFO|DEBUG|TRACE)\b`)
)

// isErrorLine reports whether a log line says what went wrong.
func isErrorLine(line string) bool {
	if !errorLineRE.MatchString(line) {
		return false
	}
	return !quietLineRE.MatchString(line) || strings.Contains(line, "ERROR") || strings.Contains(line, "FATAL")
}

// logExcerpt quotes the first error lines and the last lines of a log, so
// an error shows the cause (usually the first ERROR and its exception) and
// how the process ended.
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
		if len(first) < firstN && isErrorLine(line) {
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

// Marked lists the running processes whose command line names dir with
// MarkProperty: the programs started for it, found without trusting pids.
func Marked(dir string) []int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	mark := []byte("-D" + MarkProperty + "=" + dir + "\x00")
	var pids []int
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, mark) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && ownerpid.Running(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}
