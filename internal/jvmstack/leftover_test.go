package jvmstack_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cdcbench/cdcbench/internal/jvmstack"
	"github.com/cdcbench/cdcbench/internal/ownerpid"
)

const helperEnv = "CDCBENCH_JVMSTACK_HELPER"

// TestHelperOwner is not a test: run by TestKilledOwner as a child process
// (CDCBENCH_JVMSTACK_HELPER=1), it starts a stack, prints where it is and
// blocks until it is killed.
func TestHelperOwner(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process of TestKilledOwner")
	}
	art := needJVM(t)
	st, err := jvmstack.Start(context.Background(), jvmstack.Options{Artifacts: art})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	b, c := st.PIDs()
	fmt.Printf("READY %s %d %d\n", st.Dir(), b, c)
	select {}
}

// TestKilledOwner kills -9 a process that started a stack: its JVMs must
// die with it (Pdeathsig), and FindLeftovers must find the dir it left,
// which RemoveLeftover removes, killing any process that still runs from it.
func TestKilledOwner(t *testing.T) {
	needJVM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperOwner$", "-test.v=false")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var dir string
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "ERROR" {
			t.Fatal(sc.Text())
		}
		if len(f) == 4 && f[0] == "READY" {
			dir = f[1]
			for _, s := range f[2:] {
				n, _ := strconv.Atoi(s)
				pids = append(pids, n)
			}
			break
		}
	}
	if dir == "" {
		t.Fatalf("helper gave no READY line: %v", sc.Err())
	}
	defer os.RemoveAll(dir)

	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for processExists(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if processExists(pid) {
			t.Errorf("JVM %d outlived its killed owner", pid)
		}
	}

	// A process that survived (here a stand-in carrying the stack's mark)
	// must be killed by RemoveLeftover.
	survivor := exec.Command("bash", "-c", "sleep 300; true", "-Dcdcbench.stack="+dir)
	survivor.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := survivor.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { _ = survivor.Wait(); close(reaped) }()

	var found *jvmstack.Leftover
	for _, l := range jvmstack.FindLeftovers() {
		if l.Dir == dir {
			found = &l
		}
	}
	if found == nil || found.Live {
		t.Fatalf("FindLeftovers does not list %s as left behind: %+v", dir, found)
	}
	if !slices.Contains(found.PIDs, survivor.Process.Pid) {
		t.Errorf("leftover %+v does not list the survivor %d", *found, survivor.Process.Pid)
	}
	if err := jvmstack.RemoveLeftover(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reaped:
	case <-time.After(10 * time.Second):
		t.Error("RemoveLeftover did not kill the survivor")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there", dir)
	}
}

// TestLeftoverOfLiveOwner checks that the dir of a running stack's owner
// (this very process) is Live and never removed.
func TestLeftoverOfLiveOwner(t *testing.T) {
	dir, err := os.MkdirTemp("", jvmstack.DirPrefix+"*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := ownerpid.Claim(dir); err != nil {
		t.Fatal(err)
	}
	for _, l := range jvmstack.FindLeftovers() {
		if l.Dir == dir && !l.Live {
			t.Fatalf("the dir of a live owner is not Live: %+v", l)
		}
	}
	if err := jvmstack.RemoveLeftover(dir); err == nil {
		t.Fatal("RemoveLeftover removed a live owner's dir")
	}
}
