package dbcost

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// Fields after the command: state ppid pgrp session tty tpgid flags
	// minflt cminflt majflt cmajflt utime stime cutime cstime priority ...
	for _, tc := range []struct {
		name, line string
		want       procStat
		err        bool
	}{
		{"backend", "4242 (postgres) S 4200 4200 4200 0 -1 4194560 100 0 0 0 7 3 20 5 20 0 1 0 123 0 0\n", procStat{ppid: 4200, ticks: 10, reaped: 25}, false},
		{"command with spaces and parentheses", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0", procStat{ppid: 1, ticks: 3, reaped: 7}, false},
		{"no command", "7 a R 1", procStat{}, true},
		{"truncated", "7 (a) R 1 7 7 0 -1 0 0 0 0 0 1 2", procStat{}, true},
		{"not a number", "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 2 3 4 20 0", procStat{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.line))
			if tc.err {
				if !errors.Is(err, errStat) {
					t.Fatalf("parseStat = %+v, %v; want errStat", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseStat = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestReadStatSelf reads this test process, whose parent is known and
// which spins until the kernel has accounted it some CPU.
func TestReadStatSelf(t *testing.T) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := readStat(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if st.ppid != os.Getppid() {
			t.Fatalf("ppid = %d, want %d", st.ppid, os.Getppid())
		}
		if st.ticks > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no CPU ticks accounted to this process in 5 s of reading /proc")
		}
	}
}
