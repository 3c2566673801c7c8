package extagent

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestProcessBadInput starts commands that go wrong in each way a user's
// agent can, and checks the message names the agent and quotes its output,
// and that nothing of it is left running.
func TestProcessBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, cmd   string
		limit       int64
		startErr    string // Start fails
		exitErr     string // exits before Stop, with this in Err
		stopErr     string // Stop has to SIGKILL it
		wantInError []string
	}{
		{name: "missing", cmd: "no-such-agent-command --flag", startErr: `command "no-such-agent-command" not found`},
		{name: "missing-path", cmd: "./bin/agent.py", startErr: `command "./bin/agent.py" not found`},
		{name: "builtin-first", cmd: "cd . && echo here", exitErr: "exited with status 0", wantInError: []string{"here"}},
		{name: "empty", cmd: "  ", startErr: "no command"},
		{name: "exits-at-once", cmd: `echo "Traceback (most recent call last):" >&2; echo "ModuleNotFoundError: No module named 'kafka'" >&2; exit 1`,
			exitErr: "exit status 1", wantInError: []string{"ModuleNotFoundError: No module named 'kafka'", "stopped on its own"}},
		{name: "deep-traceback", cmd: `for i in 1 2 3 4 5 6; do echo "ANOMALY DETECTED: User $i spent \$900.00"; done
cat > agent.py <<'PY'
def parse(v):
    return v["payload"]
def handle(v):
    return parse(v)
def poll(v):
    return handle(v)
def loop():
    poll({})
loop()
PY
python3 agent.py`,
			exitErr: "exit status 1", wantInError: []string{"its traceback on stderr (", tracebackStart, `line 9, in <module>`, `line 8, in loop`,
				`line 6, in poll`, `line 4, in handle`, `line 2, in parse`, "KeyError: 'payload'"}},
		{name: "exits-zero", cmd: `echo done`, exitErr: "exited with status 0", wantInError: []string{"done"}},
		{name: "floods", cmd: `yes 'flood flood flood'`, limit: 1 << 20, exitErr: "flooded its output", wantInError: []string{"flood flood flood"}},
		{name: "binary-flood", cmd: `head -c 3000000 /dev/urandom`, limit: 1 << 20, exitErr: "flooded its output"},
		{name: "hangs-on-exit", cmd: `trap '' TERM; echo ready; sleep 600 & wait; sleep 600`, stopErr: "did not exit within 300ms of SIGTERM and was killed", wantInError: []string{"ready"}},
		{name: "child-outlives", cmd: `sleep 600 & echo started; wait`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			var mu sync.Mutex
			p, err := Start(ProcessConfig{Name: "my-agent", Command: tc.cmd, Dir: dir, Env: os.Environ(), OutputLimit: tc.limit,
				Log: lockedWriter{&mu, &log}})
			if tc.startErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.startErr) || !strings.Contains(err.Error(), "my-agent") {
					t.Fatalf("Start: %v, want an error naming the agent and %q", err, tc.startErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pid := p.PID()
			var got error
			if tc.exitErr != "" {
				select {
				case <-p.Exited():
				case <-time.After(20 * time.Second):
					t.Fatal("did not exit")
				}
				got = p.Err()
				if got == nil || !strings.Contains(got.Error(), tc.exitErr) {
					t.Fatalf("Err = %v, want %q", got, tc.exitErr)
				}
				if err := p.Stop(time.Second); err != nil {
					t.Errorf("Stop after exit: %v", err)
				}
			} else {
				time.Sleep(300 * time.Millisecond)
				got = p.Stop(300 * time.Millisecond)
				if (got == nil) != (tc.stopErr == "") || (got != nil && !strings.Contains(got.Error(), tc.stopErr)) {
					t.Fatalf("Stop = %v, want %q", got, tc.stopErr)
				}
				if err := p.Err(); err != nil {
					t.Errorf("Err after Stop = %v, want nil", err)
				}
			}
			for _, w := range append(tc.wantInError, "my-agent") {
				if got != nil && !strings.Contains(got.Error(), w) {
					t.Errorf("error %q lacks %q", got, w)
				}
			}
			assertGone(t, pid)
			mu.Lock()
			defer mu.Unlock()
			// A log line adds a time stamp and the stream to each line.
			if n := int64(log.Len()); tc.limit > 0 && n > 4*tc.limit {
				t.Errorf("output log holds %d bytes for a %d byte limit", n, tc.limit)
			}
		})
	}
}

// TestProcessLines checks that every line reaches the callback and the
// log with its stream, and that over-long lines are cut, not split.
func TestProcessLines(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	var log bytes.Buffer
	p, err := Start(ProcessConfig{Name: "a", Command: `echo one; echo two >&2; head -c 100000 /dev/zero | tr '\0' x; echo; echo three`, Env: os.Environ(),
		Log: lockedWriter{&mu, &log}, Line: func(l string, at int64) {
			mu.Lock()
			defer mu.Unlock()
			if at <= 0 {
				t.Error("no arrival time")
			}
			lines = append(lines, l)
		}})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	mu.Lock()
	defer mu.Unlock()
	// stdout's "one" and stderr's "two" race each other; the rest follow
	// on stdout in order.
	if len(lines) != 4 || !(lines[0] == "one" && lines[1] == "two" || lines[0] == "two" && lines[1] == "one") ||
		lines[3] != "three" || !strings.HasSuffix(lines[2], "[cut at 64 KiB]") {
		t.Errorf("lines %d: %.40q", len(lines), lines)
	}
	if !strings.Contains(log.String(), " stderr two\n") || !strings.Contains(log.String(), " stdout three\n") {
		t.Errorf("log:\n%.300s", log.String())
	}
	if p.Lines() != 4 {
		t.Errorf("Lines() = %d", p.Lines())
	}
}

// TestProcessEnvAndDir checks the agent runs where and with what it is told.
func TestProcessEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "agent.sh"), []byte("echo \"$KAFKA_TOPIC $(pwd)\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var got []string
	var mu sync.Mutex
	p, err := Start(ProcessConfig{Name: "a", Command: "./agent.sh", Dir: dir, Env: append(os.Environ(), "KAFKA_TOPIC=t1"),
		Line: func(l string, _ int64) { mu.Lock(); got = append(got, l); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Exited()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "t1 "+dir {
		t.Errorf("got %q, want %q", got, "t1 "+dir)
	}
}

// assertGone checks that no process of the agent's group is left.
func assertGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile("/proc/" + strconv.Itoa(pgid) + "/cmdline")
			t.Fatalf("process group %d still has processes (%v; %q)", pgid, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
