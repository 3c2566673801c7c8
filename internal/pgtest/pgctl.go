package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cdcbench/cdcbench/internal/pgcluster"
)

// PgCtl runs pg_ctl on the private cluster in dir as the user its
// postmaster (pid) runs as, the way an administrator would from outside
// cdcbench: `pg_ctl -m fast restart` starts a postmaster that is not
// cdcbench's child.
func PgCtl(t *testing.T, dir string, pid int, args ...string) {
	t.Helper()
	bin, err := pgcluster.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var uid, gid int
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[0] == "Uid:" || f[0] == "Gid:") {
			n, _ := strconv.Atoi(f[1])
			if f[0] == "Uid:" {
				uid = n
			} else {
				gid = n
			}
		}
	}
	cmd := exec.Command(filepath.Join(bin, "pg_ctl"), append([]string{"-D", filepath.Join(dir, "data"), "-w", "-t", "60"}, args...)...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	// Output to /dev/null: the new postmaster inherits it, and would keep
	// a pipe open forever.
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_ctl %v: %v", args, err)
	}
}
