package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Prefix starts the name of every slot, publication and temp dir cdcbench
// creates, so that leftovers of a crashed run can be found and told apart
// from anything else on a shared server.
const Prefix = "cdcbench_"

// Leftover is something a crashed run left behind.
type Leftover struct {
	Kind string // "slot", "publication" or "cluster dir"
	Name string
	// Detail says why it is safe (or not) to remove.
	Detail string
	// Active leftovers are in use (a slot with a live consumer): listed,
	// never removed.
	Active bool
}

// FindLeftovers lists cdcbench slots and publications on the server at dsn
// (when dsn is not empty) and private cluster directories in the temp dir
// whose server is no longer running.
func FindLeftovers(ctx context.Context, dsn string) ([]Leftover, error) {
	out := orphanDirs()
	if dsn == "" {
		return out, nil
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return out, fmt.Errorf("clean: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT slot_name, active, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn))
		FROM pg_replication_slots WHERE slot_name LIKE 'cdcbench\_%' ORDER BY slot_name`)
	if err != nil {
		return out, fmt.Errorf("clean: list slots: %w", err)
	}
	for rows.Next() {
		var name string
		var active bool
		var retained *string
		if err := rows.Scan(&name, &active, &retained); err != nil {
			return out, fmt.Errorf("clean: list slots: %w", err)
		}
		d := "inactive"
		if active {
			d = "active: a consumer is attached"
		}
		if retained != nil {
			d += ", retaining " + *retained + " of WAL"
		}
		out = append(out, Leftover{Kind: "slot", Name: name, Detail: d, Active: active})
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("clean: list slots: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT pubname FROM pg_publication WHERE pubname LIKE 'cdcbench\_%' ORDER BY pubname`)
	if err != nil {
		return out, fmt.Errorf("clean: list publications: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return out, fmt.Errorf("clean: list publications: %w", err)
		}
		out = append(out, Leftover{Kind: "publication", Name: name, Detail: "publication of a cdcbench run"})
	}
	return out, rows.Err()
}

// RemoveLeftovers removes what FindLeftovers found, except active slots.
func RemoveLeftovers(ctx context.Context, dsn string, ls []Leftover) error {
	var conn *pgx.Conn
	var errs []error
	for _, l := range ls {
		if l.Active {
			continue
		}
		switch l.Kind {
		case "cluster dir":
			if err := os.RemoveAll(l.Name); err != nil {
				errs = append(errs, err)
			}
		case "slot", "publication":
			if conn == nil {
				c, err := pgx.Connect(ctx, dsn)
				if err != nil {
					return fmt.Errorf("clean: connect: %w", err)
				}
				defer c.Close(context.WithoutCancel(ctx))
				conn = c
			}
			sql := "SELECT pg_drop_replication_slot($1)"
			args := []any{l.Name}
			if l.Kind == "publication" {
				sql, args = "DROP PUBLICATION IF EXISTS "+pgx.Identifier{l.Name}.Sanitize(), nil
			}
			if _, err := conn.Exec(ctx, sql, args...); err != nil {
				errs = append(errs, fmt.Errorf("clean: drop %s %s: %w", l.Kind, l.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// orphanDirs finds private cluster directories whose postmaster is gone: a
// run killed with SIGKILL cannot remove its own. A directory without a
// postmaster.pid may belong to a run still in initdb, so it counts only once
// it is older than a start-up could take.
func orphanDirs() []Leftover {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "cdcbench-pg-*"))
	var out []Leftover
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid"))
		if err != nil {
			if fi, serr := os.Stat(d); serr != nil || time.Since(fi.ModTime()) < startupGrace {
				continue
			}
		} else {
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
			if alive(pid) {
				continue // its server still runs: a live run or stack up
			}
		}
		out = append(out, Leftover{Kind: "cluster dir", Name: d, Detail: "private cluster whose server is not running"})
	}
	return out
}

// startupGrace is how long a cluster directory may lack a postmaster.pid.
const startupGrace = 2 * time.Minute

// alive reports whether pid is a running process; a zombie is not.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc: trust kill
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
