package pgcluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcbench/cdcbench/internal/ownerpid"
	"github.com/cdcbench/cdcbench/internal/pgcluster"
	"github.com/cdcbench/cdcbench/internal/pgtest"
	"github.com/cdcbench/cdcbench/internal/testtier"
)

// helperEnv makes the test binary act as a cdcbench stand-in that starts a
// cluster and then waits to be killed (see TestNoServerOutlivesParent).
const helperEnv = "PGCLUSTER_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// helperMain starts a cluster, reports its pid and dir on stdout and blocks
// until it is killed.
func helperMain() int {
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %s\n", c.PID(), c.Dir())
	time.Sleep(time.Hour)
	return 0
}

// startCluster starts a cluster with opts and stops it when the test ends.
func startCluster(t *testing.T, opts pgcluster.Options) (*pgcluster.Cluster, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	c, err := pgcluster.Start(ctx, opts)
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c, took
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func show(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(), "SHOW "+name).Scan(&v); err != nil {
		t.Fatalf("SHOW %s: %v", name, err)
	}
	return v
}

// procStatus returns the fields of one line of /proc/PID/status.
func procStatus(t *testing.T, pid int, key string) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return nil
}

// processGroup lists the live processes whose process group is pgid.
func processGroup(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid pgrp ...
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 2 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStartStop(t *testing.T) {
	testtier.Integration(t)
	c, took := startCluster(t, pgcluster.Options{})
	t.Logf("PostgreSQL %s up on port %d in %v (initdb + start + ready)", c.Version(), c.Port(), took)
	conn := connect(t, c.DSN())

	t.Run("settings", func(t *testing.T) {
		for _, tc := range []struct{ name, want string }{
			{"wal_level", "logical"},
			{"synchronous_commit", "on"},
			{"fsync", "on"},
			{"listen_addresses", "127.0.0.1"},
			{"max_slot_wal_keep_size", "2GB"},
			{"checkpoint_timeout", "1h"},
			{"shared_buffers", "256MB"},
			{"max_replication_slots", "10"},
			{"port", strconv.Itoa(c.Port())},
			{"unix_socket_directories", `"` + filepath.Join(c.Dir(), "sock") + `"`}, // quoted: the setting is a list
			{"server_encoding", "UTF8"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := show(t, conn, tc.name); got != tc.want {
					t.Errorf("SHOW %s = %q, want %q", tc.name, got, tc.want)
				}
			})
		}
	})

	t.Run("superuser", func(t *testing.T) {
		var user string
		var super bool
		if err := conn.QueryRow(context.Background(), "SELECT current_user, usesuper FROM pg_user WHERE usename = current_user").Scan(&user, &super); err != nil {
			t.Fatal(err)
		}
		if user != "cdcbench" || !super {
			t.Errorf("connected as %q (superuser %v), want superuser cdcbench", user, super)
		}
	})

	t.Run("version", func(t *testing.T) {
		if !regexp.MustCompile(`^\d+(\.\d+)*$`).MatchString(c.Version()) {
			t.Fatalf("Version() = %q, want a version number", c.Version())
		}
		var full string
		if err := conn.QueryRow(context.Background(), "SHOW server_version").Scan(&full); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(full, c.Version()) {
			t.Errorf("server_version %q does not start with Version() %q", full, c.Version())
		}
	})

	t.Run("logical slot", func(t *testing.T) {
		ctx := context.Background()
		if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot('t', 'pgoutput')"); err != nil {
			t.Fatalf("create slot: %v", err)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot('t')"); err != nil {
			t.Fatalf("drop slot: %v", err)
		}
	})

	t.Run("replication connection", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rc, err := pgconn.Connect(ctx, c.ReplicationDSN())
		if err != nil {
			t.Fatalf("connect %s: %v", c.ReplicationDSN(), err)
		}
		defer rc.Close(ctx)
		res, err := rc.Exec(ctx, "IDENTIFY_SYSTEM").ReadAll()
		if err != nil {
			t.Fatalf("IDENTIFY_SYSTEM: %v", err)
		}
		if len(res) != 1 || len(res[0].Rows) != 1 {
			t.Fatalf("IDENTIFY_SYSTEM returned %v, want one row", res)
		}
	})

	t.Run("pg_stat_statements", func(t *testing.T) {
		preloaded := strings.Contains(show(t, conn, "shared_preload_libraries"), "pg_stat_statements")
		if c.HasStatStatements() != preloaded {
			t.Fatalf("HasStatStatements() = %v, but preloaded = %v", c.HasStatStatements(), preloaded)
		}
		_, err := conn.Exec(context.Background(), "SELECT count(*) FROM pg_stat_statements")
		if c.HasStatStatements() && err != nil {
			t.Errorf("HasStatStatements() but the view fails: %v", err)
		}
		if !c.HasStatStatements() && err == nil {
			t.Errorf("the view works but HasStatStatements() = false")
		}
	})

	t.Run("process", func(t *testing.T) {
		uids := procStatus(t, c.PID(), "Uid")
		for _, u := range uids {
			if os.Geteuid() == 0 && u == "0" {
				t.Errorf("postmaster runs as root (Uid: %v)", uids)
			}
			if os.Geteuid() != 0 && u != strconv.Itoa(os.Geteuid()) {
				t.Errorf("postmaster Uid %v, want ours (%d)", uids, os.Geteuid())
			}
		}
		if pgid, err := syscall.Getpgid(c.PID()); err != nil || pgid != c.PID() {
			t.Errorf("postmaster process group = %d (%v), want its own (%d)", pgid, err, c.PID())
		}
		if _, err := os.Stat(filepath.Join(c.Dir(), "data", "cdcbench.conf")); err != nil {
			t.Errorf("settings file: %v", err)
		}
	})

	t.Run("stop", func(t *testing.T) {
		pid, dir := c.PID(), c.Dir()
		conn.Close(context.Background()) // an open session must not hold up a fast shutdown
		begin := time.Now()
		if err := c.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		t.Logf("stopped in %v", time.Since(begin))
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("postmaster %d after Stop: kill(0) = %v, want ESRCH", pid, err)
		}
		if left := processGroup(pid); len(left) > 0 {
			t.Errorf("server processes left after Stop: %v", left)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("temp dir after Stop: stat = %v, want not exist", err)
		}
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("second Stop: %v", err)
		}
	})
}

func TestTwoClustersAtOnce(t *testing.T) {
	testtier.Integration(t)
	var (
		wg       sync.WaitGroup
		clusters [2]*pgcluster.Cluster
		errs     [2]error
	)
	for i := range clusters {
		wg.Go(func() {
			clusters[i], errs[i] = pgcluster.Start(context.Background(), pgcluster.Options{})
		})
	}
	wg.Wait()
	for i, c := range clusters {
		if errs[i] != nil {
			t.Fatalf("cluster %d: %v", i, errs[i])
		}
		t.Cleanup(func() {
			if err := c.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	a, b := clusters[0], clusters[1]
	if a.Port() == b.Port() || a.Dir() == b.Dir() || a.PID() == b.PID() {
		t.Fatalf("clusters share port/dir/pid: %d %s %d vs %d %s %d", a.Port(), a.Dir(), a.PID(), b.Port(), b.Dir(), b.PID())
	}
	for _, c := range clusters {
		if got := show(t, connect(t, c.DSN()), "port"); got != strconv.Itoa(c.Port()) {
			t.Errorf("cluster on %d reports port %s", c.Port(), got)
		}
	}
}

func TestOptions(t *testing.T) {
	testtier.Integration(t)
	port := freePort(t)
	c, _ := startCluster(t, pgcluster.Options{
		Port:     port,
		Keep:     true,
		Settings: map[string]string{"synchronous_commit": "off", "work_mem": "8MB", "application_name": "it's"},
	})
	t.Cleanup(func() { os.RemoveAll(c.Dir()) })
	if c.Port() != port {
		t.Errorf("Port() = %d, want %d", c.Port(), port)
	}
	conn := connect(t, c.DSN())
	for name, want := range map[string]string{"synchronous_commit": "off", "work_mem": "8MB", "application_name": "it's", "wal_level": "logical"} {
		t.Run(name, func(t *testing.T) {
			if got := show(t, conn, name); got != want {
				t.Errorf("SHOW %s = %q, want %q", name, got, want)
			}
		})
	}
	conn.Close(context.Background())

	t.Run("keep", func(t *testing.T) {
		pid := c.PID()
		if err := c.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if alive(pid) {
			t.Errorf("postmaster %d alive after Stop", pid)
		}
		if _, err := os.Stat(filepath.Join(c.Dir(), "data", "PG_VERSION")); err != nil {
			t.Errorf("Keep: data dir gone after Stop: %v", err)
		}
		if _, err := os.Stat(filepath.Join(c.Dir(), "server.log")); err != nil {
			t.Errorf("Keep: server log gone after Stop: %v", err)
		}
	})
}

func TestStartErrors(t *testing.T) {
	testtier.Integration(t)
	// Start must not leave temp dirs behind on failure; give it its own
	// TMPDIR to count them. The server user must be able to traverse it.
	tmp := t.TempDir()
	for d := tmp; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	for _, tc := range []struct {
		name string
		opts pgcluster.Options
		want string // in the error, and in opts.Log when set
	}{
		{"managed setting", pgcluster.Options{Settings: map[string]string{"port": "1"}}, `"port" is managed`},
		{"bad setting name", pgcluster.Options{Settings: map[string]string{"a = 'b'\n#": "c"}}, "invalid setting name"},
		{"bad port", pgcluster.Options{Port: 70000}, "invalid port"},
		{"bad bindir", pgcluster.Options{BinDir: tmp}, "apt-get install postgresql"},
		{"bad setting value", pgcluster.Options{Settings: map[string]string{"shared_buffers": "lots"}, Log: &strings.Builder{}}, `invalid value for parameter "shared_buffers"`},
		{"port taken", pgcluster.Options{Port: taken.Addr().(*net.TCPAddr).Port}, "could not bind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pgcluster.Start(context.Background(), tc.opts)
			if err == nil {
				c.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if log, ok := tc.opts.Log.(*strings.Builder); ok && !strings.Contains(log.String(), tc.want) {
				t.Errorf("Options.Log got %q, want it to contain %q", log, tc.want)
			}
			if left, _ := filepath.Glob(filepath.Join(tmp, "cdcbench-pg-*")); len(left) > 0 {
				t.Errorf("temp dirs left behind: %v", left)
			}
		})
	}
}

// TestNoServerOutlivesParent kills a process that started a cluster, as a
// crash or kill -9 of cdcbench would, and expects the server to die with it.
func TestNoServerOutlivesParent(t *testing.T) {
	testtier.Integration(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not report a cluster: %v", err)
	}
	var pid int
	var dir string
	if _, err := fmt.Sscan(line, &pid, &dir); err != nil {
		t.Fatalf("helper said %q: %v", line, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // nobody was left to remove it
	if !alive(pid) {
		t.Fatalf("postmaster %d not running before the kill", pid)
	}

	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(processGroup(pid)) > 0 {
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("server processes %v outlived their parent", processGroup(pid))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFindBinaries(t *testing.T) {
	t.Setenv("CDCBENCH_PG_BINDIR", "")
	real, err := pgcluster.FindBinaries()
	if err != nil {
		t.Fatalf("FindBinaries without override: %v", err)
	}

	empty := t.TempDir()
	onlyInitdb := t.TempDir()
	if err := os.Symlink(filepath.Join(real, "initdb"), filepath.Join(onlyInitdb, "initdb")); err != nil {
		t.Fatal(err)
	}
	notExecutable := t.TempDir()
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(notExecutable, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory of links to the real binaries is found only through the
	// environment variable, so finding it proves the variable comes first.
	linked := t.TempDir()
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(linked, name)); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name, env, want string
	}{
		{"unset", "", real},
		{"env first", linked, linked},
		{"empty dir", empty, ""},
		{"missing dir", filepath.Join(empty, "nope"), ""},
		{"only initdb", onlyInitdb, ""},
		{"not executable", notExecutable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CDCBENCH_PG_BINDIR", tc.env)
			got, err := pgcluster.FindBinaries()
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("FindBinaries() = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, pgcluster.ErrNoBinaries) {
				t.Fatalf("FindBinaries() = %q, %v; want ErrNoBinaries", got, err)
			}
			for _, s := range []string{"apt-get install postgresql", "--pg-dsn", tc.env} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestCommaInTempDir: unix_socket_directories is a comma-separated list, so
// a temp dir with a comma in its path must still start.
func TestCommaInTempDir(t *testing.T) {
	testtier.Integration(t)
	tmp := pgtest.ServerTempDir(t, "cdcbench-test-a,b-")
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		t.Fatalf("start with TMPDIR %q: %v", tmp, err)
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// dirPostmaster reads the pid in c's data/postmaster.pid, 0 if none.
func dirPostmaster(t *testing.T, dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// TestOutsideFaults: a server that dies under cdcbench is reported on
// Deaths with its exit and log; one restarted from outside (pg_ctl
// restart, not cdcbench's child) is no death, and Stop stops it before
// the directory goes (it ran on the deleted data for minutes).
func TestOutsideFaults(t *testing.T) {
	testtier.Integration(t)
	// start is startCluster without its check of Stop, which reports the
	// server's exit here.
	start := func(t *testing.T) *pgcluster.Cluster {
		c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(context.Background()) })
		return c
	}
	t.Run("pg_ctl restart", func(t *testing.T) {
		c := start(t)
		first := c.PID()
		pgtest.PgCtl(t, c.Dir(), first, "-m", "fast", "restart")
		second := dirPostmaster(t, c.Dir())
		if second == 0 || second == first || !alive(second) {
			t.Fatalf("after pg_ctl restart: postmaster.pid names %d (the first was %d)", second, first)
		}
		// successorGrace is 2 s: a death would have been reported by now.
		select {
		case err := <-c.Deaths():
			t.Fatalf("a restart from outside was reported as a death: %v", err)
		case <-time.After(5 * time.Second):
		}
		err := c.Stop(context.Background())
		if err == nil || !strings.Contains(err.Error(), "had exited before Stop") {
			t.Errorf("Stop = %v, want it to say that its own postmaster had exited", err)
		}
		if ownerpid.Running(second) { // not a zombie: init reaps it, or not
			_ = syscall.Kill(second, syscall.SIGKILL)
			t.Fatalf("the postmaster restarted from outside (pid %d) still runs after Stop", second)
		}
		if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cluster dir after Stop: %v", err)
		}
	})
	t.Run("kill -9", func(t *testing.T) {
		c := start(t)
		killed := time.Now()
		if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-c.Deaths():
			t.Logf("reported %v after the kill: %v", time.Since(killed).Round(time.Millisecond), err)
			if !errors.Is(err, pgcluster.ErrDied) || !strings.Contains(err.Error(), "signal: killed") || !strings.Contains(err.Error(), "server log tail") {
				t.Errorf("death %v, want ErrDied with the exit status and the log's tail", err)
			}
		case <-time.After(time.Minute): // generous: the machine is shared
			t.Fatal("a postmaster killed from outside was not reported within a minute")
		}
	})
}
