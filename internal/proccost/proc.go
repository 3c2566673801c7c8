package proccost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// procRoot is where Linux shows processes.
const procRoot = "/proc"

// TicksPerSecond is the unit of /proc's CPU and start times (USER_HZ, what
// `getconf CLK_TCK` prints). Linux fixes it at 100 on every architecture Go
// runs on; reading it through sysconf would need cgo for a constant.
const TicksPerSecond = 100

// Stat is the part of /proc/<pid>/stat cdcbench reads.
type Stat struct {
	PPID int
	// Ticks is the process's own user+system CPU (utime+stime); Reaped is
	// the CPU of its children that exited and were waited for
	// (cutime+cstime).
	Ticks, Reaped int64
	// Start is when the process started, in ticks since boot: with the
	// pid it tells a process from a later one that reuses its pid.
	Start uint64
}

// ErrStat reports a /proc/<pid>/stat line that cannot be read.
var ErrStat = errors.New("proccost: malformed /proc stat line")

// Available reports whether this system shows processes in /proc.
func Available() bool {
	_, err := os.Stat(filepath.Join(procRoot, "self", "stat"))
	return err == nil
}

// ReadStat reads /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b)
}

// Thread is one thread of a process, as /proc/<pid>/task/<tid>/stat
// shows it.
type Thread struct {
	// Name is the thread's comm: its name as the program set it, cut to 15
	// bytes ("debezium-postgr", "kafka-producer-").
	Name string
	// Ticks is the thread's user+system CPU.
	Ticks int64
}

// ReadThreads reads the CPU of each thread of pid, by thread id. A thread
// that ends while they are read is left out.
func ReadThreads(pid int) (map[int]Thread, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[int]Thread, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		st, err := parseStat(b)
		if err != nil {
			return nil, err
		}
		start, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		out[tid] = Thread{Name: string(b[start+1 : end]), Ticks: st.Ticks}
	}
	return out, nil
}

// parseStat parses a stat line: "pid (comm) state ppid ... utime stime
// cutime cstime ... starttime ...". comm may hold spaces and parentheses,
// so the fields are counted from the last ')'.
func parseStat(b []byte) (Stat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return Stat{}, fmt.Errorf("%w: no command name in %q", ErrStat, b)
	}
	// After the command: state(0) ppid(1) ... utime(11) stime(12)
	// cutime(13) cstime(14) ... starttime(19), field 22 of proc(5).
	f := bytes.Fields(b[end+1:])
	if len(f) < 20 {
		return Stat{}, fmt.Errorf("%w: %d fields after the command in %q", ErrStat, len(f), b)
	}
	var v [20]int64
	for _, i := range []int{1, 11, 12, 13, 14, 19} {
		n, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return Stat{}, fmt.Errorf("%w: field %d of %q: %v", ErrStat, i+3, b, err)
		}
		v[i] = n
	}
	return Stat{PPID: int(v[1]), Ticks: v[11] + v[12], Reaped: v[13] + v[14], Start: uint64(v[19])}, nil
}

// Memory is the part of /proc/<pid>/status cdcbench reads, in bytes.
type Memory struct {
	// RSS is the resident set now (VmRSS): anonymous, file-backed and
	// shared memory pages (a PostgreSQL backend's include the shared
	// buffers it touched).
	RSS int64
	// HWM is the largest RSS over the process's whole life (VmHWM), not
	// over a window of it.
	HWM int64
}

// ReadMemory reads /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return Memory{}, err
	}
	return parseMemory(b)
}

// parseMemory takes VmRSS and VmHWM from a status file; a kernel thread
// has neither and shows as zero.
func parseMemory(b []byte) (Memory, error) {
	var m Memory
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		kb, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(val), []byte("kB")))), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("proccost: status line %q: %w", line, err)
		}
		*dst = kb * 1024
	}
	return m, nil
}

// uptimeTicks is the time since boot in ticks (/proc/uptime), the clock of
// Stat.Start.
func uptimeTicks() (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "uptime"))
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, fmt.Errorf("proccost: empty %s/uptime", procRoot)
	}
	s, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return 0, fmt.Errorf("proccost: %s/uptime %q: %w", procRoot, b, err)
	}
	return uint64(s * TicksPerSecond), nil
}
