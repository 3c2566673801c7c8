// Package pgcluster runs a private, throwaway PostgreSQL cluster from the
// machine's own server binaries, so that cdcbench's embedded default and its
// integration tests need no server set up by hand and leave nothing behind.
//
// The cluster lives in a fresh temp dir (data/, sock/, server.log), listens
// on 127.0.0.1 only with trust authentication, and is configured for logical
// replication. postgres is started directly as a child process, not through
// pg_ctl, so that cdcbench owns the process: it sits in its own process group
// (a terminal's Ctrl-C reaches cdcbench, which then stops it cleanly) and gets
// SIGKILL if cdcbench dies, so no server outlives the benchmark. When running
// as root, initdb and postgres run as the user "postgres" (or "nobody"),
// because PostgreSQL refuses to run as root.
//
// The package is Linux-only: it relies on Pdeathsig.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcbench/cdcbench/internal/ownerpid"
)

// superuser is the role initdb creates; DSN connects as it.
const superuser = "cdcbench"

const (
	// readyTimeout bounds how long Start waits for the server to accept
	// connections; a healthy server needs well under 2 s.
	readyTimeout = 30 * time.Second
	// pollInterval is the pause between readiness probes.
	pollInterval = 10 * time.Millisecond
	// stopTimeout is how long a fast shutdown may take before SIGKILL.
	stopTimeout = 10 * time.Second
	// bindAttempts is how often Start tries fresh ports when the one it
	// picked was taken between picking and binding.
	bindAttempts = 3
	// logTailBytes is how much of the server log error messages quote.
	logTailBytes = 4096
)

// Options configures Start. The zero value is a usable default.
type Options struct {
	BinDir   string            // "" = FindBinaries
	Port     int               // 0 = pick a free 127.0.0.1 port
	Settings map[string]string // extra/override postgresql.conf settings
	Keep     bool              // keep the data dir after Stop (for debugging)
	Log      io.Writer         // where the server log goes besides the file (may be nil)
}

// Cluster is a running private PostgreSQL server. Stop it when done; Stop is
// safe to call more than once and from a deferred call on every path.
type Cluster struct {
	dir     string
	dataDir string
	sockDir string
	binDir  string
	version string
	keep    bool
	cred    *syscall.Credential // nil when not root: the server runs as us

	logFile *os.File
	logW    io.Writer

	port int
	proc *postmaster // nil until started, and again after a failed attempt

	hasStatStatements bool

	// stopped is closed when Stop begins; deaths is Deaths'.
	stopped chan struct{}
	deaths  chan error

	stopOnce sync.Once
	stopErr  error
}

// Start initialises a fresh cluster in a temp dir, starts postgres on it and
// waits until it accepts connections. On any error everything it created is
// removed again (unless opts.Keep), and the error quotes the server log.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = FindBinaries(); err != nil {
			return nil, err
		}
	} else if err := checkBinDir(binDir); err != nil {
		return nil, fmt.Errorf("%w: Options.BinDir %q: %v; %s", ErrNoBinaries, binDir, err, installHint)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgcluster: invalid port %d", opts.Port)
	}
	settings, err := buildSettings(opts.Settings, statStatementsInstalled(binDir))
	if err != nil {
		return nil, err
	}
	version, err := serverVersion(binDir)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}

	dir, err := os.MkdirTemp("", "cdcbench-pg-*")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: create temp dir: %w", err)
	}
	c := &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		sockDir: filepath.Join(dir, "sock"),
		binDir:  binDir,
		version: version,
		keep:    opts.Keep,
		cred:    cred,
		stopped: make(chan struct{}),
		deaths:  make(chan error, 1),
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop(context.Background()))
			if c.keep {
				err = fmt.Errorf("%w (cluster dir kept: %s)", err, c.dir)
			}
		}
	}()

	// The owner file tells `cdcbench clean` that the directory is in use
	// for as long as this process runs, initdb included.
	if err := ownerpid.Claim(dir); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.Mkdir(c.sockDir, 0o700); err != nil {
		return nil, fmt.Errorf("pgcluster: create socket dir: %w", err)
	}
	if err := c.chown(dir, c.sockDir); err != nil {
		return nil, err
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	if err := includeConf(c.dataDir); err != nil {
		return nil, err
	}
	c.logFile, err = os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: create server log: %w", err)
	}
	c.logW = c.logFile
	if opts.Log != nil {
		c.logW = io.MultiWriter(c.logFile, opts.Log)
	}

	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		if err := writeConf(c.dataDir, settings, port, c.sockDir); err != nil {
			return nil, err
		}
		if err := c.chown(filepath.Join(c.dataDir, confFile)); err != nil {
			return nil, err
		}
		err = c.run(ctx, port)
		var exitErr *earlyExitError
		if err == nil || opts.Port != 0 || attempt == bindAttempts ||
			!errors.As(err, &exitErr) || !strings.Contains(exitErr.logTail, "could not bind") {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if preloads(settings) {
		c.hasStatStatements = c.exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements") == nil
	}
	go c.watch(c.proc)
	return c, nil
}

// DSN is a pgx/libpq URL for the superuser on the postgres database over TCP.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", superuser, c.port)
}

// ReplicationDSN is DSN for a logical replication connection
// (replication=database), as pglogrepl needs.
func (c *Cluster) ReplicationDSN() string {
	return c.DSN() + "&replication=database"
}

// Port is the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Version is the server version, e.g. "15.18", from `postgres --version`.
func (c *Cluster) Version() string { return c.version }

// Dir is the cluster's temp dir, holding data/, sock/ and server.log.
func (c *Cluster) Dir() string { return c.dir }

// PID is the postmaster's process id, for CPU accounting through /proc: the
// one cdcbench started.
func (c *Cluster) PID() int { return c.proc.cmd.Process.Pid }

// HasStatStatements reports whether pg_stat_statements is preloaded and its
// extension created, so that callers may query the view.
func (c *Cluster) HasStatStatements() bool { return c.hasStatStatements }

// Stop shuts the server down with a fast shutdown (SIGINT to the postmaster:
// open transactions are rolled back, a checkpoint is written), waits for it,
// and kills its whole process group if it has not exited within 10 s or
// before ctx ends. Then it removes the temp dir unless Options.Keep was set.
// Only the first call does anything; later calls return its result. It also
// reports a server that had died before Stop, so a run cannot miss that.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { c.stopErr = c.stop(ctx) })
	return c.stopErr
}

func (c *Cluster) stop(ctx context.Context) error {
	close(c.stopped)
	var errs []error
	if c.proc != nil {
		errs = append(errs, c.proc.shutdown(ctx, c.logTail))
	}
	// Whatever else serves the data directory goes before it does: a
	// postmaster restarted from outside (pg_ctl restart) ran on the deleted
	// data for minutes.
	if pid := DirPostmaster(c.dir); pid != 0 {
		errs = append(errs, StopPostmaster(ctx, pid))
	}
	if c.logFile != nil {
		errs = append(errs, c.logFile.Close())
	}
	if !c.keep {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("pgcluster: remove %s: %w", c.dir, err))
		}
	}
	return errors.Join(errs...)
}

// postmaster is one started postgres process.
type postmaster struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // its exit status; read only after done
}

// exited reports whether the postmaster has been reaped.
func (p *postmaster) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// shutdown stops the postmaster and waits until it is reaped. logTail is
// quoted when the server had already died.
func (p *postmaster) shutdown(ctx context.Context, logTail func(from int64) string) error {
	if p.exited() {
		return fmt.Errorf("pgcluster: postgres had exited before Stop (%v); server log tail:\n%s", p.waitErr, logTail(0))
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("pgcluster: signal postgres: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	var why error
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		why = fmt.Errorf("fast shutdown took longer than %v", stopTimeout)
	case <-ctx.Done():
		why = ctx.Err()
	}
	// The postmaster is not reaped yet (done is open), so its pid is still
	// the process group id: the group's backends die with it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("pgcluster: postgres killed: %w", why)
}

// initdb creates the data directory with the superuser "cdcbench" and trust
// authentication. --no-sync skips fsyncing a cluster that lives only for one
// run; --locale=C makes the cluster independent of the host's locales.
func (c *Cluster) initdb(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"),
		"-D", c.dataDir, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C",
		"--no-instructions", "--no-sync")
	cmd.Dir = c.dir // initdb complains when it cannot access its working directory
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w; output:\n%s", err, tail(out))
	}
	return nil
}

// earlyExitError is returned by run when postgres exits before it accepted a
// connection. It carries the log of that attempt so that Start can tell a
// lost port race (retry) from anything else.
type earlyExitError struct {
	waitErr error
	logTail string
}

func (e *earlyExitError) Error() string {
	return fmt.Sprintf("pgcluster: postgres exited during startup (%v); server log tail:\n%s", e.waitErr, e.logTail)
}

func (e *earlyExitError) Unwrap() error { return e.waitErr }

// run starts the postmaster on port and waits until it is ready.
//
// Pdeathsig fires when the thread that forked the child exits, not the
// process. Go normally keeps threads alive, but a thread is destroyed when a
// goroutine exits while locked to it, which could be the caller's. So the
// fork happens in a dedicated goroutine locked to its thread, and that
// goroutine stays (blocked in Wait) for the whole life of the server.
func (c *Cluster) run(ctx context.Context, port int) error {
	logStart, err := c.logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("pgcluster: server log: %w", err)
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), "-D", c.dataDir)
	cmd.Dir = c.dir
	cmd.Stdout = c.logW
	cmd.Stderr = c.logW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: c.cred,
	}
	// With Options.Log the output goes through a pipe; if a backend kept it
	// open after the postmaster died, Wait must not hang on it.
	cmd.WaitDelay = 2 * time.Second

	p := &postmaster{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	c.proc, c.port = p, port

	if err := c.waitReady(ctx, p); err != nil {
		if p.exited() {
			c.proc = nil // reaped: nothing left for Stop to stop
			return &earlyExitError{waitErr: p.waitErr, logTail: c.logTail(logStart)}
		}
		return fmt.Errorf("%w; server log tail:\n%s", err, c.logTail(logStart))
	}
	return nil
}

// waitReady polls with real connections until the server answers as our
// cluster, p exits, or ctx or readyTimeout ends. A probe is cut short when p
// exits, so a failed start is reported at once.
func (c *Cluster) waitReady(ctx context.Context, p *postmaster) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := c.probe(ctx)
		if err == nil {
			return nil
		}
		if p.exited() {
			return errors.New("postgres exited")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: postgres not ready: %w (last error: %v)", ctx.Err(), err)
		case <-ticker.C:
		}
	}
}

// probe checks that the server on our port is ours, not another one that
// holds a port given in Options.Port.
func (c *Cluster) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var dataDir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		return err
	}
	if dataDir != c.dataDir {
		return fmt.Errorf("port %d is served by another server (data_directory %s)", c.port, dataDir)
	}
	return nil
}

// exec runs one statement on a fresh connection.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// logTail returns the end of the server log written since offset from.
func (c *Cluster) logTail(from int64) string {
	f, err := os.Open(c.logFile.Name())
	if err != nil {
		return fmt.Sprintf("(server log unreadable: %v)", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, 1<<40))
	if err != nil {
		return fmt.Sprintf("(server log unreadable: %v)", err)
	}
	return tail(b)
}

// tail keeps the last logTailBytes of b, starting at a line boundary.
func tail(b []byte) string {
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// chown hands paths to the server user when running as root: MkdirTemp and
// our own writes create root-owned 0700 entries the server could not use.
func (c *Cluster) chown(paths ...string) error {
	if c.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", p, err)
		}
	}
	return nil
}

// serverCredential picks the unprivileged user the server runs as when we
// are root (initdb and postgres refuse to run as root), or nil otherwise.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, errU := strconv.ParseUint(u.Uid, 10, 32)
		gid, errG := strconv.ParseUint(u.Gid, 10, 32)
		if errU != nil || errG != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New(`pgcluster: running as root, but neither user "postgres" nor "nobody" exists to run the server as`)
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process may
// take it before postgres binds it; Start retries in that case.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
