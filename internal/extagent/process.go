// Package extagent runs a user's own fraud agent as a child process of
// cdcbench and observes its alerts from the lines it prints: the process's
// lifetime (start, liveness, SIGTERM then SIGKILL, nothing left behind),
// its output (kept in a file, the last lines kept for error messages, a
// flood cut off), the alert line pattern, and the matching of alert lines
// to the rows the run produced. It knows nothing of Kafka offsets or of
// the run's phases: package bench drives it.
package extagent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TailLines is how many of an agent's last output lines an error quotes.
const TailLines = 10

// tracebackLines bounds a Python traceback an error quotes whole: its
// "File" lines name where the agent failed, and the last TailLines lines
// of the output would cut them off (stdout still drained after stderr's
// traceback, a deep stack).
const tracebackLines = 50

// tracebackStart is the first line of a Python traceback.
const tracebackStart = "Traceback (most recent call last):"

// maxLine caps one output line: a longer one is cut there, so that a
// binary blob on stdout cannot make a line buffer grow without bound.
const maxLine = 64 << 10

// ProcessConfig says how to start one agent.
type ProcessConfig struct {
	Name    string // the agent's label, in every message
	Command string // run by /bin/sh -c, so quoting and pipes work as typed
	Dir     string // working directory; empty is cdcbench's
	Env     []string
	// Log receives every output line, timestamped, as it arrives: the
	// agent's output kept in the result directory.
	Log io.Writer
	// Line is called for each stdout or stderr line with its arrival time
	// on cdcbench's clock; it runs on the pipe's reader goroutine, so it
	// must be quick.
	Line func(line string, arrivalNs int64)
	// OutputLimit bounds the bytes an agent may print over its life; past
	// it the agent is flooding, is killed and Exited reports why.
	OutputLimit int64
}

// Process is a started agent. Its process group holds whatever it spawned,
// and is what Stop signals.
type Process struct {
	cfg     ProcessConfig
	cmd     *exec.Cmd
	pgid    int
	started time.Time
	exited  chan struct{}
	waitErr error // valid once exited is closed

	mu       sync.Mutex
	tail     []string
	errTail  []string // stderr's last tracebackLines lines
	bytes    int64
	lines    int64
	flooded  bool
	stopping bool
	// own is set when the agent ended before Stop was called.
	own    bool
	logErr error
}

// Start starts the agent. The command runs in its own process group, with
// stdin from /dev/null and stdout and stderr on pipes read line by line.
// The child also gets SIGKILL from the kernel if the thread that started it
// dies (cdcbench killed with SIGKILL): that thread is locked to the
// goroutine that waits for the child, so it lives exactly as long. Only
// the child gets it: what a compound command (a; b, a | b) starts outlives
// a SIGKILLed cdcbench, while every other exit path kills the whole group.
func Start(cfg ProcessConfig) (*Process, error) {
	if strings.TrimSpace(cfg.Command) == "" {
		return nil, fmt.Errorf("agent %s: no command", cfg.Name)
	}
	if first := strings.Fields(cfg.Command)[0]; !strings.ContainsAny(first, "$`'\"=;&|<>(){}") && !found(first, cfg.Dir, cfg.Env) {
		// The shell would say "not found" too, but as the agent's only
		// output line after it "exited": this says what is wrong.
		return nil, fmt.Errorf("agent %s: command %q not found (in %s, with its PATH): %s", cfg.Name, first, dirName(cfg.Dir), cfg.Command)
	}
	p := &Process{cfg: cfg, exited: make(chan struct{})}
	script := cfg.Command
	if !strings.ContainsAny(script, ";&|()\n`") && !strings.HasPrefix(strings.TrimSpace(script), "exec ") {
		// A simple command replaces the shell, so that the agent itself gets
		// the parent-death signal (a shell's children do not inherit it).
		script = "exec " + script
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = cfg.Dir
	cmd.Env = cfg.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	p.cmd = cmd
	startErr := make(chan error, 1)
	waited := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		p.waitErr = cmd.Wait()
		close(waited)
	}()
	err = <-startErr
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("agent %s: start %q: %w", cfg.Name, cfg.Command, err)
	}
	p.pgid = cmd.Process.Pid
	p.started = time.Now()
	var readers sync.WaitGroup
	readers.Add(2)
	go p.read(outR, "stdout", &readers)
	go p.read(errR, "stderr", &readers)
	// Exited must not report before the last line is read: an agent that
	// prints its reason and exits has its reason in the error.
	go func() {
		<-waited
		readers.Wait()
		p.mu.Lock()
		p.own = !p.stopping
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

// found asks the shell that will run the command whether it knows its
// first word (a program on PATH, a path from dir, a builtin such as trap).
func found(name, dir string, env []string) bool {
	c := exec.Command("/bin/sh", "-c", `command -v -- "$1" >/dev/null`, "sh", name)
	c.Dir, c.Env = dir, env
	return c.Run() == nil
}

func dirName(dir string) string {
	if dir == "" {
		return "the current directory"
	}
	return dir
}

// read copies one pipe's lines to the log, the tail and the line callback.
// A grandchild that keeps the pipe open after the agent exits keeps this
// going until Stop kills the group.
func (p *Process) read(r *os.File, stream string, wg *sync.WaitGroup) {
	defer wg.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLine)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			now := time.Now()
			line := strings.TrimRight(string(b), "\r\n")
			if errors.Is(err, bufio.ErrBufferFull) {
				// The rest of an over-long line is skipped, not taken for lines.
				for errors.Is(err, bufio.ErrBufferFull) {
					var more []byte
					more, err = br.ReadSlice('\n')
					p.count(int64(len(more)))
				}
				line += " [cut at 64 KiB]"
			}
			if p.observe(line, int64(len(b)), stream, now) && p.cfg.Line != nil {
				p.cfg.Line(line, now.UnixNano())
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Process) count(n int64) {
	p.mu.Lock()
	p.bytes += n
	p.mu.Unlock()
}

// observe accounts one line; false means the agent is past its output
// limit and the line is dropped (the pipe is still drained, so the agent
// never blocks on a full pipe while it is being stopped).
func (p *Process) observe(line string, n int64, stream string, at time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if p.flooded {
		return false
	}
	p.lines++
	p.tail = append(p.tail, line)
	if len(p.tail) > TailLines {
		p.tail = p.tail[len(p.tail)-TailLines:]
	}
	if stream == "stderr" {
		p.errTail = append(p.errTail, line)
		if len(p.errTail) > tracebackLines {
			p.errTail = p.errTail[len(p.errTail)-tracebackLines:]
		}
	}
	if p.cfg.Log != nil && p.logErr == nil {
		_, p.logErr = fmt.Fprintf(p.cfg.Log, "%s %s %s\n", at.UTC().Format("15:04:05.000000"), stream, line)
	}
	if p.cfg.OutputLimit > 0 && p.bytes > p.cfg.OutputLimit {
		p.flooded = true
		go p.kill()
	}
	return true
}

// Exited is closed once the agent exited and its output was read.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err says why the agent ended, once Exited is closed: nil when Stop ended
// it, an error when it flooded or ended on its own.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.flooded:
		return fmt.Errorf("agent %s flooded its output: more than %d bytes (%d lines); it was killed%s",
			p.cfg.Name, p.cfg.OutputLimit, p.lines, p.tailLocked())
	case !p.own:
		return nil
	}
	how := "exited with status 0"
	if p.waitErr != nil {
		how = p.waitErr.Error()
	}
	return fmt.Errorf("agent %s (%s) stopped on its own after %v: %s%s", p.cfg.Name, p.cfg.Command,
		time.Since(p.started).Round(time.Millisecond), how, p.tailLocked())
}

// Tail returns the last output lines, for messages: "; last output: ..."
// or that there was none.
func (p *Process) Tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tailLocked()
}

func (p *Process) tailLocked() string {
	if len(p.tail) == 0 {
		return "; it printed nothing"
	}
	for i := len(p.errTail) - 1; i >= 0; i-- {
		if tb := p.errTail[i:]; strings.TrimSpace(p.errTail[i]) == tracebackStart && len(tb) > 1 {
			return fmt.Sprintf("; its traceback on stderr (%d lines):\n    %s", len(tb), strings.Join(tb, "\n    "))
		}
	}
	return fmt.Sprintf("; its last %d output lines:\n    %s", len(p.tail), strings.Join(p.tail, "\n    "))
}

// Lines counts the output lines read (up to the output limit).
func (p *Process) Lines() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines
}

// LogErr reports a failure to write the output log.
func (p *Process) LogErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logErr
}

func (p *Process) kill() { _ = syscall.Kill(-p.pgid, syscall.SIGKILL) }

// Stop ends the agent: SIGTERM to its process group, then SIGKILL after
// grace. It returns once the agent exited and its output was read, with an
// error when it had to be killed (an agent that ignores SIGTERM would hang
// a real deployment's shutdown too). The group is sent SIGKILL in any case
// so that nothing it spawned is left running. Calling Stop again is
// harmless.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	already := p.stopping
	p.stopping = true
	p.mu.Unlock()
	select {
	case <-p.exited:
		p.kill()
		return nil
	default:
	}
	if already {
		<-p.exited
		return nil
	}
	_ = syscall.Kill(-p.pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		p.kill() // its children, if any outlived it
		return nil
	case <-t.C:
	}
	p.kill()
	<-p.exited
	return fmt.Errorf("agent %s did not exit within %v of SIGTERM and was killed%s", p.cfg.Name, grace, p.Tail())
}

// CPU is the processor time the agent and the children it waited for used,
// once Exited is closed.
func (p *Process) CPU() time.Duration {
	select {
	case <-p.exited:
	default:
		return 0
	}
	if ps := p.cmd.ProcessState; ps != nil {
		return ps.UserTime() + ps.SystemTime()
	}
	return 0
}

// PID is the agent's process id, which is also its process group's.
func (p *Process) PID() int { return p.pgid }
