package proccost

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func TestParseStat(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime cstime priority
	// nice threads itrealvalue starttime ...
	for _, tc := range []struct {
		name, line string
		want       Stat
		err        bool
	}{
		{"backend", "4242 (postgres) S 4200 4200 4200 0 -1 4194560 100 0 0 0 7 3 20 5 20 0 1 0 123 0 0\n", Stat{PPID: 4200, Ticks: 10, Reaped: 25, Start: 123}, false},
		{"command with spaces and parentheses", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 99", Stat{PPID: 1, Ticks: 3, Reaped: 7, Start: 99}, false},
		{"no command", "7 a R 1", Stat{}, true},
		{"truncated before starttime", "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0", Stat{}, true},
		{"not a number", "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 2 3 4 20 0 1 0 99", Stat{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.line))
			if tc.err {
				if !errors.Is(err, ErrStat) {
					t.Fatalf("parseStat = %+v, %v; want ErrStat", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStat = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         Memory
		err          bool
	}{
		{"process", "Name:\tjava\nVmPeak:\t  999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t9\n", Memory{RSS: 1 << 20, HWM: 2 << 20}, false},
		{"kernel thread", "Name:\tkthreadd\nState:\tS (sleeping)\n", Memory{}, false},
		{"garbled", "VmRSS:\t lots kB\n", Memory{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMemory([]byte(tc.status))
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("parseMemory = %+v, %v; want %+v (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestReadSelf reads this test process, whose parent is known and which
// spins until the kernel has accounted it some CPU.
func TestReadSelf(t *testing.T) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := ReadStat(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if st.PPID != os.Getppid() || st.Start == 0 {
			t.Fatalf("stat %+v: want ppid %d and a start time", st, os.Getppid())
		}
		if st.Ticks > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no CPU ticks accounted to this process in 5 s of reading /proc")
		}
	}
	mem, err := ReadMemory(os.Getpid())
	if err != nil || mem.RSS <= 0 || mem.HWM < mem.RSS {
		t.Fatalf("memory %+v, %v: want 0 < RSS <= HWM", mem, err)
	}
	up, err := uptimeTicks()
	st, _ := ReadStat(os.Getpid())
	if err != nil || up < st.Start {
		t.Fatalf("uptime %d ticks (%v) before this process's start at %d", up, err, st.Start)
	}
}

// TestReadThreads names a thread of this process (prctl PR_SET_NAME),
// keeps it busy, and finds it by id and name with CPU ticks of its own.
func TestReadThreads(t *testing.T) {
	found := make(chan Thread, 1)
	errs := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the renamed thread ends with the goroutine
		name := []byte("cdcbench-spin\x00")
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0); e != 0 {
			errs <- e
			return
		}
		tid := syscall.Gettid()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for i := 0; i < 1e6; i++ { // spin: CPU on this thread
				_ = i * i
			}
			threads, err := ReadThreads(os.Getpid())
			if err != nil {
				errs <- err
				return
			}
			if th, ok := threads[tid]; ok && th.Ticks > 0 {
				found <- th
				return
			}
		}
		errs <- fmt.Errorf("thread %d never showed CPU ticks in 10 s", tid)
	}()
	select {
	case th := <-found:
		if th.Name != "cdcbench-spin" {
			t.Errorf("thread name %q, want cdcbench-spin", th.Name)
		}
	case err := <-errs:
		t.Fatal(err)
	}
}
